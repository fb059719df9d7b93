"""The seller flow against the real sandbox and the real event pipeline: account creation, the
hosted onboarding page, ``account.updated`` delivered signed to our Connect endpoint, processed by
the handler, then publishing. No fake at the gateway here."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from marketplace.events.services import webhook_endpoints_ensure_sandbox
from marketplace.money import Money
from sellers import selectors, services
from sellers.models import Listing, Seller
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

START = {
    "display_name": "Ana's Ceramics",
    "slug": "anas-ceramics",
    "country": "FR",
    "default_currency": "eur",
}


@pytest.fixture
def sandbox(settings, eager_tasks):
    """The sandbox behind the gateway, our two endpoints registered with it."""
    settings.STRIPE_SANDBOX = True
    settings.SITE_URL = "http://testserver"
    settings.SANDBOX_WEBHOOK_DELIVERY = "inline"
    stripe_gateway.reset_client()
    webhook_endpoints_ensure_sandbox()
    yield
    stripe_gateway.reset_client()


@pytest.fixture
def user_client(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def open_onboarding(client, link_url):
    page = client.get(path_of(link_url))
    assert page.status_code == 200, page.status_code
    html = page.content.decode()
    assert "SANDBOX" in html
    session = re.search(r'name="session" value="([^"]+)"', html).group(1)
    return path_of(link_url), session


def submit_onboarding(client, link_url, outcome="complete"):
    path, session = open_onboarding(client, link_url)
    return client.post(
        path,
        {
            "business_name": "Ana's Ceramics",
            "business_type": "individual",
            "email": "ana@example.com",
            "account_number": "000123456789",
            "outcome": outcome,
            "session": session,
        },
    )


def test_full_onboarding_then_publish(sandbox, user_client):
    response = user_client.post(reverse("sellers:start"), START)
    assert response.status_code == 302
    link = response["Location"]
    assert "/sandbox/onboarding/" in link
    seller = Seller.objects.get(user=user_client.user)
    assert seller.stripe_account_id.startswith("acct_")
    # What Stripe holds (the SDK's full object), beyond what the gateway's typed Account reads.
    account = stripe_gateway.client().v1.accounts.retrieve(seller.stripe_account_id)
    assert stripe_gateway.account_retrieve(account_id=account.id).seller_id == str(seller.pk)
    assert account.controller.stripe_dashboard.type == "express"
    assert account.controller.requirement_collection == "stripe"
    assert account.controller.losses.payments == "application"
    assert set(account.capabilities.to_dict()) == {"card_payments", "transfers"}
    assert account.metadata["seller_id"] == str(seller.pk)

    done = submit_onboarding(user_client, link)
    assert done.status_code == 302 and done["Location"] == "http://testserver/sell/?from=stripe"
    # The account.updated event came through the signed Connect endpoint and the handler: the
    # mirror is up to date before the seller's browser even reaches the dashboard.
    event = StripeEvent.objects.get(type="account.updated", account=seller.stripe_account_id)
    assert event.source == StripeEvent.Source.CONNECT
    assert event.status == StripeEvent.Status.SUCCEEDED
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.payouts_enabled and seller.details_submitted
    assert seller.requirements_currently_due == []

    dashboard = user_client.get(path_of(done["Location"])).content.decode()
    assert "Your account is ready" in dashboard

    user_client.post(
        reverse("sellers:listing_new"),
        {"title": "Mug", "price": "24.00", "currency": "eur", "stock": "3", "publish": "1"},
    )
    listing = Listing.objects.get()
    assert listing.status == Listing.Status.PUBLISHED
    assert listing in selectors.purchasable_listings()

    # Express dashboard through a login link.
    login = user_client.post(reverse("sellers:stripe_dashboard"))
    assert "/sandbox/express/" in login["Location"]
    assert user_client.get(path_of(login["Location"])).status_code == 200


def test_double_submit_makes_one_sandbox_account(sandbox, user_client):
    seller = services.seller_create(user=user_client.user, **START)
    stale = Seller.objects.get(pk=seller.pk)
    first = services.seller_ensure_account(seller=seller)
    second = services.seller_ensure_account(seller=stale)
    assert first.stripe_account_id == second.stripe_account_id
    # Stripe's idempotency answered the second create with the same account.
    assert (
        stripe_gateway.account_create(
            seller_id=seller.pk, country="FR", email=user_client.user.email
        ).id
        == first.stripe_account_id
    )


def test_incomplete_onboarding_banner_says_what_is_due(sandbox, user_client):
    link = user_client.post(reverse("sellers:start"), START)["Location"]
    path, session = open_onboarding(user_client, link)
    # Leave without finishing: Stripe sends the seller back to return_url all the same.
    back = user_client.post(path, {"exit": "1", "session": session})
    assert back["Location"] == "http://testserver/sell/?from=stripe"
    html = user_client.get(path_of(back["Location"])).content.decode()
    assert "Finish your Stripe onboarding" in html
    assert "a bank account for your payouts" in html and "your date of birth" in html
    assert "Continue onboarding" in html
    # Resume any time: a fresh link.
    again = user_client.post(reverse("sellers:onboarding"))
    assert "/sandbox/onboarding/" in again["Location"] and again["Location"] != link


def test_onboarding_leaving_bank_account_due(sandbox, user_client):
    link = user_client.post(reverse("sellers:start"), START)["Location"]
    submit_onboarding(user_client, link, outcome="external_account_due")
    seller = Seller.objects.get()
    assert seller.charges_enabled and not seller.payouts_enabled
    assert seller.requirements_currently_due == ["external_account"]
    html = user_client.get(reverse("sellers:dashboard")).content.decode()
    assert "a bank account for your payouts" in html and "Add the missing details" in html


def test_used_link_goes_to_refresh_which_makes_a_new_one(sandbox, user_client):
    link = user_client.post(reverse("sellers:start"), START)["Location"]
    open_onboarding(user_client, link)  # first visit consumes it
    reused = user_client.get(path_of(link))
    seller = Seller.objects.get()
    assert reused.status_code == 302
    assert reused["Location"] == (
        f"http://testserver/sell/onboarding/refresh/{seller.stripe_account_id}/"
    )
    fresh = user_client.get(path_of(reused["Location"]))
    assert fresh.status_code == 302 and "/sandbox/onboarding/" in fresh["Location"]
    assert fresh["Location"] != link
    # Someone else following the refresh URL gets nothing.
    other = UserFactory()
    user_client.force_login(other)
    assert user_client.get(path_of(reused["Location"])).status_code == 404


def test_expired_link_goes_to_refresh(sandbox, user_client):
    from sandbox import testing

    link = user_client.post(reverse("sellers:start"), START)["Location"]
    testing.advance(hours=1)
    expired = user_client.get(path_of(link))
    assert expired.status_code == 302 and "/sell/onboarding/refresh/" in expired["Location"]


def test_restricted_account_makes_listings_temporarily_unavailable(sandbox, user_client):
    link = user_client.post(reverse("sellers:start"), START)["Location"]
    submit_onboarding(user_client, link, outcome="restricted")
    seller = Seller.objects.get()
    assert (
        not seller.charges_enabled
        and seller.requirements_disabled_reason == "requirements.past_due"
    )
    listing = services.listing_create(
        seller=seller,
        title="Mug",
        price=Money(100, "eur"),
        stock=1,
    )
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.PUBLISHED)
    listing.refresh_from_db()
    assert selectors.listing_unavailable_reason(listing) == "Temporarily unavailable"
    assert listing not in selectors.purchasable_listings()
    html = user_client.get(reverse("sellers:dashboard")).content.decode()
    assert "Buyers cannot pay you right now" in html and "your national ID number" in html


def test_deauthorization_through_the_pipeline(sandbox, user_client, settings):
    from sandbox.resources import accounts as sandbox_accounts

    settings.ADMINS = ["ops@example.com"]
    link = user_client.post(reverse("sellers:start"), START)["Location"]
    submit_onboarding(user_client, link)
    seller = Seller.objects.get()
    from django.db import transaction

    with transaction.atomic():
        sandbox_accounts.deauthorize(seller.stripe_account_id)
    seller.refresh_from_db()
    assert seller.status == Seller.Status.DISCONNECTED and seller.needs_attention
    assert any("disconnected" in m.subject for m in mail.outbox)
    html = user_client.get(reverse("sellers:dashboard")).content.decode()
    assert "disconnected" in html


def test_lost_response_is_retried_into_the_same_account(sandbox, user_client):
    from sandbox import testing

    # Stripe creates the account, then the connection drops before we read the answer: the SDK
    # retries with the same idempotency key and gets the same account, not a second one.
    testing.fail_next(1, "timeout_after", method="POST", path_prefix="/v1/accounts")
    response = user_client.post(reverse("sellers:start"), START)
    assert "/sandbox/onboarding/" in response["Location"]
    seller = Seller.objects.get()
    creates = testing.requests(path="/v1/accounts", method="POST")
    assert len(creates) == 2
    accounts = stripe_gateway.client().v1.accounts.list().data
    assert [a.id for a in accounts] == [seller.stripe_account_id]


def test_stripe_down_after_retries_shows_a_retry_button(sandbox, user_client):
    from sandbox import testing

    testing.fail_next(3, "500", path_prefix="/v1/account_links")
    response = user_client.post(reverse("sellers:start"), START, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "We could not set up payments with Stripe" in html and "Continue onboarding" in html
    seller = Seller.objects.get()
    assert seller.stripe_account_id  # recorded before the link failed
    retry = user_client.post(reverse("sellers:onboarding"))
    assert "/sandbox/onboarding/" in retry["Location"]
