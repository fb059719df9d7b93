"""Subscribing on our own page (``CHECKOUT_UI=elements``) against the sandbox and signed
webhooks: the Stripe subscription's shape (``default_incomplete``, fee, destination, trial,
metadata, card saved on the subscription), the first payment confirmed with the invoice's
confirmation secret, a trial's card with the pending SetupIntent, a decline then a good card,
one click with a saved card, abandoning (``incomplete_expired`` after 23 hours on the sandbox
clock), a failed renewal paid on our page, and other buyers' ids. What Stripe.js does in the
browser (confirming the intent with the card) is done with the SDK."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from payouts.checks import ledger_violations
from sandbox import testing
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.buyers.factories import ListingFactory
from tests.factories import UserFactory
from tests.subscriptions.conftest import make_plan
from tests.subscriptions.test_e2e import card_fails

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def elements(settings, sandbox):
    settings.CHECKOUT_UI = "elements"


def no_failed_events():
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def subscribe(client, plan):
    response = client.post(reverse("subscriptions:subscribe", args=[plan.pk]))
    assert response.status_code == 303, response.content[:500]
    return response


def page_config(client, sub) -> dict:
    response = client.get(reverse("subscriptions:pay", args=[sub.pk]))
    assert response.status_code == 200, response.content[:500]
    found = re.search(
        r'<script id="subscription-payment-config" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    assert found, "no payment config on the page"
    return json.loads(found.group(1))


def confirm_in_browser(client_secret: str, payment_method: str):
    """What Stripe.js's confirmPayment / confirmSetup does with the card the buyer typed."""
    intent_id = client_secret.split("_secret_")[0]
    sdk = stripe_gateway.client()
    params = {"payment_method": payment_method, "return_url": "http://testserver/x"}
    try:
        if intent_id.startswith("seti_"):
            return sdk.v1.setup_intents.confirm(intent_id, params)
        return sdk.v1.payment_intents.confirm(intent_id, params)
    except stripe_gateway.stripe.CardError as exc:
        return exc


def come_back(client, sub, client_secret):
    intent_id = client_secret.split("_secret_")[0]
    param = "setup_intent" if intent_id.startswith("seti_") else "payment_intent"
    return client.get(reverse("subscriptions:pay_return", args=[sub.pk]), {param: intent_id})


def test_subscribe_on_our_page_with_the_money_shape(buyer_client, monthly, seller, mailoutbox):
    response = subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    assert response["Location"] == reverse("subscriptions:pay", args=[sub.pk])
    assert sub.status == Subscription.Status.INCOMPLETE and not sub.has_access
    assert sub.checkout_session_id == ""
    created = testing.requests(path="/v1/subscriptions", method="POST")
    assert len(created) == 1
    assert created[0].idempotency_key == f"subscription-{sub.pk}-create"
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(
        sub.stripe_subscription_id, {"expand": ["latest_invoice"]}
    )
    assert stripe_sub.status == "incomplete"
    # default_incomplete: the first invoice waits for the buyer, not attempted.
    assert stripe_sub.latest_invoice.status == "open"
    assert stripe_sub.latest_invoice.attempt_count == 0
    assert stripe_sub.payment_settings.save_default_payment_method == "on_subscription"
    assert stripe_sub.transfer_data.destination == seller.stripe_account_id
    assert float(stripe_sub.application_fee_percent) == float(sub.application_fee_percent)
    assert stripe_sub.metadata["subscription_id"] == str(sub.pk)

    config = page_config(buyer_client, sub)
    assert config["kind"] == "payment" and config["clientSecret"].startswith("pi_")
    # A second click on Subscribe while it is incomplete: the same subscription, one at Stripe.
    subscribe(buyer_client, monthly)
    assert Subscription.objects.count() == 1
    assert len(testing.requests(path="/v1/subscriptions", method="POST")) == 1

    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    done = come_back(buyer_client, sub, config["clientSecret"])
    assert done["Location"] == reverse("subscriptions:detail", args=[sub.pk])
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.default_payment_method  # the card stays for the renewals
    invoice = SubscriptionInvoice.objects.get()
    assert invoice.status == "paid" and invoice.amount_paid == 1000
    assert any("New subscriber" in m.subject for m in mailoutbox)
    # Nothing left to pay: the page sends the buyer to their subscription.
    again = buyer_client.get(reverse("subscriptions:pay", args=[sub.pk]))
    assert again["Location"] == reverse("subscriptions:detail", args=[sub.pk])
    assert list(ledger_violations()) == []
    no_failed_events()


