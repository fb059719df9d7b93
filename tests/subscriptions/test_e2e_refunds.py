"""Refunds of subscription invoices, end to end: the seller's subscriber page and the staff
refunds page, through the sandbox (a destination charge refunded with reverse_transfer and
refund_application_fee) and the signed charge.refunded events back into the ledger."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from marketplace import stripe_gateway
from marketplace.audit.models import AuditEntry
from marketplace.events.models import StripeEvent
from payouts.checks import ledger_violations
from payouts.models import LedgerEntry, LedgerTransaction, RefundRequest, SellerBalance
from payouts.reconciliation import reconcile
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.buyers.factories import SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.factories import StaffFactory, UserFactory, log_in_with_totp
from tests.payouts.test_reconciliation import window
from tests.subscriptions.conftest import subscribe

pytestmark = [pytest.mark.django_db(transaction=True)]


def no_failed_events():
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def refund_url(invoice) -> str:
    return f"/money/subscriptions/invoices/{invoice.pk}/refund/"


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form (what the browser sends back)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def token_of(html: str) -> str:
    match = re.search(r'name="client_token" value="([0-9a-f-]{36})"', html)
    assert match, html[:2000]
    return match.group(1)


def kinds_of(charge_id: str) -> list[str]:
    return sorted(
        LedgerTransaction.objects.filter(charge_id=charge_id).values_list("kind", flat=True)
    )


def review_and_confirm(client: Client, invoice, data: dict[str, str]):
    """Step one (the form) then step two (the confirmation page's own form, confirmed)."""
    page = client.get(refund_url(invoice))
    assert page.status_code == 200
    review = client.post(
        refund_url(invoice), {"client_token": token_of(page.content.decode()), **data}
    )
    assert review.status_code == 200, review.content.decode()[:3000]
    html = review.content.decode()
    assert "Confirm the refund" in html, html[:3000]
    return html, client.post(refund_url(invoice), {**form_fields(html), "confirm": "1"})


def test_seller_refunds_part_then_the_rest_and_cancels(buyer_client, monthly, seller, mailoutbox):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    invoice = SubscriptionInvoice.objects.get(status="paid")
    balance_before = SellerBalance.objects.get(seller=seller).ledger["eur"]
    fee = -sum(
        e.amount
        for e in LedgerEntry.objects.filter(
            transaction__kind="application_fee", transaction__charge_id=invoice.charge_id
        )
        if e.amount < 0
    )
    seller_client = logged_in(seller.user)

    # The subscriber's page offers the refund of the paid invoice.
    page = seller_client.get(f"/subscriptions/seller/subscribers/{sub.pk}/").content.decode()
    assert refund_url(invoice) in page

    # 4.00 of 10.00: the confirmation names the amount and the share taken back.
    html, done = review_and_confirm(
        seller_client, invoice, {"how": "amount", "amount": "4.00", "reason": "other"}
    )
    assert "4.00" in html and "The subscription goes on." in html
    share = round(400 * (1000 - fee) / 1000)
    assert re.search(rf'class="refund-share">€{share / 100:.2f}<', html), html
    assert done.status_code == 303 and done["Location"].endswith(f"/subscribers/{sub.pk}/")

    # Stripe reversed the seller's transfer and refunded the fee pro rata; the ledger has it
    # from our own read and the signed charge.refunded event, and the invoice knows.
    charge = stripe_gateway.client().v1.charges.retrieve(invoice.charge_id)
    assert charge.amount_refunded == 400
    assert kinds_of(invoice.charge_id) == [
        "application_fee",
        "charge",
        "fee_refund",
        "refund",
        "stripe_fee",
        "transfer",
        "transfer_reversal",
    ]
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == balance_before - share
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 400
    assert StripeEvent.objects.filter(type="charge.refunded", status="succeeded").exists()
    refunded_mail = [m for m in mailoutbox if "A refund on your subscription" in m.subject]
    assert len(refunded_mail) == 1 and refunded_mail[0].to == ["buyer@example.com"]
    assert "€4.00 back" in refunded_mail[0].body
    # A refund does not cancel the subscription (Stripe's neither).
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    request = RefundRequest.objects.get()
    assert request.seller == seller and request.charge_id == invoice.charge_id
    assert request.order_id is None

    # More than remains is refused with a message; nothing reaches Stripe.
    page = seller_client.get(refund_url(invoice)).content.decode()
    assert "refundable €6.00" in page
    too_much = seller_client.post(
        refund_url(invoice),
        {"client_token": token_of(page), "how": "amount", "amount": "6.01", "reason": "other"},
    )
    assert too_much.status_code == 400
    assert "At most €6.00 can still be refunded on this invoice." in too_much.content.decode()

    # The rest, and the subscription ends now.
    html, done = review_and_confirm(
        seller_client, invoice, {"how": "all", "reason": "other", "cancel_now": "on"}
    )
    assert "€6.00" in html and "The subscription also ends now" in html
    assert done.status_code == 303
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.CANCELED
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 1000
    # What the seller got is back, the platform kept nothing of its fee.
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == balance_before - (1000 - fee)
    assert stripe_gateway.client().v1.charges.retrieve(invoice.charge_id).refunded is True
    # A fully refunded invoice no longer offers a refund.
    page = seller_client.get(f"/subscriptions/seller/subscribers/{sub.pk}/").content.decode()
    assert refund_url(invoice) not in page and "Fully refunded" in page
    assert "fully refunded" in seller_client.get(refund_url(invoice)).content.decode()
    again = seller_client.post(
        refund_url(invoice), {"client_token": token_of(html), "how": "all", "reason": "other"}
    )
    assert again.status_code == 303
    assert RefundRequest.objects.count() == 2
    # The buyer's page shows it.
    assert "refunded" in buyer_client.get(f"/subscriptions/{sub.pk}/").content.decode()

    no_failed_events()
    assert list(ledger_violations()) == []
    start, end = window()
    run = reconcile(start=start, end=end)
    assert run.status == "clean", run.issues


def test_the_same_confirmation_sent_twice_refunds_once(buyer_client, monthly, seller):
    subscribe(buyer_client, monthly)
    invoice = SubscriptionInvoice.objects.get(status="paid")
    seller_client = logged_in(seller.user)
    html, done = review_and_confirm(
        seller_client, invoice, {"how": "amount", "amount": "2.50", "reason": "other"}
    )
    assert done.status_code == 303
    twice = seller_client.post(refund_url(invoice), {**form_fields(html), "confirm": "1"})
    assert twice.status_code == 400
    assert "This refund was already submitted." in twice.content.decode()
    charge = stripe_gateway.client().v1.charges.retrieve(invoice.charge_id)
    assert charge.amount_refunded == 250
    assert list(ledger_violations()) == []


def test_staff_refund_an_invoice_from_the_refunds_page(buyer_client, monthly, seller, mailoutbox):
    subscribe(buyer_client, monthly)
    invoice = SubscriptionInvoice.objects.get(status="paid")
    staff = StaffFactory()
    client = log_in_with_totp(Client(), staff)
    listing = client.get("/money/refunds/").content.decode()
    assert "Subscription invoice" in listing and refund_url(invoice) in listing
    # The generic form of the charge leads to the invoice's own page.
    generic = client.get(f"/money/refunds/{invoice.charge_id}/new/")
    assert generic.status_code == 302 and generic["Location"] == refund_url(invoice)
    mailoutbox.clear()
    _, done = review_and_confirm(
        client, invoice, {"how": "amount", "amount": "3.00", "reason": "requested_by_customer"}
    )
    assert done.status_code == 303 and done["Location"] == "/money/refunds/"
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 300
    request = RefundRequest.objects.get()
    assert request.requested_by == staff
    audit = AuditEntry.objects.get(action="refund", actor_id=staff.pk)
    assert invoice.charge_id in audit.object_repr and audit.after["amount"] == 300
    # The seller hears it from the platform; the buyer gets the refund email.
    to_seller = [m for m in mailoutbox if m.to == ["seller@example.com"]]
    assert len(to_seller) == 1 and "subscription invoice" in to_seller[0].subject
    assert any(m.to == ["buyer@example.com"] for m in mailoutbox)
    # Staff may refund from the platform's balance: the seller keeps their share.
    before = SellerBalance.objects.get(seller=seller).ledger["eur"]
    _, done = review_and_confirm(
        client, invoice, {"how": "all", "reason": "other", "platform_covers": "on"}
    )
    assert done.status_code == 303
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == before
    assert list(ledger_violations()) == []
    no_failed_events()


def test_other_peoples_invoices_answer_404(buyer_client, monthly, seller, sandbox):
    subscribe(buyer_client, monthly)
    invoice = SubscriptionInvoice.objects.get(status="paid")
    other_seller = SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="other@example.com")
    )
    other_buyer = UserFactory(email="someone@example.com")
    for who in (other_seller.user, other_buyer, invoice.subscription.buyer):
        client = logged_in(who)
        assert client.get(refund_url(invoice)).status_code == 404, who
        posted = client.post(
            refund_url(invoice),
            {
                "how": "all",
                "reason": "other",
                "confirm": "1",
                "client_token": "00000000-0000-0000-0000-000000000001",
            },
        )
        assert posted.status_code == 404, who
    seller_client = logged_in(seller.user)
    assert (
        seller_client.get(f"/money/subscriptions/invoices/{invoice.pk + 999}/refund/").status_code
        == 404
    )
    # The buyer's own pages show only their own subscriptions.
    other = logged_in(other_buyer)
    assert other.get(f"/subscriptions/{invoice.subscription_id}/").status_code == 404
    assert RefundRequest.objects.count() == 0
    assert stripe_gateway.client().v1.charges.retrieve(invoice.charge_id).amount_refunded == 0


