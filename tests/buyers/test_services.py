from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from buyers import services
from buyers.models import Order, Purchase
from marketplace.errors import PaymentError, UserFacingError
from sellers.models import Listing, Seller
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.factories import UserFactory
from tests.stripe_fake import refusal

pytestmark = pytest.mark.django_db


def stock_of(listing):
    listing.refresh_from_db()
    return listing.stock, listing.reserved, listing.sold


# --- order_create --------------------------------------------------------------------------------


def test_order_create_reserves_stock_and_snapshots_price_and_fee(buyer, listing, settings):
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 30
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=2)
    assert order.status == Order.Status.PENDING
    assert (order.title, order.unit_amount, order.quantity, order.currency) == (
        "Blue mug",
        2500,
        2,
        "eur",
    )
    assert order.amount == 5000
    assert order.application_fee_amount == 530  # 10 % of 50.00 + 0.30
    assert order.seller == listing.seller and order.buyer_email == "buyer@example.com"
    assert stock_of(listing) == (3, 2, 0)
    # The deadline leaves Stripe its 30-minute minimum for the session.
    assert order.expires_at - timezone.now() >= settings.CHECKOUT_EXPIRY

    # The price changing later never touches the order.
    Listing.objects.filter(pk=listing.pk).update(price_amount=9900)
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 5000
    order.refresh_from_db()
    assert (order.amount, order.application_fee_amount) == (5000, 530)


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "at least 1"),
        (-1, "at least 1"),
        (11, "at most 10"),
        (4, "Only 3 left"),
    ],
)
def test_order_create_refuses_bad_quantities(buyer, listing, quantity, message):
    with pytest.raises(UserFacingError, match=message):
        services.order_create(buyer=buyer, listing_id=listing.pk, quantity=quantity)
    assert stock_of(listing) == (3, 0, 0)
    assert not Order.objects.exists()


def test_order_create_refuses_unlimited_stock_above_per_order_maximum(buyer, seller, settings):
    settings.ORDER_MAX_QUANTITY = 3
    unlimited = ListingFactory(seller=seller, stock=None)
    assert services.order_create(buyer=buyer, listing_id=unlimited.pk, quantity=3).quantity == 3
    with pytest.raises(UserFacingError, match="at most 3"):
        services.order_create(buyer=buyer, listing_id=unlimited.pk, quantity=4)
    unlimited.refresh_from_db()
    assert unlimited.reserved == 3 and unlimited.stock is None


def test_sold_out_after_last_unit(buyer, seller):
    last = ListingFactory(seller=seller, stock=1)
    services.order_create(buyer=buyer, listing_id=last.pk, quantity=1)
    with pytest.raises(UserFacingError, match="Sold out"):
        services.order_create(buyer=UserFactory(), listing_id=last.pk, quantity=1)
    assert stock_of(last) == (1, 1, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": Listing.Status.PAUSED}, "Paused by the seller"),
        ({"status": Listing.Status.DRAFT}, "no longer for sale"),
        ({"status": Listing.Status.DELETED}, "no longer for sale"),
    ],
)
def test_order_create_refuses_unavailable_listing(buyer, listing, change, message):
    Listing.objects.filter(pk=listing.pk).update(**change)
    with pytest.raises(UserFacingError, match=message):
        services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    assert stock_of(listing) == (3, 0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": Seller.Status.SUSPENDED}, "This shop is closed"),
        ({"status": Seller.Status.DISCONNECTED}, "This shop is closed"),
        ({"charges_enabled": False}, "Temporarily unavailable"),
    ],
)
def test_order_create_refuses_seller_who_cannot_sell(buyer, listing, change, message):
    Seller.objects.filter(pk=listing.seller_id).update(**change)
    with pytest.raises(UserFacingError, match=message):
        services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)


def test_seller_cannot_buy_own_listing(listing):
    with pytest.raises(UserFacingError, match="your own listing"):
        services.order_create(buyer=listing.seller.user, listing_id=listing.pk, quantity=1)


