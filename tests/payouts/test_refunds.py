from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection

from marketplace.errors import UserFacingError
from marketplace.stripe_gateway import GatewayError
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, RefundRequest, SellerBalance
from payouts.services import refund_request_create
from tests.factories import log_in_with_totp
from tests.payouts.events import deliver
from tests.payouts.factories import SellerFactory, UserFactory
from tests.stripe_fake import UNREACHABLE

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2000, fee=200, order_id=21)
    deliver("charge.succeeded", charge)
    return seller, charge


def refund(actor, charge, amount, token=None, reason="damaged"):
    return refund_request_create(
        actor=actor,
        charge_id=charge["id"],
        amount=amount,
        reason=reason,
        client_token=token or uuid.uuid4(),
    )


def test_seller_partial_then_rest_refund(sale, fake_stripe):
    seller, charge = sale
    first = refund(seller.user, charge, 500)
    assert first.status == "succeeded" and first.stripe_refund_id.startswith("re_")
    # Recorded at once, without waiting for the events.
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 1350}
    refund(seller.user, charge, 1500)
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 0}
    assert fake_stripe.balances[seller.stripe_account_id] == {"eur": 0}
    with pytest.raises(UserFacingError, match="already fully refunded"):
        refund(seller.user, charge, 1)
    assert list(ledger_violations()) == []


@pytest.mark.parametrize(
    ("amount", "message"),
    [(0, "above zero"), (-5, "above zero"), (2001, r"At most €20.00")],
)
def test_bad_amounts_refused(sale, fake_stripe, amount, message):
    seller, charge = sale
    with pytest.raises(UserFacingError, match=message):
        refund(seller.user, charge, amount)
    assert not RefundRequest.objects.exists()
    assert fake_stripe.count("refund_create") == 0


def test_unpaid_order_refused_and_others_denied(sale, staff):
    _seller, charge = sale
    with pytest.raises(UserFacingError, match="not paid"):
        refund(staff, {"id": "ch_never_paid"}, 100)
    with pytest.raises(PermissionDenied):
        refund(SellerFactory().user, charge, 100)
    with pytest.raises(PermissionDenied):
        refund(UserFactory(), charge, 100)


def test_double_submit_is_one_refund(sale, fake_stripe):
    seller, charge = sale
    token = uuid.uuid4()
    refund(seller.user, charge, 300, token=token)
    with pytest.raises(UserFacingError, match="already submitted"):
        refund(seller.user, charge, 300, token=token)
    assert fake_stripe.count("refund_create") == 1


def test_refund_window_for_sellers_not_staff(sale, staff, settings):
    seller, charge = sale
    settings.MARKETPLACE_REFUND_WINDOW = timedelta(seconds=0)
    with pytest.raises(UserFacingError, match="refund window has passed"):
        refund(seller.user, charge, 100)
    assert refund(staff, charge, 100).status == "succeeded"


def test_stripe_refusal_kept_with_message(sale, fake_stripe):
    seller, charge = sale
    fake_stripe.fail_once["refund_create"] = GatewayError(UNREACHABLE, retryable=True)
    with pytest.raises(UserFacingError, match="Stripe refused the refund"):
        refund(seller.user, charge, 100)
    assert RefundRequest.objects.get().status == "failed"
    # Nothing stuck: a new request goes through.
    assert refund(seller.user, charge, 100).status == "succeeded"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serializes writers"
)
def test_two_admins_at_once_one_refund(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=1000, fee=100, order_id=5)
    deliver("charge.succeeded", charge)
    admins = [UserFactory(is_staff=True), UserFactory(is_staff=True)]
    outcomes = []

    def go(admin):
        try:
            refund(admin, charge, 1000)
            outcomes.append("ok")
        except UserFacingError as exc:
            outcomes.append(exc.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(a,)) for a in admins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The second admin waited on the lock, then saw the first refund: a clear message.
    assert sorted(outcomes) == ["This order is already fully refunded.", "ok"]
    assert fake_stripe.count("refund_create") == 1


