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
