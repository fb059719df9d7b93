"""After the sale, through the pages and the sandbox: a buyer's problem report granted by a
refund or declined and decided by staff; the order's conversation; reviews. Bad input gets a
message and keeps what was typed; other people's ids are 404."""

from __future__ import annotations

import pytest
from django.core import mail

from buyers.aftersale.models import OrderMessage, ProblemReport, Review
from buyers.models import Order
from marketplace.audit.models import AuditEntry
from payouts.models import RefundRequest
from tests.buyers.test_sandbox_payments import buy, buyer_client, pay, sandbox, shop  # noqa: F401
from tests.factories import StaffFactory, UserFactory, log_in_with_totp
from tests.sellers.factories import SellerFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paid(shop, buyer_client):  # noqa: F811
    """A paid order of 2 x 25.00 EUR from ``shop``'s seller, bought by buyer@example.com."""
    pay(buyer_client, buy(buyer_client, shop, quantity=2), "4242 4242 4242 4242")
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    mail.outbox.clear()
    return order


@pytest.fixture
def other():
    """A second browser (``buyer_client`` is pytest-django's ``client``)."""
    from django.test import Client

    return Client()


def page(other, url):
    response = other.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_buyer_asks_for_part_seller_grants_it(paid, buyer_client, other):  # noqa: F811
    order = paid
    url = f"/orders/{order.pk}/problem/"
    assert "Report a problem or ask for a refund" in page(buyer_client, f"/orders/{order.pk}/")
    long_text = "x" * 2001
    for data, message in [
        ({"reason": "damaged", "message": "  "}, "This field is required"),
        ({"reason": "damaged", "message": long_text}, "at most 2000 characters"),
        ({"reason": "", "message": "Broken"}, "This field is required"),
        (
            {"reason": "damaged", "message": "Broken", "wants_refund": "on", "amount": "51"},
            "At most €50.00",
        ),
        (
            {"reason": "damaged", "message": "Broken", "wants_refund": "on", "amount": "0"},
            "above zero",
        ),
        (
            {"reason": "damaged", "message": "Broken", "wants_refund": "on", "amount": "1.234"},
            "decimal",
        ),
    ]:
        response = buyer_client.post(url, data)
        assert response.status_code == 400
        body = response.content.decode()
        assert message in body, (data, body[:3000])
        if data["message"].strip():
            assert data["message"][:50] in body  # what was typed is kept
    assert not ProblemReport.objects.exists()

    response = buyer_client.post(
        url,
        {
            "reason": "damaged",
            "message": "One mug arrived broken.",
            "wants_refund": "on",
            "amount": "25.00",
        },
    )
    assert response.status_code == 303
    report = ProblemReport.objects.get()
    assert (report.status, report.amount) == ("open", 2500)
    assert [m.to for m in mail.outbox] == [["seller@example.com"]]
    assert "One mug arrived broken." in mail.outbox[0].body
    # One request at a time.
    second = buyer_client.post(url, {"reason": "other", "message": "Again"})
    assert second.status_code == 400 and "already has a request" in second.content.decode()
    assert "Waiting for the seller" in page(buyer_client, f"/orders/{order.pk}/")

    seller = order.seller.user
    other.force_login(seller)
    sale = page(other, f"/sales/{order.pk}/")
    assert "One mug arrived broken." in sale and f"/money/refunds/requests/{report.pk}/" in sale
    assert f"#{order.pk}" in page(other, "/sales/requests/")
    detail = page(other, f"/money/refunds/requests/{report.pk}/")
    assert 'value="25.00"' in detail
    token = "6b1d7a51-4a2e-4f0b-9a51-3b0a3f2b8c11"
    too_much = other.post(
        f"/money/refunds/requests/{report.pk}/grant/", {"amount": "60", "client_token": token}
    )
    assert too_much.status_code == 400 and "At most €50.00" in too_much.content.decode()
    report.refresh_from_db()
    assert report.status == "open"
    mail.outbox.clear()
    granted = other.post(
        f"/money/refunds/requests/{report.pk}/grant/",
        {"amount": "25.00", "answer": "Sorry about that.", "client_token": token},
    )
    assert granted.status_code == 302, granted.content.decode()[:3000]
    report.refresh_from_db()
    order.refresh_from_db()
    assert (report.status, report.refunded_amount) == ("granted", 2500)
    assert order.refunded_amount == 2500 and order.status == Order.Status.PAID
    refund = RefundRequest.objects.get()
    assert report.refund_request_id == refund.pk and refund.status == "succeeded"
    assert any("your refund of €25.00" in m.subject for m in mail.outbox)
    buyer_page = page(buyer_client, f"/orders/{order.pk}/")
    assert "Refunded €25.00" in buyer_page and "Sorry about that." in buyer_page
    # Answered: the same grant again changes nothing, and a new request is possible.
    again = other.post(
        f"/money/refunds/requests/{report.pk}/grant/", {"amount": "1", "client_token": token}
    )
    assert again.status_code == 400, again.status_code
    assert "answered already" in again.content.decode(), again.content.decode()[-3000:]
    assert RefundRequest.objects.count() == 1


