"""Enrolling a staff member's second factor outside the browser: the first admin of a new
install (``manage.py staff_enrol``) and the demo's admin (``make demo``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.db import transaction

from marketplace.errors import UserFacingError


@dataclass(frozen=True)
class StaffEnrolment:
    user: Any
    created: bool
    password: str | None  # set only when the account was created here
    totp_secret: str
    otpauth_uri: str
    recovery_codes: list[str]


def _totp_secret_of(user: Any) -> str | None:
    auth = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if auth is None:
        return None
    return str(get_mfa_adapter().decrypt(auth.data["secret"]))


def staff_enrol(
    *, email: str, superuser: bool = True, replace: bool = False, password: str | None = None
) -> StaffEnrolment:
    """Create or promote the staff account of ``email`` and give it an authenticator app (TOTP)
    secret and recovery codes; returns them so the caller can show them once.

    A new account gets ``password`` or a random one (returned). The email address is marked
    verified (allauth requires it for two-factor). An account that already has TOTP keeps it
    unless ``replace``: then the old secret and recovery codes stop working. Atomic.
    """
    email = email.strip().lower()
    if "@" not in email or "\x00" in email:
        raise UserFacingError(f"{email!r} is not an email address.", field="email")
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        created = user is None
        new_password = None
        if user is None:
            new_password = password or secrets.token_urlsafe(18)
            user = User(email=email, username=email[:150])
            user.set_password(new_password)
        user.is_staff = True
        user.is_active = True
        if superuser:
            user.is_superuser = True
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        if _totp_secret_of(user) is not None:
            if not replace:
                raise UserFacingError(
                    f"{email} already has an authenticator app; pass --replace to issue a new "
                    "secret (the old one and its recovery codes stop working)."
                )
            Authenticator.objects.filter(
                user=user,
                type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES],
            ).delete()
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
        codes = RecoveryCodes.activate(user).get_unused_codes()
    return StaffEnrolment(
        user=user,
        created=created,
        password=new_password,
        totp_secret=secret,
        otpauth_uri=get_mfa_adapter().build_totp_url(user, secret),
        recovery_codes=codes,
    )


def seed_admin_second_factor(stdout: Any, *, email: str = "admin@example.com") -> None:
    """demo_seed: give the demo admin an authenticator app secret (kept across runs) and print
    how to sign in with it: the secret for an app, or a single-use recovery code. Staff pages
    and the admin ask for one of them after the password."""
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return
    secret = _totp_secret_of(user)
    if secret is None:
        enrolment = staff_enrol(email=email, superuser=user.is_superuser)
        secret = enrolment.totp_secret
    codes = RecoveryCodes.activate(user).get_unused_codes()
    stdout.write(f"The admin ({email}) signs in with the password, then a code:")
    stdout.write(f"  authenticator app secret: {secret}")
    stdout.write(f"  or add this to the app:   {get_mfa_adapter().build_totp_url(user, secret)}")
    if codes:
        stdout.write(f"  or a recovery code (each works once): {', '.join(codes[:3])}")