def test_a_refund_made_in_stripes_dashboard_reaches_the_ledger_and_the_invoice_by_events(
    buyer_client, monthly, seller, mailoutbox
):
    """Nothing of ours sends it: only the signed charge.refunded / charge.refund.updated events
    bring it, through the same charge sync as an order's refund."""
    subscribe(buyer_client, monthly)
    invoice = SubscriptionInvoice.objects.get(status="paid")
    stripe_gateway.client().v1.refunds.create(
        {
            "charge": invoice.charge_id,
            "amount": 700,
            "reverse_transfer": True,
            "refund_application_fee": True,
        },
        options={"idempotency_key": "dashboard-refund-1"},
    )
    invoice.refresh_from_db()
    assert invoice.amount_refunded == 700
    assert {"refund", "transfer_reversal", "fee_refund"} <= set(kinds_of(invoice.charge_id))
    assert any("A refund on your subscription" in m.subject for m in mailoutbox)
    assert RefundRequest.objects.count() == 0
    # What remains is what the refund page offers.
    page = logged_in(seller.user).get(refund_url(invoice)).content.decode()
    assert "refundable €3.00" in page
    no_failed_events()
    assert list(ledger_violations()) == []
    start, end = window()
    assert reconcile(start=start, end=end).status == "clean"
