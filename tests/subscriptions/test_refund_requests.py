"""A buyer asks for the refund of a paid invoice of their subscription; the seller sees it on the
subscriber's page and grants it (refunding the invoice through the sandbox) or declines it with
a reason the buyer reads. Only the buyer's own invoices; another person's ids are a 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from payouts.models import RefundRequest
from subscriptions.models import InvoiceRefundRequest, Subscription, SubscriptionInvoice
from tests.buyers.factories import SellerFactory
from tests.factories import UserFactory
from tests.subscriptions.conftest import subscribe
from tests.subscriptions.test_e2e_refunds import logged_in, review_and_confirm

pytestmark = [pytest.mark.django_db(transaction=True)]

R = InvoiceRefundRequest


def ask_url(sub, invoice) -> str:
    return f"/subscriptions/{sub.pk}/invoices/{invoice.pk}/refund-request/"


def decline_url(sub, asked) -> str:
    return f"/subscriptions/seller/subscribers/{sub.pk}/refund-requests/{asked.pk}/decline/"


def ask(client, sub, invoice, **data):
    form = {"reason": "not_used", "message": "I could not log in all month.", **data}
    return client.post(ask_url(sub, invoice), form)


def test_buyer_asks_the_seller_refunds_and_the_request_is_granted(
    buyer_client, monthly, seller, mailoutbox
):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    invoice = SubscriptionInvoice.objects.get(status="paid")
    detail = f"/subscriptions/{sub.pk}/"
    assert ask_url(sub, invoice) in buyer_client.get(detail).content.decode()
    form = buyer_client.get(ask_url(sub, invoice))
    assert form.status_code == 200 and "€10.00 paid" in form.content.decode()

    mailoutbox.clear()
    sent = ask(buyer_client, sub, invoice, amount="4.00")
    assert sent.status_code == 303 and sent["Location"] == detail
    asked = R.objects.get()
    assert (asked.status, asked.amount, asked.reason) == ("open", 400, "not_used")
    # The seller is emailed, with a link to the subscriber's page.
    (mail,) = mailoutbox
    assert mail.to == ["seller@example.com"] and "asks for a refund" in mail.subject
    assert "€4.00" in mail.body and "I could not log in all month." in mail.body
    assert f"/subscriptions/seller/subscribers/{sub.pk}/" in mail.body
    # The buyer's page says it is asked, and no longer offers to ask again.
    page = buyer_client.get(detail).content.decode()
    assert "Refund asked" in page and "Waiting for the seller" in page
    assert ask_url(sub, invoice) not in page

    # The seller's list of subscribers flags the waiting request, linking to it.
    seller_client = logged_in(seller.user)
    flagged = f'href="/subscriptions/seller/subscribers/{sub.pk}/#refund-requests">Refund asked'
    assert flagged in seller_client.get("/subscriptions/seller/").content.decode()
    # The seller sees it and follows its Refund… link: the form proposes the amount asked.
    page = seller_client.get(f"/subscriptions/seller/subscribers/{sub.pk}/").content.decode()
    assert "I could not log in all month." in page
    link = f"/money/subscriptions/invoices/{invoice.pk}/refund/?amount=4.00&amp;reason=requested_by_customer"
    assert link in page
    proposed = seller_client.get(link.replace("&amp;", "&")).content.decode()
    assert 'name="amount" value="4.00"' in proposed
    assert re.search(r'<input type="radio" name="how" value="amount"[^>]* checked', proposed)

    _, done = review_and_confirm(
        seller_client,
        invoice,
        {"how": "amount", "amount": "4.00", "reason": "requested_by_customer"},
    )
    assert done.status_code == 303
    asked.refresh_from_db()
    refund = RefundRequest.objects.get()
    assert (asked.status, asked.refunded_amount, asked.refund_request_id) == (
        "granted",
        400,
        refund.pk,
    )
    assert asked.answered_by == seller.user
    page = buyer_client.get(detail).content.decode()
    assert "Refunded" in page and "Refund asked" not in page
    assert "Refund asked" not in seller_client.get("/subscriptions/seller/").content.decode()
    # The rest of the invoice can still be asked for.
    assert ask_url(sub, invoice) in page


def test_seller_declines_with_a_reason_the_buyer_reads_then_the_buyer_may_ask_again(
    buyer_client, monthly, seller, mailoutbox
):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    invoice = SubscriptionInvoice.objects.get(status="paid")
    assert ask(buyer_client, sub, invoice).status_code == 303
    asked = R.objects.get()
    seller_client = logged_in(seller.user)

    # No reason: refused, the request stays open.
    empty = seller_client.post(decline_url(sub, asked), {"answer": "  "}, follow=True)
    assert "Say why, so the buyer understands." in empty.content.decode()
    asked.refresh_from_db()
    assert asked.status == "open"

    mailoutbox.clear()
    done = seller_client.post(decline_url(sub, asked), {"answer": "You used it every day."})
    assert done.status_code == 303
    asked.refresh_from_db()
    assert (asked.status, asked.answer, asked.answered_by) == (
        "declined",
        "You used it every day.",
        seller.user,
    )
    (mail,) = mailoutbox
    assert mail.to == ["buyer@example.com"] and "You used it every day." in mail.body
    page = buyer_client.get(f"/subscriptions/{sub.pk}/").content.decode()
    assert "Declined by the seller" in page and "You used it every day." in page
    # Answered: declining again is refused; nothing was refunded.
    again = seller_client.post(decline_url(sub, asked), {"answer": "Still no."}, follow=True)
    assert "This request has been answered already." in again.content.decode()
    assert not RefundRequest.objects.exists()
    # The buyer may ask again (one waiting request per invoice at a time).
    assert ask(buyer_client, sub, invoice).status_code == 303
    assert R.objects.filter(status="open").count() == 1
    twice = ask(buyer_client, sub, invoice)
    assert twice.status_code == 400
    assert "already has a request waiting" in twice.content.decode()


def test_what_cannot_be_asked_is_refused_with_a_message(buyer_client, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    invoice = SubscriptionInvoice.objects.get(status="paid")
    too_much = ask(buyer_client, sub, invoice, amount="10.01")
    assert too_much.status_code == 400
    assert "At most €10.00 can be refunded on this invoice." in too_much.content.decode()
    not_a_number = ask(buyer_client, sub, invoice, amount="abc")
    assert not_a_number.status_code == 400
    assert "Enter the amount as a number, e.g. 24.90." in not_a_number.content.decode()
    no_text = ask(buyer_client, sub, invoice, message="   ")
    assert no_text.status_code == 400
    assert not R.objects.exists()
    unpaid = SubscriptionInvoice.objects.create(
        subscription=sub, stripe_invoice_id="in_open_one", status="open", currency="eur",
        amount_due=1000,
    )  # fmt: skip
    refused = ask(buyer_client, sub, unpaid)
    assert refused.status_code == 400
    assert "Only a paid invoice" in refused.content.decode()
    assert not R.objects.exists()


def test_only_the_buyers_own_invoices_and_the_subscribers_seller(buyer_client, monthly, seller):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    invoice = SubscriptionInvoice.objects.get(status="paid")
    # Another buyer, with a subscription of their own to the same plan.
    other = Client()
    other.force_login(UserFactory(email="other@example.com"))
    subscribe(other, monthly, email="other@example.com")
    other_sub = Subscription.objects.exclude(pk=sub.pk).get()
    assert other.get(ask_url(sub, invoice)).status_code == 404
    assert ask(other, sub, invoice).status_code == 404
    # Their own subscription's id with someone else's invoice id: still a 404.
    assert ask(other, other_sub, invoice).status_code == 404
    assert not R.objects.exists()

    assert ask(buyer_client, sub, invoice).status_code == 303
    asked = R.objects.get()
    # Another seller cannot decline it; the buyer cannot either; nor through another
    # subscriber's page of the right seller.
    stranger = logged_in(SellerFactory(user=UserFactory()).user)
    assert stranger.post(decline_url(sub, asked), {"answer": "No."}).status_code == 404
    assert buyer_client.post(decline_url(sub, asked), {"answer": "No."}).status_code == 404
    seller_client = logged_in(seller.user)
    wrong_page = decline_url(other_sub, asked)
    assert seller_client.post(wrong_page, {"answer": "No."}).status_code == 404
    asked.refresh_from_db()
    assert asked.status == "open"
    # Another seller's subscriber page does not show it.
    assert (
        "I could not log in"
        not in stranger.get(f"/subscriptions/seller/subscribers/{sub.pk}/").content.decode()
    )
