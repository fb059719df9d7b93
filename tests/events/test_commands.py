"""``stripe_events`` management command: replay, recover windows, drain, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketplace import stripe_gateway
from marketplace.events.management.commands.stripe_events import parse_since
from marketplace.events.models import StripeEvent
from tests.events.signing import make_event

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("stripe_events", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_replay_one_event_by_stripe_id(post_event, handlers):
    calls = []
    handlers["account.updated"] = lambda event: calls.append(event.stripe_id)
    post_event(make_event(stripe_id="evt_a"))
    post_event(make_event(stripe_id="evt_b"))
    StripeEvent.objects.update(status="dead", attempts=8)
    assert "Re-queued 1 event(s)." in run("replay", "evt_a")
    assert dict(StripeEvent.objects.values_list("stripe_id", "status")) == {
        "evt_a": "received",
        "evt_b": "dead",
    }
    assert "Processed 1 event(s)." in run("drain")
    assert calls == ["evt_a"]


def test_replay_failed_requeues_failed_and_dead(post_event, handlers):
    for stripe_id, status in [("evt_f", "failed"), ("evt_d", "dead"), ("evt_s", "succeeded")]:
        post_event(make_event(stripe_id=stripe_id))
        StripeEvent.objects.filter(stripe_id=stripe_id).update(status=status, attempts=3)
    assert "Re-queued 2 event(s)." in run("replay", "--failed")
    assert StripeEvent.objects.get(stripe_id="evt_s").status == "succeeded"
    assert set(
        StripeEvent.objects.filter(status="received").values_list("stripe_id", flat=True)
    ) == {
        "evt_f",
        "evt_d",
    }


def test_replay_refuses_unknown_ids_and_bad_arguments(post_event):
    with pytest.raises(CommandError, match="no such event: evt_nope"):
        run("replay", "evt_nope")
    with pytest.raises(CommandError, match="event ids or --failed"):
        run("replay")


def test_status_counts(post_event):
    post_event(make_event())
    assert "received     1" in run("status")


def test_parse_since():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now=now) == now - timedelta(hours=2)
    assert parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert parse_since("3d", now=now) == now - timedelta(days=3)
    assert parse_since("2026-11-27T10:00:00Z", now=now) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert parse_since("2026-11-27 10:00", now=now) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    with pytest.raises(CommandError, match="give a duration"):
        parse_since("yesterday", now=now)
    with pytest.raises(CommandError, match="in the future"):
        parse_since("2026-11-28T10:00:00Z", now=now)


def test_recover_with_a_window_stores_only_missed_events(
    post_event, fake_stripe, no_account_providers
):
    """Against the in-memory Stripe's events list (the sandbox test covers the real listing)."""
    received = make_event(stripe_id="evt_received")
    post_event(received)
    missed = make_event(stripe_id="evt_missed", created=int(datetime.now(UTC).timestamp()) - 3600)
    fake_stripe.events[""] = [received, missed]
    fake_stripe.add("acct_X")
    output = run("recover", "--since", "2h")
    assert "stored 1 missed" in output
    calls = fake_stripe.calls_of("event_list")
    assert [c["account"] for c in calls] == [None, "acct_X"]
    assert abs(calls[0]["created_gte"] - (datetime.now(UTC) - timedelta(hours=2)).timestamp()) < 5
    stored = StripeEvent.objects.get(stripe_id="evt_missed")
    assert stored.source == "recovered"
    assert stored.status == "received"
    assert stored.payload == missed


def test_recover_reports_failed_listings(fake_stripe, no_account_providers):
    fake_stripe.fail["event_list"] = stripe_gateway.GatewayError(
        "Stripe is not reachable right now"
    )
    with pytest.raises(CommandError, match="1 listing"):
        run("recover", "--since", "1h")
