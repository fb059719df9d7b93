"""The handlers called with a StripeEvent as the events pipeline calls them."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handler_for
from sellers import handlers, selectors
from sellers.models import Seller
from tests.sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


_counter = itertools.count(1)


def make_event(event_type, account, obj, created=None):
    n = [next(_counter)]
    created = created or timezone.now()
    return StripeEvent.objects.create(
        stripe_id=f"evt_test_{n[0]}",
        type=event_type,
        account=account,
        created=created,
        payload={
            "id": f"evt_test_{n[0]}",
            "object": "event",
            "type": event_type,
            "account": account,
            "created": int(created.timestamp()),
            "data": {"object": obj},
        },
        source=StripeEvent.Source.CONNECT,
    )


def test_handlers_are_registered():
    assert handler_for("account.updated") is handlers.on_account_updated
    assert handler_for("account.application.deauthorized") is handlers.on_account_deauthorized


def test_missed_event_recovery_polls_connected_sellers():
    from marketplace.events.registry import account_providers

    connected = SellerFactory()
    SellerFactory(stripe_account_id=None)
    SellerFactory(status=Seller.Status.DISCONNECTED)
    assert handlers.connected_seller_accounts in account_providers()
    assert handlers.connected_seller_accounts() == [connected.stripe_account_id]


def test_account_updated_enables_charges_from_a_fresh_read(fake_stripe):
    seller = SellerFactory(charges_enabled=False, details_submitted=False)
    fake_stripe.add(seller.stripe_account_id)
    # The payload is stale (says nothing enabled): the handler trusts the re-read instead.
    event = make_event(
        "account.updated",
        seller.stripe_account_id,
        {"id": seller.stripe_account_id, "object": "account", "charges_enabled": False},
    )
    handlers.on_account_updated(event)
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted
    assert seller.account_synced_at == event.created


def test_account_updated_out_of_order_does_not_go_back(fake_stripe):
    seller = SellerFactory()
    fake_stripe.add(seller.stripe_account_id)
    newer = make_event(
        "account.updated", seller.stripe_account_id, {"id": seller.stripe_account_id}
    )
    handlers.on_account_updated(newer)
    older = make_event(
        "account.updated",
        seller.stripe_account_id,
        {"id": seller.stripe_account_id},
        created=newer.created - timedelta(minutes=5),
    )
    calls = fake_stripe.count("account_retrieve")
    handlers.on_account_updated(older)
    assert fake_stripe.count("account_retrieve") == calls
    seller.refresh_from_db()
    assert seller.account_synced_at == newer.created


def test_account_updated_restriction_makes_listings_unavailable(fake_stripe):
    listing = ListingFactory()
    seller = listing.seller
    fake_stripe.add(
        seller.stripe_account_id,
        charges_enabled=False,
        requirements={
            "currently_due": ["individual.verification.document"],
            "past_due": ["individual.verification.document"],
            "eventually_due": [],
            "disabled_reason": "requirements.past_due",
        },
    )
    handlers.on_account_updated(
        make_event("account.updated", seller.stripe_account_id, {"id": seller.stripe_account_id})
    )
    assert listing not in selectors.purchasable_listings()
    listing.refresh_from_db()
    assert selectors.listing_unavailable_reason(listing) == "Temporarily unavailable"


def test_deauthorized_disconnects_hides_and_notifies(
    settings, fake_stripe, django_capture_on_commit_callbacks
):
    settings.ADMINS = ["ops@example.com"]
    listing = ListingFactory()
    seller = listing.seller
    event = make_event(
        "account.application.deauthorized",
        seller.stripe_account_id,
        {"id": "ca_platform", "object": "application", "name": "Marketplace"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        handlers.on_account_deauthorized(event)
    seller.refresh_from_db()
    assert seller.status == Seller.Status.DISCONNECTED and seller.needs_attention
    assert listing not in selectors.public_listings()
    assert len(mail.outbox) == 1 and "disconnected" in mail.outbox[0].subject
    # A later account.updated for it is ignored (we can no longer read the account).
    handlers.on_account_updated(
        make_event("account.updated", seller.stripe_account_id, {"id": seller.stripe_account_id})
    )
    assert fake_stripe.count("account_retrieve") == 0


def test_signed_connect_event_through_the_real_intake_and_pipeline(
    client, settings, fake_stripe, eager_tasks
):
    from marketplace.events import services as event_services
    from tests.events.signing import CONNECT_SECRET, body_of, sign
    from tests.events.signing import make_event as stripe_event

    settings.STRIPE_SANDBOX = False
    settings.STRIPE_MODE = "test"
    settings.STRIPE_CONNECT_WEBHOOK_SECRETS = [CONNECT_SECRET]
    event_services.sandbox_secrets_forget()
    seller = SellerFactory(charges_enabled=False, details_submitted=False)
    fake_stripe.add(seller.stripe_account_id)
    body = body_of(
        stripe_event(
            "account.updated",
            account=seller.stripe_account_id,
            obj={"id": seller.stripe_account_id, "object": "account", "charges_enabled": True},
        )
    )
    response = client.post(
        "/stripe/webhook/connect/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, CONNECT_SECRET),
    )
    assert response.status_code == 200
    event_services.events_drain()
    stored = StripeEvent.objects.get(account=seller.stripe_account_id)
    assert stored.status == StripeEvent.Status.SUCCEEDED
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted
    # A forged signature is refused and changes nothing.
    forged = client.post(
        "/stripe/webhook/connect/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, "whsec_wrong"),
    )
    assert forged.status_code == 400
    event_services.sandbox_secrets_forget()


def _account_object(account_id, **state):
    """An account as Stripe sends it in ``account.updated``: status and requirements stated."""
    return {
        "id": account_id,
        "object": "account",
        "charges_enabled": state.get("charges_enabled", True),
        "payouts_enabled": state.get("payouts_enabled", True),
        "details_submitted": True,
        "requirements": {
            "currently_due": state.get("currently_due", []),
            "past_due": [],
            "eventually_due": [],
            "current_deadline": None,
            "disabled_reason": None,
        },
    }


def test_account_updated_applies_a_complete_newer_payload_without_a_read(fake_stripe):
    seller = SellerFactory(charges_enabled=True, payouts_enabled=True)
    fake_stripe.add(seller.stripe_account_id)
    event = make_event(
        "account.updated",
        seller.stripe_account_id,
        _account_object(
            seller.stripe_account_id, payouts_enabled=False, currently_due=["external_account"]
        ),
    )
    handlers.on_account_updated(event)
    assert fake_stripe.count("account_retrieve") == 0
    seller.refresh_from_db()
    assert not seller.payouts_enabled and seller.requirements_currently_due == ["external_account"]
    assert seller.account_synced_at == event.created
    # An older complete payload arriving later changes nothing and reads nothing.
    older = make_event(
        "account.updated",
        seller.stripe_account_id,
        _account_object(seller.stripe_account_id),
        created=event.created - timedelta(seconds=5),
    )
    handlers.on_account_updated(older)
    assert fake_stripe.count("account_retrieve") == 0
    seller.refresh_from_db()
    assert not seller.payouts_enabled


def test_account_updated_of_the_same_second_as_the_applied_one_reads_the_account(fake_stripe):
    """Two snapshots of one second cannot be ordered: the account as Stripe has it now wins."""
    seller = SellerFactory(charges_enabled=True)
    fake_stripe.add(seller.stripe_account_id, charges_enabled=True)
    first = make_event(
        "account.updated",
        seller.stripe_account_id,
        _account_object(seller.stripe_account_id, charges_enabled=True),
    )
    handlers.on_account_updated(first)
    same_second = make_event(
        "account.updated",
        seller.stripe_account_id,
        _account_object(seller.stripe_account_id, charges_enabled=False),
        created=first.created,
    )
    handlers.on_account_updated(same_second)
    assert fake_stripe.count("account_retrieve") == 1
    seller.refresh_from_db()
    assert seller.charges_enabled  # Stripe's current state, not the same-second payload


def test_account_updated_older_than_our_last_read_reads_the_account(fake_stripe):
    seller = SellerFactory(charges_enabled=True, account_refreshed_at=timezone.now())
    fake_stripe.add(seller.stripe_account_id, charges_enabled=True)
    event = make_event(
        "account.updated",
        seller.stripe_account_id,
        _account_object(seller.stripe_account_id, charges_enabled=False),
        created=timezone.now() - timedelta(minutes=1),
    )
    handlers.on_account_updated(event)
    assert fake_stripe.count("account_retrieve") == 1
    seller.refresh_from_db()
    assert seller.charges_enabled


def test_account_updated_reads_the_seller_once_and_writes_only_what_changed(fake_stripe):
    """Two statements (the locked read, compiled once; one UPDATE of the changed columns), and
    a column the event does not change keeps a value written meanwhile elsewhere."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seller = SellerFactory(charges_enabled=True, payouts_enabled=True, details_submitted=True)
    other = SellerFactory()
    fake_stripe.add(seller.stripe_account_id)
    for n, (target, payouts) in enumerate([(seller, False), (other, True), (seller, True)]):
        event = make_event(
            "account.updated",
            target.stripe_account_id,
            _account_object(target.stripe_account_id, payouts_enabled=payouts),
            created=timezone.now() + timedelta(seconds=n),
        )
        Seller.objects.filter(pk=target.pk).update(display_name=f"Renamed {n}")
        with CaptureQueriesContext(connection) as queries:
            handlers.on_account_updated(event)
        assert len(queries) == 2
        locks = connection.features.has_select_for_update  # SQLite locks the whole database
        assert ("FOR UPDATE" in queries[0]["sql"]) is locks
        assert queries[1]["sql"].startswith("UPDATE")
        assert "display_name" not in queries[1]["sql"]
        target.refresh_from_db()
        assert target.payouts_enabled is payouts and target.display_name == f"Renamed {n}"
        assert target.account_synced_at == event.created
    assert fake_stripe.count("account_retrieve") == 0
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted
