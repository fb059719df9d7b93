"""The hosted invoice page (pay an open invoice after failed renewals, 3-D Secure) and the
customer portal page (cancel at period end, take it back, change the card, invoices, return)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_object
from tests.sandbox.billinghelpers import event_types, plan, subscribe
from tests.sandbox.payhelpers import as_json

CARD = {"expiry": "12 / 34", "cvc": "123"}


def _path(url: str) -> str:
    return urlsplit(url).path


def _failing_renewal(sdk, seller):
    price = plan(sdk, amount=1200)
    sub = subscribe(sdk, seller.id, price.id)
    failing = sdk.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", {"customer": sub.customer}
    )
    sdk.v1.subscriptions.update(sub.id, {"default_payment_method": failing.id})
    testing.advance(sub["items"].data[0].current_period_end - testing.now() + 3601)
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "past_due"
    return sub, sdk.v1.invoices.retrieve(sub.latest_invoice)


def test_hosted_invoice_page_pays_an_open_invoice_and_reactivates(sdk, web, seller):
    sub, invoice = _failing_renewal(sdk, seller)
    page = web.get(_path(invoice.hosted_invoice_url))
    assert page.status_code == 200
    html = page.content.decode()
    assert "SANDBOX" in html and "€12.00" in html and "will be tried again on" in html
    # a wrong token is a 404, as an unguessable link should be
    assert web.get(f"/sandbox/invoice/{invoice.id}/nottherightone/").status_code == 404
    declined = web.post(
        _path(invoice.hosted_invoice_url), {"card_number": "4000000000000002", **CARD}
    )
    assert declined.status_code == 402
    assert re.search(rb'id="invoice-error">[^<]*declined', declined.content)
    bad = web.post(_path(invoice.hosted_invoice_url), {"card_number": "1234", **CARD})
    assert bad.status_code == 400
    paid = web.post(
        _path(invoice.hosted_invoice_url), {"card_number": "4242 4242 4242 4242", **CARD}
    )
    assert paid.status_code == 302
    invoice = sdk.v1.invoices.retrieve(invoice.id)
    assert invoice.status == "paid" and invoice.amount_paid == 1200
    sub = sdk.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    # the card that paid becomes the subscription's card: the next renewal succeeds
    testing.advance(sub["items"].data[0].current_period_end - testing.now() + 3601)
    latest = sdk.v1.invoices.retrieve(sdk.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert latest.id != invoice.id and latest.status == "paid"
    again = web.get(_path(invoice.hosted_invoice_url))
    assert b"This invoice is paid." in again.content
    receipt = re.search(rb'href="([^"]+)" id="invoice-receipt"', again.content)
    assert receipt is not None and web.get(receipt.group(1).decode()).status_code == 200


def test_hosted_invoice_page_with_3d_secure(sdk, web, seller):
    sub, invoice = _failing_renewal(sdk, seller)
    response = web.post(
        _path(invoice.hosted_invoice_url), {"card_number": "4000002500003155", **CARD}
    )
    assert response.status_code == 302 and "/sandbox/authenticate/" in response["Location"]
    back = web.post(response["Location"], {"outcome": "approve"})
    assert back.status_code == 302 and _path(invoice.hosted_invoice_url) in back["Location"]
    assert sdk.v1.invoices.retrieve(invoice.id).status == "paid"
    assert sdk.v1.subscriptions.retrieve(sub.id).status == "active"


def test_portal_session_and_page(sdk, web, seller):
    price = plan(sdk, amount=900, name="Coffee box")
    sub = subscribe(sdk, seller.id, price.id)
    session = sdk.v1.billing_portal.sessions.create(
        {"customer": sub.customer, "return_url": "http://testserver/account/subscriptions/"}
    )
    check_object(as_json(session))
    assert session.customer == sub.customer and session.url.startswith("http")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.billing_portal.sessions.create(
            {"customer": sub.customer, "flow_data": {"type": "payment_method_update"}}
        )
    assert caught.value.param == "flow_data"
    path = _path(session.url)
    page = web.get(path)
    html = page.content.decode()
    assert page.status_code == 200 and "SANDBOX" in html
    assert "Coffee box" in html and "€9.00 / month" in html and "Visa •••• 4242" in html
    assert 'href="http://testserver/account/subscriptions/"' in html
    invoice = sdk.v1.invoices.retrieve(sub.latest_invoice)
    assert invoice.hosted_invoice_url in html
    # cancel at period end, then take it back
    response = web.post(path, {"action": "cancel", "subscription": sub.id})
    assert response.status_code == 302
    updated = sdk.v1.subscriptions.retrieve(sub.id)
    assert (
        updated.cancel_at_period_end
        and updated.cancel_at == sub["items"].data[0].current_period_end
    )
    assert "will end at the end of the period" in web.get(response["Location"]).content.decode()
    web.post(path, {"action": "renew", "subscription": sub.id})
    assert not sdk.v1.subscriptions.retrieve(sub.id).cancel_at_period_end
    # another customer's subscription is not reachable through this session
    other = subscribe(sdk, seller.id, price.id)
    assert web.post(path, {"action": "cancel", "subscription": other.id}).status_code == 404
    assert not sdk.v1.subscriptions.retrieve(other.id).cancel_at_period_end
    # a new card becomes the default for future invoices
    response = web.post(path, {"action": "card", "card_number": "5555555555554444", **CARD})
    assert response.status_code == 302
    customer = sdk.v1.customers.retrieve(sub.customer)
    new_pm = customer.invoice_settings.default_payment_method
    assert sdk.v1.payment_methods.retrieve(new_pm).card.brand == "mastercard"
    assert sdk.v1.subscriptions.retrieve(sub.id).default_payment_method == new_pm
    assert "Mastercard •••• 4444" in web.get(path).content.decode()
    assert "customer.subscription.updated" in event_types("customer.subscription")
    # the session is short-lived
    testing.advance(hours=2)
    assert web.get(path).status_code == 410


def test_control_page_lists_subscriptions(sdk, web, seller):
    price = plan(sdk, amount=700, name="Tea club")
    sub = subscribe(sdk, seller.id, price.id)
    response = web.get("/sandbox/panel/subscriptions/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert sub.id in html and "€7.00" in html and "active" in html and "3, 5, 7" in html