def test_refund_views_and_sweep(
    client, sale, fake_stripe, staff, django_capture_on_commit_callbacks
):
    seller, charge = sale
    client.force_login(seller.user)
    page = client.get("/money/refunds/").content.decode()
    assert charge["id"] in page
    form = client.get(f"/money/refunds/{charge['id']}/new/").content.decode()
    assert "refundable €20.00" in form
    token = str(uuid.uuid4())
    data = {"amount": "5.00", "reason": "damaged", "client_token": token}
    assert client.post(f"/money/refunds/{charge['id']}/new/", data).status_code == 302
    again = client.post(f"/money/refunds/{charge['id']}/new/", data)
    assert "already submitted" in again.content.decode()
    too_much = client.post(
        f"/money/refunds/{charge['id']}/new/",
        {"amount": "99.00", "reason": "damaged", "client_token": str(uuid.uuid4())},
    )
    assert "At most €15.00" in too_much.content.decode()
    zero = client.post(
        f"/money/refunds/{charge['id']}/new/",
        {"amount": "0", "reason": "damaged", "client_token": str(uuid.uuid4())},
    )
    assert "above zero" in zero.content.decode()
    # Another seller and a buyer: 404 on the sale, nothing listed.
    for other in (SellerFactory().user, UserFactory()):
        client.force_login(other)
        assert client.get(f"/money/refunds/{charge['id']}/new/").status_code == 404
        assert (
            client.post(
                f"/money/refunds/{charge['id']}/new/",
                {"amount": "1.00", "reason": "damaged", "client_token": str(uuid.uuid4())},
            ).status_code
            == 404
        )
    log_in_with_totp(client, staff)
    assert charge["id"] in client.get("/money/refunds/").content.decode()
    assert RefundRequest.objects.count() == 1
    # The seller's own refund: no email to themselves. A refund by staff: the seller is told.
    assert not [m for m in mail.outbox if seller.user.email in m.to]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/money/refunds/{charge['id']}/new/",
            {"amount": "2.00", "reason": "damaged", "client_token": str(uuid.uuid4())},
        )
    (message,) = [m for m in mail.outbox if seller.user.email in m.to]
    assert "The platform refunded €2.00" in message.subject
    assert "taken back from your balance" in message.body and "/sales/21/" in message.body


def test_staff_find_refunds_in_the_menu_with_item_and_amount(client, sale, fake_stripe, staff):
    from django.utils import timezone

    from buyers.models import Order, Purchase
    from tests.buyers.factories import ListingFactory

    seller, charge = sale
    listing = ListingFactory(seller=seller, title="Blue mug")
    buyer = UserFactory()
    purchase = Purchase.objects.create(
        buyer=buyer,
        charge_type=Purchase.ChargeType.DESTINATION,
        currency="eur",
        amount=2000,
        application_fee_amount=200,
        buyer_email="b@example.com",
        expires_at=timezone.now(),
        status=Purchase.Status.PAID,
    )
    Order.objects.create(
        pk=21,
        purchase=purchase,
        buyer=buyer,
        seller=seller,
        listing=listing,
        title="Blue mug",
        unit_amount=2000,
        quantity=1,
        currency="eur",
        amount=2000,
        application_fee_amount=200,
        buyer_email="b@example.com",
        expires_at=timezone.now(),
        status=Order.Status.PAID,
    )
    client.force_login(staff)
    home = client.get("/").content.decode()
    assert 'href="/money/refunds/"' in home
    page = client.get("/money/refunds/").content.decode()
    assert "Blue mug" in page and "€20.00" in page and "Refund…" in page
    refund(staff, charge, 500)
    page = client.get("/money/refunds/").content.decode()
    assert "€5.00" in page and "Refund…" in page
    refund(staff, charge, 1500)
    page = client.get("/money/refunds/").content.decode()
    assert "Fully refunded" in page and "Refund…" not in page
