"""``manage.py sandbox_listen --forward-to URL``: what ``stripe listen`` does, for the sandbox.

Registers a webhook endpoint for ``URL`` (every event, or ``--events``), and one for Connect
events with ``--forward-connect-to``, both signed with one secret it prints; then forwards every
event over HTTP to that program (the sandbox's own deliveries, retried on its schedule while
the program is down) and prints each delivery and the answer. ^C (or ``--seconds``) stops and
removes the endpoints (``--keep`` keeps them).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, transaction

from sandbox import delivery, store, versions
from sandbox.errors import StripeError
from sandbox.ids import new_id
from sandbox.models import Delivery, SandboxObject
from sandbox.resources.webhook_endpoints import endpoint_create


class Command(BaseCommand):
    help = "Forward the sandbox's events to a URL (like `stripe listen --forward-to`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--forward-to", required=True, help="URL of your webhook handler")
        parser.add_argument(
            "--forward-connect-to", default="", help="URL for Connect events (default: none)"
        )
        parser.add_argument(
            "--events", default="*", help="comma-separated event types (default: all)"
        )
        parser.add_argument("--seconds", type=float, default=0, help="stop after N seconds")
        parser.add_argument("--poll", type=float, default=0.25, help="poll interval (s)")
        parser.add_argument("--keep", action="store_true", help="keep the endpoints on exit")

    def handle(self, *args: Any, **options: Any) -> None:
        events = [e.strip() for e in options["events"].split(",") if e.strip()] or ["*"]
        secret = new_id("whsec", 32)
        endpoints: list[str] = []
        try:
            with transaction.atomic():
                for url, connect in (
                    (options["forward_to"], False),
                    (options["forward_connect_to"], True),
                ):
                    if url:
                        endpoint = endpoint_create(
                            url=url,
                            enabled_events=events,
                            connect=connect,
                            description="sandbox_listen",
                            secret=secret,
                        )
                        endpoints.append(endpoint["id"])
        except StripeError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"> Ready! You are using Stripe API Version [{versions.CURRENT}]. Your webhook "
            f"signing secret is {secret} (^C to quit)"
        )
        self.stdout.flush()
        try:
            self._loop(endpoints, options)
        except KeyboardInterrupt:
            pass
        finally:
            if not options["keep"]:
                with transaction.atomic():
                    for endpoint_id in endpoints:
                        store.mark_deleted(endpoint_id, object_type="webhook_endpoint")

    def _loop(self, endpoints: list[str], options: dict[str, Any]) -> None:
        deadline = time.monotonic() + options["seconds"] if options["seconds"] else None
        printed: dict[int, int] = {}  # delivery -> finished attempts printed
        while deadline is None or time.monotonic() < deadline:
            # the database may be busy (another process delivering): then the next poll
            with contextlib.suppress(OperationalError):
                self._poll(endpoints, printed)
            time.sleep(options["poll"])

    def _poll(self, endpoints: list[str], printed: dict[int, int]) -> None:
        mine = set(
            Delivery.objects.filter(
                endpoint_id__in=endpoints, status=Delivery.Status.PENDING
            ).values_list("pk", flat=True)
        )
        for pk in delivery.due_ids():
            if pk in mine:
                delivery.attempt(pk)
        for item in Delivery.objects.filter(endpoint_id__in=endpoints).order_by("id"):
            if item.pk not in printed:
                printed[item.pk] = 0
                event = SandboxObject.objects.filter(pk=item.event_id).first()
                event_type = event.data.get("type") if event else "?"
                self._line(f"  --> {event_type} [{item.event_id}]")
            # an attempt is finished once its answer is in the history
            for entry in item.history[printed[item.pk] :]:
                endpoint = SandboxObject.objects.filter(pk=item.endpoint_id).first()
                url = endpoint.data.get("url") if endpoint else "?"
                answer = entry.get("status") or f"error: {str(entry.get('error'))[:80]}"
                retry = (
                    f" (retry at sandbox time {item.next_attempt_at})"
                    if entry is item.history[-1]
                    and item.status == Delivery.Status.PENDING
                    and item.next_attempt_at
                    else ""
                )
                self._line(f" <--  [{answer}] POST {url} [{item.event_id}]{retry}")
            printed[item.pk] = len(item.history)

    def _line(self, text: str) -> None:
        self.stdout.write(f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M:%S} {text}")
        self.stdout.flush()
