"""Webhook intake: signature, storage exactly once, bad input, modes, CSRF, broker down."""

from __future__ import annotations

import logging

import pytest
import stripe
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from marketplace import stripe_gateway
from marketplace.events import services
from marketplace.events.models import StripeEvent
from marketplace.events.services import endpoints, wakeup
from tests.events.conftest import CONNECT_URL, WEBHOOK_URL, now
from tests.events.signing import CONNECT_SECRET, PLATFORM_SECRET, body_of, make_event, sign

pytestmark = pytest.mark.django_db


def test_signed_delivery_is_stored_as_received(post_event):
    event = make_event("account.updated", account="acct_123")
    response = post_event(event, url=CONNECT_URL)
    assert response.status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.type == "account.updated"
    assert stored.account == "acct_123"
    assert stored.source == StripeEvent.Source.CONNECT
    assert stored.status == StripeEvent.Status.RECEIVED
    assert stored.payload == event
    assert int(stored.created.timestamp()) == event["created"]
    assert stored.api_version == event["api_version"]


def test_platform_endpoint_stores_source_platform(post_event):
    event = make_event("payout.paid")
    assert post_event(event).status_code == 200
    assert StripeEvent.objects.get(stripe_id=event["id"]).source == StripeEvent.Source.PLATFORM


def test_our_signer_matches_the_sdk(post_event):
    """The tests' signer and Stripe's own SDK produce interchangeable headers."""
    event = make_event()
    body = body_of(event)
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), PLATFORM_SECRET)
    assert post_event(body=body, header=header).status_code == 200
    t = int(header.split(",")[0][2:])
    assert sign(body, PLATFORM_SECRET, timestamp=t) == header


def test_intake_is_one_query_and_no_stripe_call(post_event, monkeypatch):
    def no_stripe(*args, **kwargs):
        raise AssertionError("intake must not call Stripe")

    monkeypatch.setattr(stripe_gateway, "client", no_stripe)
    event = make_event()
    with CaptureQueriesContext(connection) as queries:
        assert post_event(event).status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_duplicate_delivery_answers_200_and_stores_nothing_new(post_event):
    event = make_event()
    first = post_event(event)
    second = post_event(event)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == b"duplicate\n"
    assert StripeEvent.objects.filter(stripe_id=event["id"]).count() == 1


def test_duplicate_does_not_reset_a_processed_event(post_event):
    event = make_event()
    post_event(event)
    StripeEvent.objects.filter(stripe_id=event["id"]).update(status="succeeded", attempts=1)
    assert post_event(event).status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert (stored.status, stored.attempts) == ("succeeded", 1)


def test_secret_rotation_accepts_old_and_new_secret(post_event, settings):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new_secret", PLATFORM_SECRET]
    old, new = make_event(), make_event()
    assert post_event(old, secret=PLATFORM_SECRET).status_code == 200
    assert post_event(new, secret="whsec_new_secret").status_code == 200
    assert post_event(make_event(), secret="whsec_other").status_code == 400
    assert StripeEvent.objects.count() == 2


def test_header_with_several_signatures_matches_any(post_event):
    event = make_event()
    body = body_of(event)
    t = now()
    good = sign(body, PLATFORM_SECRET, timestamp=t).split("v1=")[1]
    bad = sign(body, "whsec_retired", timestamp=t).split("v1=")[1]
    assert post_event(body=body, header=f"t={t},v1={bad},v1={good}").status_code == 200


def test_connect_and_platform_secrets_are_not_interchangeable(post_event):
    event = make_event(account="acct_1")
    assert post_event(event, url=CONNECT_URL, secret=PLATFORM_SECRET).status_code == 400
    assert post_event(event, url=WEBHOOK_URL, secret=CONNECT_SECRET).status_code == 400
    assert not StripeEvent.objects.exists()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no header", b"missing Stripe-Signature header"),
        ("bad signature", b"signature does not match"),
        ("garbage header", b"no timestamp"),
        ("stale timestamp", b"timestamp outside the 300-second tolerance"),
        ("future timestamp", b"timestamp outside the 300-second tolerance"),
        ("not json", b"body is not JSON"),
        ("json but not an event", b"not a Stripe event"),
        ("event without id", b"no valid id"),
        ("too large", b"body larger than"),
    ],
)
def test_bad_input_is_400_with_one_line_nothing_stored_one_warning(
    case, reason, post_event, caplog
):
    event = make_event()
    body = body_of(event)
    kwargs: dict = {"body": body}
    if case == "no header":
        kwargs["header"] = ""
    elif case == "bad signature":
        kwargs["secret"] = "whsec_wrong"
    elif case == "garbage header":
        kwargs["header"] = "v1=abc"
    elif case == "stale timestamp":
        kwargs["timestamp"] = now() - 310
    elif case == "future timestamp":
        kwargs["timestamp"] = now() + 330  # margin: the check runs a moment later
    elif case == "not json":
        kwargs["body"] = b"{not json"
    elif case == "json but not an event":
        kwargs["body"] = b"[1, 2, 3]"
    elif case == "event without id":
        kwargs["body"] = body_of({k: v for k, v in event.items() if k != "id"})
    elif case == "too large":
        event["data"]["object"]["padding"] = "x" * (services.MAX_BODY_BYTES + 1)
        kwargs["body"] = body_of(event)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = post_event(**kwargs)
    assert response.status_code == 400
    assert reason in response.content
    assert response.content.count(b"\n") == 1  # one line
    assert not StripeEvent.objects.exists()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING


def test_timestamp_inside_tolerance_is_accepted(post_event):
    assert post_event(make_event(), timestamp=now() - 290).status_code == 200


def test_get_is_405(client):
    assert client.get(WEBHOOK_URL).status_code == 405
    assert client.get(CONNECT_URL).status_code == 405
    assert client.put(WEBHOOK_URL, data=b"{}").status_code == 405


def test_webhook_needs_no_csrf_token_but_other_posts_still_do(post_event):
    strict = Client(enforce_csrf_checks=True)
    event = make_event()
    body = body_of(event)
    response = strict.post(
        WEBHOOK_URL,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, PLATFORM_SECRET),
    )
    assert response.status_code == 200
    user = get_user_model().objects.create_user("csrf", "csrf@example.com", "pw-123456789")
    strict.force_login(user)
    # Any other POST in the site (logout, admin, allauth) still needs the token.
    assert strict.post("/accounts/logout/").status_code == 403
    assert strict.post("/admin/logout/").status_code == 403


def test_test_mode_event_on_live_endpoint_is_stored_and_ignored(post_event, settings):
    settings.STRIPE_MODE = "live"
    event = make_event(livemode=False)
    response = post_event(event)
    assert response.status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == StripeEvent.Status.IGNORED
    assert "test-mode event" in stored.ignored_reason


def test_live_event_on_test_mode_endpoint_is_stored_and_ignored(post_event, handlers):
    called = []
    handlers["account.updated"] = called.append
    event = make_event(livemode=True)
    assert post_event(event).status_code == 200
    stored = StripeEvent.objects.get(stripe_id=event["id"])
    assert stored.status == StripeEvent.Status.IGNORED
    services.events_drain()
    assert called == []


def test_sandbox_mode_expects_test_mode_events(post_event, settings):
    settings.STRIPE_SANDBOX = True
    settings.STRIPE_MODE = "sandbox"
    endpoints._sandbox_cache.update(secrets={}, loaded_at=1e18, ensure_failed_at=1e18)
    live, test = make_event(livemode=True), make_event(livemode=False)
    post_event(live)
    post_event(test)
    assert StripeEvent.objects.get(stripe_id=live["id"]).status == "ignored"
    assert StripeEvent.objects.get(stripe_id=test["id"]).status == "received"


def test_cache_down_intake_still_stores_and_answers_200(
    post_event, settings, caplog, django_capture_on_commit_callbacks
):
    """Redis (debounce key and broker) at a closed port: stored, 200, one warning."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    wakeup._last_wake_warning["at"] = 0.0
    event = make_event()
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        response = post_event(event)
    assert response.status_code == 200
    assert StripeEvent.objects.get(stripe_id=event["id"]).status == "received"
    assert any("could not wake" in r.getMessage() for r in caplog.records)


def test_broker_down_intake_still_stores_and_answers_200(
    post_event, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from marketplace.events import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:9. Connection refused.")

    monkeypatch.setattr(tasks.drain_events, "apply_async", broker_down)
    event = make_event()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(event)
    assert response.status_code == 200
    assert StripeEvent.objects.get(stripe_id=event["id"]).status == "received"
    # When the broker is back, the periodic drain processes what waited.
    assert services.events_drain().processed == 1


def test_wake_up_is_debounced_to_one_message_per_window(
    post_event, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from marketplace.events import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()  # locmem caches share storage across instances; start without a wake key
    sent = []
    monkeypatch.setattr(tasks.drain_events, "apply_async", lambda *a, **k: sent.append(1))
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            assert post_event(make_event()).status_code == 200
    assert len(sent) == 1
    # The drain clears the key before looking for work: the next event wakes again (once this
    # process's own short window has passed; the drain lingers that long for such events).
    services.wake_key_clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_event(make_event())
    assert len(sent) == 1
    wakeup._local_wake["at"] -= wakeup.LOCAL_WAKE_WINDOW_SECONDS
    with django_capture_on_commit_callbacks(execute=True):
        post_event(make_event())
    assert len(sent) == 2
