"""Assert the money invariants of design section 4 on this database; exit 1 on any violation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payouts.checks import ledger_violations


class Command(BaseCommand):
    help = "Check the ledger's invariants (balance, splits, refunds, balances, uniqueness, stock)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        for violation in ledger_violations():
            count += 1
            self.stdout.write(self.style.ERROR(violation))
        if count:
            raise CommandError(f"{count} violation(s) of the ledger invariants")
        self.stdout.write(self.style.SUCCESS("ledger_check: all invariants hold"))
