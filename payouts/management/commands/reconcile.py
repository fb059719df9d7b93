"""Reconcile Stripe's balance transactions with the ledger over a date range (UTC days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.audit.origin import command_origin
from marketplace.audit.services import Action, audit_record
from payouts.reconciliation import day_bounds, reconcile


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Report Stripe movements without ledger entries and ledger entries without Stripe."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="start", help="first day, YYYY-MM-DD (default: yesterday)"
        )
        parser.add_argument(
            "--to", dest="end", help="last day included, YYYY-MM-DD (default: --from)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = datetime.now(UTC).date()
        start = _day(options["start"]) if options.get("start") else today - timedelta(days=1)
        end = _day(options["end"]) if options.get("end") else start
        if end < start:
            raise CommandError("--to is before --from")
        with command_origin("reconcile"):
            run_start, run_end = day_bounds(start, end)
            run = reconcile(start=run_start, end=run_end)
            audit_record(
                action=Action.RECONCILIATION_RUN,
                target=run,
                summary=f"Reconciliation run from the command line: {run.status}",
                after={
                    "start_day": start.isoformat(),
                    "end_day": end.isoformat(),
                    "status": run.status,
                    "missing_in_ledger": run.missing_in_ledger,
                    "missing_in_stripe": run.missing_in_stripe,
                    "amount_mismatches": run.amount_mismatches,
                },
            )
        for line in run.issues:
            self.stdout.write(self.style.ERROR(line))
        summary = (
            f"{run.stripe_transactions} Stripe balance transactions, "
            f"{run.missing_in_ledger} without ledger entries, "
            f"{run.missing_in_stripe} ledger entries without Stripe movement, "
            f"{run.amount_mismatches} with amounts that differ"
        )
        if run.status == run.Status.FAILED:
            raise CommandError(f"reconciliation failed: {run.error}")
        if run.status == run.Status.MISMATCHES:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(f"reconciled: {summary}"))
