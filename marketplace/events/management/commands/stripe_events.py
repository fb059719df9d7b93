"""Operate the Stripe event pipeline from the shell.

stripe_events replay evt_123 [evt_456 ...]   re-queue events by Stripe id
stripe_events replay --failed                re-queue every failed and dead event
stripe_events recover --since 2h             store events Stripe has and we missed
stripe_events recover --since 2026-11-26T10:00:00Z
stripe_events drain                          process due events now, in this process
stripe_events status                         counts per status
stripe_events endpoints                      (sandbox) register our webhook endpoints
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketplace import stripe_gateway
from marketplace.audit.origin import command_origin
from marketplace.events.models import StripeEvent
from marketplace.events.services.endpoints import (
    ENDPOINT_URL_NAMES,
    webhook_endpoints_ensure_sandbox,
)
from marketplace.events.services.processing import events_drain, events_release_expired
from marketplace.events.services.recovery import events_recover
from marketplace.events.services.replay import events_replay, events_replay_failed

_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``2h``, ``30m``, ``3d``, ``45s`` before now, or an ISO 8601 datetime (UTC if naive)."""
    now = now or timezone.now()
    match = _RELATIVE.match(value.strip().lower())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    parsed = parse_datetime(value.strip().replace(" ", "T"))
    if parsed is None:
        raise CommandError(
            f"--since {value!r}: give a duration (30m, 2h, 3d) or an ISO datetime "
            "(2026-11-26T10:00:00Z)."
        )
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if parsed > now:
        raise CommandError(f"--since {value!r} is in the future.")
    return parsed


class Command(BaseCommand):
    help = "Replay, recover and drain Stripe events."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        replay = sub.add_parser("replay", help="re-queue events for processing")
        replay.add_argument("event_ids", nargs="*", help="Stripe event ids (evt_...)")
        replay.add_argument("--failed", action="store_true", help="every failed and dead event")
        recover = sub.add_parser("recover", help="store events Stripe has and we never received")
        recover.add_argument("--since", required=True, help="2h, 30m, 3d or an ISO datetime")
        sub.add_parser("drain", help="process due events now, in this process")
        sub.add_parser("status", help="how many events per status")
        sub.add_parser("endpoints", help="(sandbox) register our webhook endpoints")

    def handle(self, *args: Any, **options: Any) -> None:
        with command_origin(f"stripe_events {options['action']}"):  # replays are audited
            getattr(self, f"_{options['action']}")(options)

    def _replay(self, options: dict[str, Any]) -> None:
        ids: list[str] = options["event_ids"]
        if options["failed"] == bool(ids):
            raise CommandError("give event ids or --failed (not both).")
        if options["failed"]:
            count = events_replay_failed()
        else:
            found = dict(
                StripeEvent.objects.filter(stripe_id__in=ids).values_list("stripe_id", "id")
            )
            missing = [i for i in ids if i not in found]
            if missing:
                raise CommandError(f"no such event: {', '.join(missing)}")
            count = events_replay(event_ids=found.values())
        self.stdout.write(self.style.SUCCESS(f"Re-queued {count} event(s)."))

    def _recover(self, options: dict[str, Any]) -> None:
        since = parse_since(options["since"])
        result = events_recover(since=since)
        self.stdout.write(
            f"Listed {result.listed} event(s) since {since.isoformat()} on the platform and "
            f"{result.accounts} connected account(s); stored {result.stored} missed."
        )
        for error in result.errors:
            self.stderr.write(f"error: {error}")
        if result.errors:
            raise CommandError(f"{len(result.errors)} listing(s) failed.")

    def _drain(self, options: dict[str, Any]) -> None:
        events_release_expired()
        result = events_drain()
        self.stdout.write(f"Processed {result.processed} event(s).")

    def _status(self, options: dict[str, Any]) -> None:
        rows = StripeEvent.objects.values("status").annotate(n=Count("id")).order_by("status")
        for row in rows:
            self.stdout.write(f"{row['status']:<12} {row['n']}")

    def _endpoints(self, options: dict[str, Any]) -> None:
        try:
            endpoints = webhook_endpoints_ensure_sandbox()
        except stripe_gateway.GatewayError as exc:
            raise CommandError(str(exc)) from None
        for endpoint in endpoints.values():
            self.stdout.write(f"{endpoint.kind:<9} {endpoint.url} ({endpoint.stripe_id})")
        for kind in sorted(set(ENDPOINT_URL_NAMES) - set(endpoints)):
            self.stdout.write(f"{kind:<9} already registered, with the secret from settings")