def test_trial_collects_the_card_with_the_pending_setup_intent(buyer_client, seller, listing):
    plan = make_plan(seller, listing, name="Trial", trial_days=14)
    subscribe(buyer_client, plan)
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.TRIALING
    config = page_config(buyer_client, sub)
    assert config["kind"] == "setup" and config["clientSecret"].startswith("seti_")
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    done = come_back(buyer_client, sub, config["clientSecret"])
    assert done["Location"] == reverse("subscriptions:detail", args=[sub.pk])
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.default_payment_method and stripe_sub.pending_setup_intent is None
    # The trial ends: the saved card pays the first invoice.
    testing.advance(days=15)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid", amount_paid=1000).count() == 1
    no_failed_events()


def test_declined_card_shows_the_message_then_a_good_card(buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    config = page_config(buyer_client, sub)
    confirm_in_browser(config["clientSecret"], "pm_card_chargeDeclined")
    back = come_back(buyer_client, sub, config["clientSecret"])
    assert back["Location"] == reverse("subscriptions:pay", args=[sub.pk]) + "?failed=1"
    page = buyer_client.get(back["Location"]).content.decode()
    assert "declined" in page.lower() and "try again" in page.lower()
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.INCOMPLETE
    retry = page_config(buyer_client, sub)
    assert retry["clientSecret"] == config["clientSecret"]  # the same invoice, paid once
    confirm_in_browser(retry["clientSecret"], "pm_card_visa")
    come_back(buyer_client, sub, retry["clientSecret"])
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    no_failed_events()


def _saved_card(buyer) -> str:
    from buyers import customers

    customer = customers.customer_for_buyer(user=buyer)
    sdk = stripe_gateway.client()
    pm = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer})
    return pm.id


def test_one_click_with_a_saved_card(buyer, buyer_client, monthly, seller, listing):
    card = _saved_card(buyer)
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    page = buyer_client.get(reverse("subscriptions:pay", args=[sub.pk])).content.decode()
    assert "with Visa ending 4242" in page
    url = reverse("subscriptions:pay_saved_card", args=[sub.pk])
    answer = buyer_client.post(
        url, {"payment_method": card, "attempt": "a1"}, HTTP_ACCEPT="application/json"
    ).json()
    assert answer["status"] == "succeeded"
    # A double click (same attempt) confirms once.
    buyer_client.post(
        url, {"payment_method": card, "attempt": "a1"}, HTTP_ACCEPT="application/json"
    )
    buyer_client.get(answer["next"])
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    charges = stripe_gateway.client().v1.charges.list({"customer": sub.stripe_customer_id})
    assert len(charges.data) == 1

    # A trial started in one click with the saved card.
    trial = make_plan(seller, ListingFactory(seller=seller), name="Trial", trial_days=7)
    subscribe(buyer_client, trial)
    second = Subscription.objects.get(plan=trial)
    answer = buyer_client.post(
        reverse("subscriptions:pay_saved_card", args=[second.pk]),
        {"payment_method": card, "attempt": "b1"},
        HTTP_ACCEPT="application/json",
    ).json()
    assert answer["status"] == "succeeded"
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(second.stripe_subscription_id)
    assert stripe_sub.default_payment_method == card
    no_failed_events()


