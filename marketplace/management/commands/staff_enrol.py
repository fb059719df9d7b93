"""Create or promote a staff account with two-factor authentication (the first admin)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.errors import UserFacingError
from marketplace.staff_enrolment import staff_enrol


class Command(BaseCommand):
    help = (
        "Create or promote a staff account and enrol an authenticator app: prints the TOTP "
        "secret, its otpauth:// URI and the recovery codes once. Staff pages and the admin "
        "need this second factor."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--no-superuser",
            action="store_true",
            help="staff without every permission (the default makes a superuser)",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="issue a new secret to an account that already has one",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            enrolment = staff_enrol(
                email=options["email"],
                superuser=not options["no_superuser"],
                replace=options["replace"],
            )
        except UserFacingError as exc:
            raise CommandError(exc.message) from None
        user = enrolment.user
        verb = "Created" if enrolment.created else "Promoted"
        self.stdout.write(self.style.SUCCESS(f"{verb} staff account {user.email}."))
        if enrolment.password:
            self.stdout.write(f"Password (change it after signing in): {enrolment.password}")
        self.stdout.write("Authenticator app (shown once; keep it secret):")
        self.stdout.write(f"  secret: {enrolment.totp_secret}")
        self.stdout.write(f"  URI:    {enrolment.otpauth_uri}")
        self.stdout.write("Recovery codes (each works once; store them offline):")
        for code in enrolment.recovery_codes:
            self.stdout.write(f"  {code}")
