"""The gateway's webhook signature check, the handlers' helpers, the beat schedule, demo_seed."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
import stripe
from django.conf import settings

from marketplace import stripe_gateway
from marketplace.events import services
from marketplace.events.handling import event_current_object, event_is_stale
from marketplace.events.models import StripeEvent
from tests.events.signing import make_event, sign

BODY = b'{"id":"evt_1","object":"event"}'
T = 1_800_000_000


def verify(header, secrets=("whsec_a",), now=T):
    return stripe_gateway.webhook_verify_signature(
        payload=BODY, sig_header=header, secrets=list(secrets), now=now
    )


def test_verify_accepts_stripe_sdk_signatures():
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), "whsec_a", T)
    verify(header)
    assert stripe_gateway.webhook_sign(payload=BODY, secret="whsec_a", timestamp=T) == header


@pytest.mark.parametrize(
    ("header", "secrets", "now", "message"),
    [
        ("", ("whsec_a",), T, "missing Stripe-Signature header"),
        (sign(BODY, "whsec_a", timestamp=T), (), T, "no webhook signing secret"),
        ("t=abc,v1=00", ("whsec_a",), T, "malformed Stripe-Signature timestamp"),
        ("v1=00", ("whsec_a",), T, "no timestamp"),
        (f"t={T},v0=00", ("whsec_a",), T, "no v1 signature"),
        (sign(BODY, "whsec_b", timestamp=T), ("whsec_a",), T, "does not match"),
        (sign(BODY, "whsec_a", timestamp=T), ("whsec_a",), T + 301, "tolerance"),
        (sign(BODY, "whsec_a", timestamp=T), ("whsec_a",), T - 301, "tolerance"),
    ],
)
def test_verify_refuses_with_a_one_line_reason(header, secrets, now, message):
    with pytest.raises(stripe_gateway.WebhookSignatureError, match=message) as info:
        verify(header, secrets, now)
    assert "\n" not in str(info.value)


def test_verify_checks_the_exact_body():
    header = sign(BODY, "whsec_a", timestamp=T)
    with pytest.raises(stripe_gateway.WebhookSignatureError):
        stripe_gateway.webhook_verify_signature(
            payload=BODY + b" ", sig_header=header, secrets=["whsec_a"], now=T
        )


def test_verify_accepts_any_listed_secret():
    """While a secret is rotated both are listed: a delivery signed with either is accepted
    (no error), one signed with a secret no longer listed is refused."""
    for secret in ("whsec_a", "whsec_b"):
        assert verify(sign(BODY, secret, timestamp=T), secrets=("whsec_a", "whsec_b")) is None
    with pytest.raises(stripe_gateway.WebhookSignatureError, match="does not match"):
        verify(sign(BODY, "whsec_old", timestamp=T), secrets=("whsec_a", "whsec_b"))


def test_event_is_stale_compares_created():
    event = StripeEvent(created=datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC))
    assert not event_is_stale(event=event, applied_at=None)
    assert not event_is_stale(event=event, applied_at=datetime(2026, 1, 1, 11, tzinfo=UTC))
    assert not event_is_stale(event=event, applied_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert event_is_stale(event=event, applied_at=datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC))


def test_event_current_object_refetches_on_the_connected_account(fake_stripe):
    fake_stripe.add("acct_9", charges_enabled=True)
    fake_stripe.payouts["po_1"] = {"id": "po_1", "object": "payout", "status": "paid"}
    payload = make_event(account="acct_9", obj={"id": "acct_9", "object": "account"})
    event = StripeEvent(payload=payload, account="acct_9", stripe_id=payload["id"])
    assert event_current_object(event)["charges_enabled"] is True
    calls = fake_stripe.calls_of("object_retrieve")
    assert calls == [{"object_type": "account", "object_id": "acct_9", "stripe_account": "acct_9"}]

    platform = StripeEvent(payload=make_event(obj={"id": "po_1", "object": "payout"}))
    assert event_current_object(platform)["status"] == "paid"
    assert fake_stripe.calls_of("object_retrieve")[-1]["stripe_account"] is None
    with pytest.raises(stripe_gateway.GatewayError, match=r"no data\.object id"):
        event_current_object(StripeEvent(payload={"data": {}}, stripe_id="evt_x"))


def test_object_retrieve_refuses_unknown_object_types():
    with pytest.raises(stripe_gateway.GatewayError, match="cannot re-fetch"):
        stripe_gateway.object_retrieve(object_type="spaceship", object_id="x")


def test_beat_schedule_names_registered_tasks():
    from django.apps import apps

    from marketplace.celery import app

    app.loader.autodiscover_tasks([config.name for config in apps.get_app_configs()])
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
    assert {"events-drain", "events-retry-due", "events-recover-missed"} <= set(
        settings.CELERY_BEAT_SCHEDULE
    )


@pytest.mark.django_db
def test_demo_seed_says_when_the_sandbox_cannot_register_endpoints(settings, monkeypatch):
    from django.core.management import call_command

    settings.STRIPE_SANDBOX = True

    def unavailable(**kwargs):
        raise stripe_gateway.GatewayError("The Stripe sandbox is not available yet.")

    monkeypatch.setattr(services, "webhook_endpoints_ensure_sandbox", unavailable)
    out = StringIO()
    call_command("demo_seed", stdout=out)
    assert "Webhook endpoints not registered with the sandbox" in out.getvalue()