def test_abandoned_subscription_expires_after_23_hours(buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    listed = buyer_client.get(reverse("subscriptions:list")).content.decode()
    assert "Incomplete" in listed
    testing.advance(hours=22)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.INCOMPLETE
    testing.advance(hours=1, minutes=1)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.INCOMPLETE_EXPIRED and not sub.has_access
    # Nothing stuck: not in the buyer's list, the page says it was closed, a new click starts
    # a new subscription.
    listed = buyer_client.get(reverse("subscriptions:list")).content.decode()
    assert "Incomplete" not in listed and "Expired" not in listed
    page = buyer_client.get(reverse("subscriptions:pay", args=[sub.pk]), follow=True)
    assert "was not paid in time" in page.content.decode()
    subscribe(buyer_client, monthly)
    assert Subscription.objects.count() == 2
    assert Subscription.objects.latest("pk").status == Subscription.Status.INCOMPLETE
    no_failed_events()


def test_failed_renewal_paid_on_our_page(buyer_client, monthly, mailoutbox):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    config = page_config(buyer_client, sub)
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    come_back(buyer_client, sub, config["clientSecret"])
    card_fails(sub)
    mailoutbox.clear()
    testing.advance(days=31)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    failed = [m for m in mailoutbox if "Payment failed" in m.subject]
    pay_link = "http://testserver" + reverse("subscriptions:pay", args=[sub.pk])
    assert len(failed) == 1 and pay_link in failed[0].body
    detail = buyer_client.get(reverse("subscriptions:detail", args=[sub.pk])).content.decode()
    assert reverse("subscriptions:pay", args=[sub.pk]) in detail

    config = page_config(buyer_client, sub)
    assert config["kind"] == "payment"
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    come_back(buyer_client, sub, config["clientSecret"])
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
    assert list(ledger_violations()) == []
    no_failed_events()


def test_other_buyers_subscriptions_are_404(client, buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    config = page_config(buyer_client, sub)
    other = UserFactory(email="other@example.com")
    client.force_login(other)
    assert client.get(reverse("subscriptions:pay", args=[sub.pk])).status_code == 404
    assert (
        client.post(
            reverse("subscriptions:pay_saved_card", args=[sub.pk]), {"payment_method": "pm_x"}
        ).status_code
        == 404
    )
    intent = config["clientSecret"].split("_secret_")[0]
    done = reverse("subscriptions:pay_return", args=[sub.pk])
    assert client.get(done, {"payment_intent": intent}).status_code == 404
    # The owner with someone else's card, or an intent that is not theirs: 404 too.
    other_customer = stripe_gateway.client().v1.customers.create({"email": "x@example.com"})
    pm = stripe_gateway.client().v1.payment_methods.attach(
        "pm_card_visa", {"customer": other_customer.id}
    )
    answer = buyer_client.post(
        reverse("subscriptions:pay_saved_card", args=[sub.pk]), {"payment_method": pm.id}
    )
    assert answer.status_code == 404
    assert buyer_client.get(done, {"payment_intent": "pi_nope"}).status_code == 404


def test_renewal_needing_3d_secure_is_confirmed_on_our_page(buyer_client, monthly, mailoutbox):
    """``invoice.payment_action_required``: the email links to our page, where the open
    invoice's PaymentIntent (waiting for authentication) is confirmed."""
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    config = page_config(buyer_client, sub)
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    come_back(buyer_client, sub, config["clientSecret"])
    card_fails(sub, token="pm_card_authenticationRequired")  # every charge asks for 3-D Secure
    mailoutbox.clear()
    testing.advance(days=31)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    asked = [m for m in mailoutbox if "Confirm the payment" in m.subject]
    assert len(asked) == 1
    assert "http://testserver" + reverse("subscriptions:pay", args=[sub.pk]) in asked[0].body
    config = page_config(buyer_client, sub)
    assert config["kind"] == "payment"
    intent = config["clientSecret"].split("_secret_")[0]
    assert stripe_gateway.client().v1.payment_intents.retrieve(intent).status == "requires_action"
    confirm_in_browser(config["clientSecret"], "pm_card_visa")
    come_back(buyer_client, sub, config["clientSecret"])
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
    no_failed_events()
