"""End to end: subscribing through the sandbox's Checkout, renewals on the sandbox clock,
failures through the retries, cancel and resume; every state from signed webhooks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, SellerBalance
from sandbox import testing
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.subscriptions.conftest import subscribe

pytestmark = [pytest.mark.django_db(transaction=True)]


def no_failed_events():
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def test_subscribe_pay_and_ledger(buyer_client, monthly, seller, mailoutbox):
    response = subscribe(buyer_client, monthly)
    assert response.status_code == 302, response.content.decode()[:1000]
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.ACTIVE
    assert sub.stripe_subscription_id and sub.current_period_end
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.metadata["subscription_id"] == str(sub.pk)
    assert stripe_sub.transfer_data.destination == seller.stripe_account_id
    assert float(stripe_sub.application_fee_percent) == float(sub.application_fee_percent)
    invoice = SubscriptionInvoice.objects.get()
    assert invoice.status == "paid" and invoice.amount_paid == 1000
    # The invoice's charge is a destination charge, in the ledger like an order's.
    kinds = sorted(LedgerTransaction.objects.filter(seller=seller).values_list("kind", flat=True))
    assert kinds == ["application_fee", "charge", "stripe_fee", "transfer"]
    charge = LedgerTransaction.objects.get(kind="charge", seller=seller)
    assert sum(e.amount for e in charge.entries.all() if e.amount > 0) == 1000
    fee = LedgerTransaction.objects.get(kind="application_fee", seller=seller)
    fee_amount = -sum(e.amount for e in fee.entries.all() if e.amount < 0)
    assert fee_amount == round(1000 * float(sub.application_fee_percent) / 100)
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 1000 - fee_amount}
    assert list(ledger_violations()) == []
    # The seller heard of the new subscriber.
    assert any("New subscriber" in m.subject for m in mailoutbox)
    no_failed_events()


def test_renewal_in_its_draft_hour_moves_our_period_and_latest_invoice(buyer_client, monthly):
    """At the period's end Stripe starts the next period and creates its invoice as a draft,
    finalized and paid an hour later; it says so at once with ``customer.subscription.updated``
    (the periods and ``latest_invoice`` in ``previous_attributes``). Within that hour our
    subscription is already on the new period, its draft invoice the latest."""
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    old_end = sub.current_period_end
    testing.advance(int(old_end.timestamp()) - testing.now() + 60)
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    item = stripe_sub["items"].data[0]
    assert item.current_period_start == int(old_end.timestamp())
    assert stripe_gateway.client().v1.invoices.retrieve(stripe_sub.latest_invoice).status == "draft"
    sub.refresh_from_db()
    assert (sub.current_period_start, sub.current_period_end) == (
        datetime.fromtimestamp(item.current_period_start, tz=UTC),
        datetime.fromtimestamp(item.current_period_end, tz=UTC),
    )
    assert sub.latest_invoice_id == stripe_sub.latest_invoice
    no_failed_events()


def card_fails(sub: Subscription, token: str = "pm_card_chargeCustomerFail") -> None:
    """The buyer's card becomes one that attaches but whose charges decline (their bank)."""
    sdk = stripe_gateway.client()
    pm = sdk.v1.payment_methods.attach(token, {"customer": sub.stripe_customer_id})
    sdk.v1.subscriptions.update(sub.stripe_subscription_id, {"default_payment_method": pm.id})


def test_renewal_then_failing_card_through_every_retry(buyer_client, monthly, mailoutbox, settings):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    testing.advance(days=31)  # the period ends: the renewal invoice is paid
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2

    card_fails(sub)
    mailoutbox.clear()
    testing.advance(days=31)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE and sub.has_access
    open_invoice = SubscriptionInvoice.objects.get(status="open")
    assert open_invoice.attempt_count == 1 and open_invoice.next_payment_attempt is not None
    assert sub.next_payment_attempt == open_invoice.next_payment_attempt
    failed = [m for m in mailoutbox if "Payment failed" in m.subject]
    assert len(failed) == 1 and failed[0].to == ["buyer@example.com"]
    assert "We'll try again on" in failed[0].body
    # The buyer's page says it too.
    page = buyer_client.get(f"/subscriptions/{sub.pk}/").content.decode()
    assert "Your last payment failed" in page and "try again on" in page

    for days in settings.SANDBOX_BILLING_RETRY_DAYS:  # each retry fails: one email each
        testing.advance(days=days)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELED and not sub.has_access
    open_invoice.refresh_from_db()
    assert open_invoice.attempt_count == 4
    assert len([m for m in mailoutbox if "Payment failed" in m.subject]) == 4
    ended = {tuple(m.to) for m in mailoutbox if "has ended" in m.subject}
    assert ended == {("buyer@example.com",), ("seller@example.com",)}
    no_failed_events()
    assert list(ledger_violations()) == []