def test_declined_then_escalated_then_staff_grants(paid, buyer_client, other):  # noqa: F811
    order = paid
    buyer_client.post(
        f"/orders/{order.pk}/problem/",
        {"reason": "not_received", "message": "Nothing came.", "wants_refund": "on"},
    )
    report = ProblemReport.objects.get()
    other.force_login(order.seller.user)
    empty = other.post(f"/money/refunds/requests/{report.pk}/decline/", {"answer": " "})
    assert empty.status_code == 400 and "Say why" in empty.content.decode()
    mail.outbox.clear()
    other.post(
        f"/money/refunds/requests/{report.pk}/decline/", {"answer": "Tracking says delivered."}
    )
    report.refresh_from_db()
    assert report.status == "declined"
    assert mail.outbox[0].to == ["buyer@example.com"]
    assert "Tracking says delivered." in mail.outbox[0].body
    buyer_page = page(buyer_client, f"/orders/{order.pk}/")
    assert "Declined by the seller" in buyer_page and "Ask the platform team" in buyer_page
    buyer_client.post(f"/orders/{order.pk}/problem/{report.pk}/escalate/")
    report.refresh_from_db()
    assert report.status == "escalated"

    staff = StaffFactory()
    log_in_with_totp(other, staff)
    refunds = page(other, "/money/refunds/")
    assert (
        "With the platform team" in refunds and f"/money/refunds/requests/{report.pk}/" in refunds
    )
    # Staff read the conversation while the request is open.
    assert page(other, f"/orders/{order.pk}/messages/")
    response = other.post(
        f"/money/refunds/requests/{report.pk}/grant/",
        {"amount": "50.00", "client_token": "0e6c1b9b-5d0a-4e55-8a5b-6f9f6f3f7a10"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    order.refresh_from_db()
    report.refresh_from_db()
    assert report.status == "granted" and order.status == Order.Status.REFUNDED
    assert AuditEntry.objects.filter(action="refund").exists()
    # Closed: staff no longer read the conversation.
    assert other.get(f"/orders/{order.pk}/messages/").status_code == 404


def test_staff_decline_is_final_and_audited(paid, buyer_client, other):  # noqa: F811
    order = paid
    buyer_client.post(f"/orders/{order.pk}/problem/", {"reason": "changed_mind", "message": "x"})
    report = ProblemReport.objects.get()
    log_in_with_totp(other, StaffFactory())
    mail.outbox.clear()
    other.post(f"/money/refunds/requests/{report.pk}/decline/", {"answer": "Outside policy."})
    report.refresh_from_db()
    assert report.status == "closed"
    entry = AuditEntry.objects.get(action="problem.close")
    assert entry.summary == "Outside policy." and entry.after["status"] == "closed"
    assert sorted(m.to[0] for m in mail.outbox) == ["buyer@example.com", "seller@example.com"]


def test_conversation_between_buyer_and_seller(paid, buyer_client, other):  # noqa: F811
    order = paid
    url = f"/orders/{order.pk}/messages/"
    too_long = buyer_client.post(url, {"body": "y" * 2001})
    assert too_long.status_code == 400
    body = too_long.content.decode()
    assert "at most 2000 characters" in body and "y" * 2001 in body
    empty = buyer_client.post(url, {"body": "   "})
    assert empty.status_code == 400 and "required" in empty.content.decode()
    response = buyer_client.post(url, {"body": "Could you gift-wrap it?"})
    assert response.status_code == 303 and response["Location"].endswith(
        f"/orders/{order.pk}/#conversation"
    )
    assert [m.to for m in mail.outbox] == [["seller@example.com"]]
    other.force_login(order.seller.user)
    assert "Could you gift-wrap it?" in page(other, f"/sales/{order.pk}/")
    other.post(url, {"body": "Of course."})
    assert "Of course." in page(buyer_client, f"/orders/{order.pk}/")
    assert list(OrderMessage.objects.values_list("role", flat=True)) == ["buyer", "seller"]
    assert mail.outbox[-1].to == ["buyer@example.com"]
    # Staff read it only while a dispute or a request is open.
    log_in_with_totp(other, StaffFactory())
    assert other.get(url).status_code == 404
    assert other.post(url, {"body": "hello"}).status_code == 404


def test_reviews_once_with_a_reply_and_staff_hide(paid, buyer_client, other):  # noqa: F811
    order = paid
    url = f"/orders/{order.pk}/review/"
    not_shipped = buyer_client.post(url, {"rating": "5", "body": "Great"})
    assert not_shipped.status_code == 400 and "once it has been shipped" in (
        not_shipped.content.decode()
    )
    other.force_login(order.seller.user)
    other.post(f"/sales/{order.pk}/ship/", {"carrier": "", "tracking_number": "", "note": ""})
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    for data, message in [
        ({"rating": "0", "body": "Bad"}, "Choose a rating from 1 to 5"),
        ({"rating": "6", "body": "Bad"}, "Choose a rating from 1 to 5"),
        ({"rating": "abc", "body": "Bad"}, "Choose a rating from 1 to 5"),
        ({"rating": "4", "body": "  "}, "Write a few words"),
        ({"rating": "4", "body": "z" * 2001}, "at most 2000 characters"),
    ]:
        response = buyer_client.post(url, data)
        assert response.status_code == 400 and message in response.content.decode(), data
    assert not Review.objects.exists()
    mail.outbox.clear()
    assert buyer_client.post(url, {"rating": "4", "body": "Lovely glaze."}).status_code == 303
    second = buyer_client.post(url, {"rating": "1", "body": "Changed my mind"})
    assert second.status_code == 400 and "reviewed this order already" in second.content.decode()
    assert Review.objects.get().rating == 4
    assert mail.outbox[0].to == ["seller@example.com"]
    listing = page(other, f"/listing/{order.listing_id}/")
    assert "Lovely glaze." in listing and "4.0 out of 5" in listing and "1 review" in listing
    assert "Lovely glaze." in page(other, f"/shop/{order.seller.slug}/")

    reply_url = f"/sales/{order.pk}/review/reply/"
    assert other.post(reply_url, {"reply": ""}).status_code == 400
    assert other.post(reply_url, {"reply": "Thank you!"}).status_code == 303
    again = other.post(reply_url, {"reply": "Twice"})
    assert again.status_code == 400 and "replied to this review already" in again.content.decode()
    assert "Thank you!" in page(other, f"/listing/{order.listing_id}/")

    staff = StaffFactory()
    log_in_with_totp(other, staff)
    review = Review.objects.get()
    no_reason = other.post("/money/reviews/", {"review_id": review.pk, "reason": ""})
    assert no_reason.status_code == 400 and "Say why" in no_reason.content.decode()
    assert other.post("/money/reviews/", {"review_id": 999999, "reason": "x"}).status_code == 404
    other.post("/money/reviews/", {"review_id": review.pk, "reason": "Abusive words"})
    review.refresh_from_db()
    assert review.hidden_reason == "Abusive words"
    entry = AuditEntry.objects.get(action="review.hide")
    assert entry.actor_id == staff.pk and entry.summary == "Abusive words"
    listing = page(other, f"/listing/{order.listing_id}/")
    assert "Lovely glaze." not in listing and "No reviews yet." in listing


def test_other_peoples_ids_are_404(paid, buyer_client, other):  # noqa: F811
    order = paid
    buyer_client.post(f"/orders/{order.pk}/problem/", {"reason": "other", "message": "Hm"})
    report = ProblemReport.objects.get()
    stranger_seller = SellerFactory(user=UserFactory(email="other-seller@example.com"))
    for user in (UserFactory(email="other@example.com"), stranger_seller.user):
        other.force_login(user)
        for url in [
            f"/orders/{order.pk}/problem/",
            f"/orders/{order.pk}/review/",
            f"/orders/{order.pk}/messages/",
            f"/sales/{order.pk}/review/reply/",
            f"/money/refunds/requests/{report.pk}/",
        ]:
            assert other.get(url).status_code == 404, url
        for url, data in [
            (f"/orders/{order.pk}/problem/", {"reason": "other", "message": "x"}),
            (f"/orders/{order.pk}/problem/{report.pk}/escalate/", {}),
            (f"/orders/{order.pk}/messages/", {"body": "x"}),
            (f"/orders/{order.pk}/review/", {"rating": "5", "body": "x"}),
            (
                f"/money/refunds/requests/{report.pk}/grant/",
                {"amount": "1", "client_token": "0e6c1b9b-5d0a-4e55-8a5b-6f9f6f3f7a10"},
            ),
            (f"/money/refunds/requests/{report.pk}/decline/", {"answer": "x"}),
        ]:
            assert other.post(url, data).status_code == 404, url
    report.refresh_from_db()
    assert report.status == "open" and not OrderMessage.objects.exists()
    assert not RefundRequest.objects.exists() and not Review.objects.exists()


def test_a_refund_from_the_sale_refund_form_grants_the_waiting_request(paid, buyer_client, other):  # noqa: F811
    order = paid
    line = order.lines.get()
    buyer_client.post(
        f"/orders/{order.pk}/problem/",
        {"reason": "damaged", "message": "One of the two is cracked.", "wants_refund": "on"},
    )
    other.force_login(order.seller.user)
    url = f"/money/sales/{order.pk}/refund/"
    data = {
        "how": "lines",
        f"line_{line.pk}": "1",
        "reason": "damaged",
        "client_token": "3f1e2d3c-4b5a-4968-8776-655443322110",
        "confirm": "1",
    }
    response = other.post(url, data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    report = ProblemReport.objects.get()
    assert (report.status, report.refunded_amount) == ("granted", 2500)
    assert "Refunded €25.00" in page(buyer_client, f"/orders/{order.pk}/")


def test_the_buyer_asks_for_some_items_back(paid, buyer_client):  # noqa: F811
    order = paid
    line = order.lines.get()
    url = f"/orders/{order.pk}/problem/"
    assert f'name="line_{line.pk}"' in page(buyer_client, url)
    base = {"reason": "damaged", "message": "One is cracked.", "wants_refund": "on"}
    too_many = buyer_client.post(url, {**base, f"line_{line.pk}": "3"})
    assert too_many.status_code == 400 and "less than or equal to 2" in too_many.content.decode()
    both = buyer_client.post(url, {**base, f"line_{line.pk}": "1", "amount": "5"})
    assert both.status_code == 400 and "not both" in both.content.decode()
    assert buyer_client.post(url, {**base, f"line_{line.pk}": "1"}).status_code == 303
    report = ProblemReport.objects.get()
    assert (report.amount, report.lines) == (2500, {str(line.pk): 1})
    assert "(1 \u00d7 Blue mug)" in page(buyer_client, f"/orders/{order.pk}/")