def test_unknown_listing(buyer):
    with pytest.raises(UserFacingError, match="no longer for sale"):
        services.order_create(buyer=buyer, listing_id=999999, quantity=1)


def test_same_form_token_returns_the_same_order(buyer, listing):
    token = uuid.uuid4()
    first = services.order_create(
        buyer=buyer, listing_id=listing.pk, quantity=1, client_token=token
    )
    second = services.order_create(
        buyer=buyer, listing_id=listing.pk, quantity=1, client_token=token
    )
    assert first.pk == second.pk
    assert stock_of(listing) == (3, 1, 0)


# --- checkout ------------------------------------------------------------------------------------


def test_checkout_session_is_a_destination_charge_with_the_stored_fee(
    buyer, listing, fake_stripe, settings
):
    settings.SITE_URL = "https://shop.example.com"
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=2)
    url = services.order_checkout_url(order_id=order.pk)
    call = fake_stripe.create_calls[0]
    assert call["destination"] == listing.seller.stripe_account_id
    assert call["application_fee_amount"] == order.application_fee_amount
    line = call["lines"][0]
    assert (line.unit_amount, line.quantity, call["currency"]) == (2500, 2, "eur")
    assert line.title == "Blue mug" and call["customer_email"] == "buyer@example.com"
    assert call["order_id"] == order.pk and call["on_behalf_of"] is False
    assert call["purchase_id"] == order.purchase_id and call["transfer_group"] is None
    assert call["idempotency_key"] == f"purchase-{order.purchase_id}-checkout"
    assert call["expires_at"] == int(order.expires_at.timestamp())
    assert call["success_url"] == (
        "https://shop.example.com/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert call["cancel_url"] == f"https://shop.example.com/orders/{order.pk}/checkout/canceled/"
    order.refresh_from_db()
    assert url == order.purchase.checkout_url and order.checkout_session_id.startswith("cs_test_")


def test_on_behalf_of_when_configured(buyer, listing, fake_stripe, settings):
    settings.STRIPE_ON_BEHALF_OF = True
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    services.order_checkout_url(order_id=order.pk)
    assert fake_stripe.create_calls[0]["on_behalf_of"] is True


def test_checkout_twice_makes_one_session(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    first = services.order_checkout_url(order_id=order.pk)
    # A second click after the first stored its session: no call at all.
    assert services.order_checkout_url(order_id=order.pk) == first
    # Two clicks racing: both reach Stripe with the same key and get the same session back.
    Purchase.objects.filter(orders=order.pk).update(checkout_session_id=None, checkout_url="")
    assert services.order_checkout_url(order_id=order.pk) == first
    assert len(fake_stripe.sessions) == 1


def test_stripe_unreachable_leaves_order_pending_and_retry_keeps_the_key(
    buyer, listing, fake_stripe
):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    fake_stripe.down = True
    with pytest.raises(PaymentError, match="try again") as info:
        services.order_checkout_url(order_id=order.pk)
    assert info.value.retryable
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and order.purchase.checkout_last_error
    assert stock_of(listing) == (3, 1, 0)

    fake_stripe.down = False
    url = services.order_checkout_url(order_id=order.pk)
    assert url.startswith("https://checkout.stripe.test/")
    # The lost request may have made the session: the same key finds it instead of a second one.
    assert (
        fake_stripe.create_calls[-1]["idempotency_key"] == f"purchase-{order.purchase_id}-checkout"
    )


@pytest.mark.parametrize(
    ("status", "new_key"), [(500, True), (502, True), (409, False), (429, False)]
)
def test_retry_after_a_stored_error_uses_a_new_key(buyer, listing, fake_stripe, status, new_key):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    fake_stripe.fail["checkout_session_create"] = refusal(status)
    with pytest.raises(PaymentError):
        services.order_checkout_url(order_id=order.pk)
    del fake_stripe.fail["checkout_session_create"]
    services.order_checkout_url(order_id=order.pk)
    expected = (
        f"purchase-{order.purchase_id}-checkout-1"
        if new_key
        else f"purchase-{order.purchase_id}-checkout"
    )
    assert fake_stripe.create_calls[-1]["idempotency_key"] == expected
    assert len(fake_stripe.sessions) == 1


def test_stripe_refusing_the_session_cancels_the_order_and_releases_its_units(
    buyer, listing, fake_stripe
):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    fake_stripe.fail["checkout_session_create"] = refusal(400)
    with pytest.raises(UserFacingError, match="canceled and nothing was charged"):
        services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    assert stock_of(listing) == (3, 0, 0)


def test_retry_after_deadline_moved_close_pushes_the_deadline(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    Purchase.objects.filter(orders=order.pk).update(
        expires_at=timezone.now() + timedelta(minutes=5)
    )
    services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert order.expires_at - timezone.now() > timedelta(minutes=30)
    assert fake_stripe.create_calls[-1]["expires_at"] == int(order.expires_at.timestamp())


def test_checkout_refused_for_paid_or_closed_orders(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    Purchase.objects.filter(orders=order.pk).update(status=Purchase.Status.PAID)
    with pytest.raises(UserFacingError, match="already paid"):
        services.order_checkout_url(order_id=order.pk)
    Purchase.objects.filter(orders=order.pk).update(status=Purchase.Status.EXPIRED)
    with pytest.raises(UserFacingError, match="no longer be paid"):
        services.order_checkout_url(order_id=order.pk)
    assert not fake_stripe.create_calls


# --- fulfilment ---------------------------------------------------------------------------------


def checkout(buyer, listing, fake_stripe, quantity=1):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=quantity)
    services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    return order


def test_fulfil_marks_paid_sells_stock_records_ids_and_emails(
    buyer, listing, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    order = checkout(buyer, listing, fake_stripe, quantity=2)
    fake_stripe.pay(order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at
    assert order.payment_intent_id.startswith("pi_") and order.charge_id.startswith("ch_")
    assert order.transfer_id.startswith("tr_") and order.application_fee_id.startswith("fee_")
    assert order.receipt_url.startswith("https://pay.stripe.test/receipts/")
    assert stock_of(listing) == (3, 0, 2)
    assert sorted(m.to[0] for m in mailoutbox) == ["buyer@example.com", "seller@example.com"]

    # Idempotent: a second call (webhook after the success page) changes nothing, sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        services.order_fulfil(checkout_session_id=order.checkout_session_id)
    assert stock_of(listing) == (3, 0, 2) and len(mailoutbox) == 2


def test_fulfil_of_open_session_does_nothing(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and stock_of(listing) == (3, 1, 0)


def test_unpaid_complete_session_waits_for_async_result(
    buyer, listing, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id, payment_status="unpaid")
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and stock_of(listing) == (3, 1, 0)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_payment_failed(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and stock_of(listing) == (3, 0, 0)
    assert [m.subject for m in mailoutbox] == [f"Payment failed for order #{order.pk}: Blue mug"]


def test_async_payment_succeeded_after_unpaid(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id, payment_status="unpaid")
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    fake_stripe.sessions[order.checkout_session_id]["payment_status"] = "paid"
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock_of(listing) == (3, 0, 1)


def test_payment_failed_event_for_a_paid_session_fulfils_instead(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id)
    services.order_payment_failed(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_webhook_before_our_request_stored_the_session(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    session_id = order.checkout_session_id
    Purchase.objects.filter(orders=order.pk).update(checkout_session_id=None)
    Order.objects.filter(pk=order.pk).update(checkout_session_id=None)
    fake_stripe.pay(session_id)
    services.order_fulfil(checkout_session_id=session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.checkout_session_id == session_id


def test_unknown_session_id_is_refused(db, fake_stripe):
    with pytest.raises(UserFacingError, match="do not know"):
        services.order_fulfil(checkout_session_id="cs_test_forged")


def test_session_of_another_order_never_pays_this_one(buyer, listing, fake_stripe):
    mine = checkout(buyer, listing, fake_stripe)
    other = checkout(UserFactory(), listing, fake_stripe)
    fake_stripe.pay(other.checkout_session_id)
    # Metadata of the other session names the other order: only that one moves.
    services.order_fulfil(checkout_session_id=other.checkout_session_id)
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.status == Order.Status.PENDING and other.status == Order.Status.PAID


def test_amount_mismatch_is_not_marked_paid(buyer, listing, fake_stripe):
    from marketplace.stripe_gateway import GatewayError

    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id)
    fake_stripe.sessions[order.checkout_session_id]["amount_total"] = 1
    with pytest.raises(GatewayError):
        services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


# --- expiry, cancel, late payment -----------------------------------------------------------------


def release(order, status):
    from django.db import transaction

    with transaction.atomic():
        services._release(Purchase.objects.select_for_update().get(orders=order.pk), status)


def test_expired_session_releases_stock(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.expire(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and stock_of(listing) == (3, 0, 0)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    assert stock_of(listing) == (3, 0, 0)


def test_cancel_expires_session_in_stripe_then_releases(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    services.order_close(order_id=order.pk, status=Order.Status.CANCELED)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and order.closed_at
    assert fake_stripe.expire_calls == [order.checkout_session_id]
    assert fake_stripe.sessions[order.checkout_session_id]["status"] == "expired"
    assert stock_of(listing) == (3, 0, 0)


def test_cancel_of_an_order_paid_meanwhile_keeps_it_paid(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id)
    services.order_close(order_id=order.pk, status=Order.Status.CANCELED)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock_of(listing) == (3, 0, 1)


def test_cancel_while_stripe_is_down_keeps_the_reservation(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.down = True
    services.order_close(order_id=order.pk, status=Order.Status.CANCELED)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and stock_of(listing) == (3, 1, 0)


def test_cancel_without_session_releases_immediately(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    services.order_close(order_id=order.pk, status=Order.Status.CANCELED)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and not fake_stripe.expire_calls
    assert stock_of(listing) == (3, 0, 0)


def test_periodic_expiry_expires_stale_orders_only(buyer, listing, fake_stripe):
    stale = checkout(buyer, listing, fake_stripe)
    fresh = checkout(UserFactory(), listing, fake_stripe)
    Purchase.objects.filter(orders=stale.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.orders_expire_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Order.Status.EXPIRED and fresh.status == Order.Status.PENDING
    assert fake_stripe.sessions[stale.checkout_session_id]["status"] == "expired"
    assert stock_of(listing) == (3, 1, 0)


def test_periodic_task_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["buyers-expire-checkouts"]
    assert entry["task"] == "buyers.tasks.expire_stale_orders"
    from buyers import tasks

    assert tasks.expire_stale_orders.name == entry["task"]


def test_late_payment_with_stock_gone_is_refunded_and_buyer_told(
    buyer, seller, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    last = ListingFactory(seller=seller, stock=1, title="Last vase")
    late = checkout(buyer, last, fake_stripe)
    # Our side released the reservation (deadline passed) while the buyer was still paying on
    # Stripe's page, and the last unit went to someone else meanwhile.
    release(late, Order.Status.EXPIRED)
    other = services.order_create(buyer=UserFactory(), listing_id=last.pk, quantity=1)
    services.order_checkout_url(order_id=other.pk)
    other.refresh_from_db()
    fake_stripe.pay(other.checkout_session_id)
    services.order_fulfil(checkout_session_id=other.checkout_session_id)

    # Now the late buyer's payment goes through on the still-open session.
    fake_stripe.pay(late.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_fulfil(checkout_session_id=late.checkout_session_id)
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED
    assert late.refunded_amount == late.amount and late.refund_id.startswith("re_")
    (refund,) = fake_stripe.refunds.values()
    assert refund["reverse_transfer"] and refund["refund_application_fee"]
    assert refund["idempotency_key"] == f"order-{late.pk}-refund"
    assert stock_of(last) == (1, 0, 1)  # sold once, to the other buyer
    assert [m.subject for m in mailoutbox] == [f"Order #{late.pk} refunded: Last vase"]
    assert "sold out meanwhile" in mailoutbox[0].body

    # A redelivered event refunds nothing twice.
    services.order_fulfil(checkout_session_id=late.checkout_session_id)
    assert len(fake_stripe.refunds) == 1


def test_late_payment_with_stock_still_there_is_accepted(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    release(order, Order.Status.EXPIRED)
    fake_stripe.pay(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and stock_of(listing) == (3, 0, 1)
    assert not fake_stripe.refunds


# --- seller fulfilment and transitions ------------------------------------------------------------


def test_seller_marks_paid_order_shipped(
    buyer, listing, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    order = checkout(buyer, listing, fake_stripe)
    with pytest.raises(UserFacingError, match="Only a paid order"):
        services.order_mark_fulfilled(order_id=order.pk, seller=listing.seller)
    fake_stripe.pay(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_mark_fulfilled(order_id=order.pk, seller=listing.seller, note="Colissimo 8R")
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.shipping_note == "Colissimo 8R"
    assert mailoutbox[-1].to == ["buyer@example.com"] and "Colissimo 8R" in mailoutbox[-1].body
    with pytest.raises(Order.DoesNotExist):
        services.order_mark_fulfilled(order_id=order.pk, seller=SellerFactory())


def test_status_never_moves_backwards(buyer, listing):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    order.status = Order.Status.FULFILLED
    with pytest.raises(services.InvalidTransition):
        services._move(order, Order.Status.PAID)
    order.status = Order.Status.REFUNDED
    for status in Order.Status.values:
        assert not order.can_move_to(status)
    order.status = Order.Status.PAID
    assert not order.can_move_to(Order.Status.PENDING)


def test_shipping_address_collected_and_shown_to_seller(
    buyer, listing, fake_stripe, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.CHECKOUT_SHIPPING_COUNTRIES = ["FR", "BE"]
    order = checkout(buyer, listing, fake_stripe)
    assert fake_stripe.create_calls[0]["shipping_countries"] == ["FR", "BE"]
    fake_stripe.pay(order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.shipping_name == "Ada Lovelace"
    assert order.shipping_lines == ["12 rue des Lilas", "75011 Paris", "FR"]
    seller_mail = next(m for m in mailoutbox if m.to == ["seller@example.com"])
    assert "Ada Lovelace" in seller_mail.body and "75011 Paris" in seller_mail.body


def test_shipping_address_collected_by_default_and_none_turns_it_off(
    buyer, listing, fake_stripe, settings
):
    checkout(buyer, listing, fake_stripe)
    assert "FR" in fake_stripe.create_calls[0]["shipping_countries"]
    settings.CHECKOUT_SHIPPING_COUNTRIES = []
    checkout(UserFactory(), listing, fake_stripe)
    assert fake_stripe.create_calls[1]["shipping_countries"] is None


def test_the_none_setting_means_no_shipping_countries(monkeypatch):
    import importlib

    from marketplace import settings as project_settings

    monkeypatch.setenv("CHECKOUT_SHIPPING_COUNTRIES", "none")
    try:
        assert importlib.reload(project_settings).CHECKOUT_SHIPPING_COUNTRIES == []
    finally:
        monkeypatch.undo()
        importlib.reload(project_settings)


def test_paying_an_order_past_its_deadline_expires_it(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    Purchase.objects.filter(orders=order.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(UserFacingError, match="expired"):
        services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and stock_of(listing) == (3, 0, 0)
    assert fake_stripe.sessions[order.checkout_session_id]["status"] == "expired"


def test_seller_unable_to_charge_at_checkout_cancels_the_order(buyer, listing, fake_stripe):
    order = services.order_create(buyer=buyer, listing_id=listing.pk, quantity=1)
    Seller.objects.filter(pk=listing.seller_id).update(charges_enabled=False)
    with pytest.raises(UserFacingError, match="nothing was charged"):
        services.order_checkout_url(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED and stock_of(listing) == (3, 0, 0)
    assert not fake_stripe.create_calls


def test_paid_and_refunded_hooks_run_in_the_same_transaction(
    buyer, seller, fake_stripe, monkeypatch
):
    paid, refunded = [], []
    monkeypatch.setattr(services.hooks, "ORDER_PAID_HOOKS", [lambda o: paid.append(o.status)])
    monkeypatch.setattr(
        services.hooks, "ORDER_REFUNDED_HOOKS", [lambda o: refunded.append(o.status)]
    )
    listing = ListingFactory(seller=seller, stock=1)
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    assert paid == ["paid"] and refunded == []

    def failing(order):
        raise RuntimeError("ledger down")

    monkeypatch.setattr(services.hooks, "ORDER_PAID_HOOKS", [failing])
    other = checkout(UserFactory(), ListingFactory(seller=seller, stock=1), fake_stripe)
    fake_stripe.pay(other.checkout_session_id)
    with pytest.raises(RuntimeError):
        services.order_fulfil(checkout_session_id=other.checkout_session_id)
    other.refresh_from_db()
    assert other.status == Order.Status.PENDING  # rolled back: the webhook will retry


def test_seller_refunds_partial_then_full(
    buyer, listing, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    order = checkout(buyer, listing, fake_stripe, quantity=2)
    fake_stripe.pay(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_record_refund(order_id=order.pk, refund_id="re_1", refunded_total=1000)
        services.order_record_refund(order_id=order.pk, refund_id="re_1", refunded_total=1000)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 1000
    assert len(mailoutbox) == 1 and "€10.00 of €50.00" in mailoutbox[0].body
    services.order_record_refund(order_id=order.pk, refund_id="re_2", refunded_total=5000)
    services.order_record_refund(order_id=order.pk, refund_id="re_1", refunded_total=1000)  # late
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED and order.refunded_amount == 5000
    with pytest.raises(ValueError):
        services.order_record_refund(order_id=order.pk, refund_id="re_3", refunded_total=5001)


def test_refund_of_another_charge_leaves_the_order_alone(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    fake_stripe.pay(order.checkout_session_id)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    order.refresh_from_db()
    assert order.charge_id
    # A stray charge of the same order (refunded automatically) is not this order's refund.
    services.order_record_refund(
        order_id=order.pk, refund_id="re_stray", refunded_total=order.amount, charge_id="ch_stray"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.refunded_amount == 0
    services.order_record_refund(
        order_id=order.pk,
        refund_id="re_own",
        refunded_total=order.amount,
        charge_id=order.charge_id,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_a_paid_stray_session_of_an_order_is_refunded_not_counted(buyer, listing, fake_stripe):
    order = checkout(buyer, listing, fake_stripe)
    # A second session for the same order (say a lost response, then a new key).
    stray = fake_stripe.checkout_session_create(
        **{**fake_stripe.create_calls[0], "idempotency_key": "other-key"}
    )
    fake_stripe.pay(stray.id)
    services.order_fulfil(checkout_session_id=stray.id)
    services.order_fulfil(checkout_session_id=stray.id)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and stock_of(listing) == (3, 1, 0)
    (refund,) = fake_stripe.refunds.values()
    assert refund["idempotency_key"] == f"purchase-{order.purchase_id}-refund-{stray.id}"