def test_updating_the_card_while_past_due_reactivates(buyer_client, monthly, mailoutbox):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    card_fails(sub)
    testing.advance(days=31)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    card_fails(sub, token="pm_card_visa")  # the buyer gives a good card
    testing.advance(days=3)  # the next retry goes through
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert sub.pay_url == "" and sub.next_payment_attempt is None
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
    assert any("active again" in m.subject for m in mailoutbox)
    assert list(ledger_violations()) == []
    no_failed_events()


def test_unpaid_after_the_retries_then_paying_the_open_invoice_reactivates(
    buyer_client, client, monthly, seller, mailoutbox, settings
):
    """The platform's setting (Stripe's dashboard; the sandbox's SANDBOX_BILLING_AFTER_RETRIES)
    leaves it unpaid: access stops, the seller is told; the buyer pays the invoice on its
    hosted page and the subscription is active again."""
    settings.SANDBOX_BILLING_AFTER_RETRIES = "unpaid"
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    card_fails(sub)
    testing.advance(days=31)
    for days in settings.SANDBOX_BILLING_RETRY_DAYS:
        testing.advance(days=days)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.UNPAID and not sub.has_access
    assert ("seller@example.com",) in {tuple(m.to) for m in mailoutbox if "ended" in m.subject}
    unpaid = SubscriptionInvoice.objects.get(subscription=sub, status="open")
    assert unpaid.hosted_invoice_url
    # The buyer pays on Stripe's hosted invoice page, with a good card.
    path = "/" + unpaid.hosted_invoice_url.split("/", 3)[3]
    assert client.get(path).status_code == 200
    response = client.post(
        path,
        {"card_number": "4242 4242 4242 4242", "expiry": "12 / 34", "cvc": "123", "name": "Ada"},
    )
    assert response.status_code in (200, 302), response.content[:500]
    sub.refresh_from_db()
    unpaid.refresh_from_db()
    assert unpaid.status == "paid"
    assert sub.status == Subscription.Status.ACTIVE and sub.has_access
    assert {tuple(m.to) for m in mailoutbox if "active again" in m.subject} == {
        ("buyer@example.com",),
        ("seller@example.com",),
    }
    assert list(ledger_violations()) == []
    no_failed_events()


def test_cancel_at_period_end_then_resume_then_cancel(buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    response = buyer_client.post(f"/subscriptions/{sub.pk}/cancel/")
    assert response.status_code == 303
    sub.refresh_from_db()
    assert sub.cancel_at_period_end and sub.status == Subscription.Status.ACTIVE
    assert sub.next_invoice_at is None
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.cancel_at_period_end is True
    buyer_client.post(f"/subscriptions/{sub.pk}/resume/")
    sub.refresh_from_db()
    assert not sub.cancel_at_period_end and sub.next_invoice_at == sub.current_period_end
    testing.advance(days=31)  # resumed: renews
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    buyer_client.post(f"/subscriptions/{sub.pk}/cancel/")
    testing.advance(days=31)  # canceled at the period's end: no new invoice
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELED
    assert SubscriptionInvoice.objects.filter(subscription=sub).count() == 2
    no_failed_events()


def test_cancel_now(buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    buyer_client.post(f"/subscriptions/{sub.pk}/cancel-now/")
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELED and sub.ended_at is not None
    page = buyer_client.get(f"/subscriptions/{sub.pk}/").content.decode()
    assert "Cancel now" not in page  # nothing left to manage
    no_failed_events()


def test_success_page_before_the_webhooks_shows_the_subscription(
    buyer_client, monthly, settings, client
):
    """The buyer comes back from Checkout before Stripe's webhooks: the success page confirms
    with Stripe and opens the subscription (trialing, with its end date), not an empty list;
    the webhooks then find it done. Someone else's session id shows nothing of it."""
    from django.test import Client

    from tests.factories import UserFactory
    from tests.subscriptions.conftest import path_of

    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    monthly.trial_days = 14
    monthly.save(update_fields=["trial_days"])
    response = subscribe(buyer_client, monthly)
    assert response.status_code == 302
    success = path_of(response["Location"])

    other = Client()
    other.force_login(UserFactory(email="other@example.com"))
    page = other.get(success, follow=True)
    assert page.status_code == 200 and "Lesson club" not in page.content.decode()
    assert Subscription.objects.get().status == Subscription.Status.PENDING

    page = buyer_client.get(success, follow=True)
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.TRIALING and sub.trial_end
    assert page.redirect_chain[-1][0] == f"/subscriptions/{sub.pk}/"
    assert "Your free trial of" in page.content.decode()

    testing.deliver_pending()  # now the webhooks arrive
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.TRIALING
    no_failed_events()
