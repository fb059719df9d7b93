"""The cart and several-seller purchases: services and views (in-memory Stripe)."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from buyers import cart as carts
from buyers import services
from buyers.models import CartItem, Order, OrderLine, Purchase
from marketplace.errors import UserFacingError
from sellers.models import Listing
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.factories import UserFactory
from tests.stripe_fake import NO_TRANSFERS

pytestmark = pytest.mark.django_db


def stock_of(listing):
    listing.refresh_from_db()
    return listing.stock, listing.reserved, listing.sold


@pytest.fixture
def other_seller(db):
    return SellerFactory(user=UserFactory(email="glass@example.com"), display_name="Glass Works")


@pytest.fixture
def vase(other_seller):
    return ListingFactory(seller=other_seller, title="Green vase", price_amount=4000, stock=2)


def fill(buyer, *pairs):
    for listing, quantity in pairs:
        carts.cart_add(user=buyer, session={}, listing_id=listing.pk, quantity=quantity)


# --- the cart ------------------------------------------------------------------------------------


def test_cart_groups_by_seller_with_subtotals_and_total(buyer, listing, vase):
    fill(buyer, (listing, 2), (vase, 1))
    cart = carts.cart_read(user=buyer, session={})
    [group] = cart.currencies
    assert [g.seller.display_name for g in group.sellers] == ["Pottery Co", "Glass Works"]
    assert [str(g.subtotal) for g in group.sellers] == ["€50.00", "€40.00"]
    assert str(group.total) == "€90.00" and group.payable and cart.count == 3


def test_adding_again_adds_up_within_stock_and_the_maximum(buyer, listing, settings):
    settings.ORDER_MAX_QUANTITY = 5
    fill(buyer, (listing, 2))
    with pytest.raises(UserFacingError, match="Only 3 left"):
        fill(buyer, (listing, 2))
    fill(buyer, (listing, 1))
    assert CartItem.objects.get(buyer=buyer).quantity == 3
    listing.stock = 50
    listing.save()
    with pytest.raises(UserFacingError, match="at most 5"):
        fill(buyer, (listing, 3))


@pytest.mark.parametrize(
    ("quantity", "message"), [(0, "at least 1"), (-2, "at least 1"), ("2", "how many")]
)
def test_bad_quantities_are_refused(buyer, listing, quantity, message):
    with pytest.raises(UserFacingError, match=message):
        carts.cart_add(user=buyer, session={}, listing_id=listing.pk, quantity=quantity)
    assert not CartItem.objects.exists()


def test_own_paused_and_unknown_listings_are_refused(buyer, seller, listing):
    with pytest.raises(UserFacingError, match="your own"):
        carts.cart_add(user=seller.user, session={}, listing_id=listing.pk, quantity=1)
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.PAUSED)
    with pytest.raises(UserFacingError, match="Paused"):
        fill(buyer, (listing, 1))
    with pytest.raises(UserFacingError, match="no longer for sale"):
        carts.cart_add(user=buyer, session={}, listing_id=999999, quantity=1)


def test_changed_price_and_unavailable_lines_are_flagged_and_not_payable(buyer, listing, vase):
    fill(buyer, (listing, 1), (vase, 1))
    Listing.objects.filter(pk=listing.pk).update(price_amount=2700)
    Listing.objects.filter(pk=vase.pk).update(status=Listing.Status.PAUSED)
    [group] = carts.cart_read(user=buyer, session={}).currencies
    mug, glass = group.lines
    assert mug.price_changed and "from €25.00 to €27.00" in mug.problem
    assert glass.problem == "Paused by the seller." and not group.payable
    with pytest.raises(UserFacingError, match="review"):
        carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    assert not Purchase.objects.exists() and stock_of(listing) == (3, 0, 0)

    carts.cart_accept_price(user=buyer, session={}, listing_id=listing.pk)
    carts.cart_remove(user=buyer, session={}, listing_id=vase.pk)
    [group] = carts.cart_read(user=buyer, session={}).currencies
    assert group.payable and str(group.total) == "€27.00"


def test_quantity_change_keeps_the_seen_price_and_zero_removes(buyer, listing):
    fill(buyer, (listing, 1))
    Listing.objects.filter(pk=listing.pk).update(price_amount=3000)
    carts.cart_set_quantity(user=buyer, session={}, listing_id=listing.pk, quantity=2)
    item = CartItem.objects.get()
    assert (item.quantity, item.unit_amount_seen) == (2, 2500)
    carts.cart_set_quantity(user=buyer, session={}, listing_id=listing.pk, quantity=0)
    assert not CartItem.objects.exists()
    with pytest.raises(UserFacingError, match="not in your cart"):
        carts.cart_set_quantity(user=buyer, session={}, listing_id=listing.pk, quantity=1)


def test_session_cart_is_merged_at_sign_in(buyer, listing, vase, settings):
    from django.contrib.auth.models import AnonymousUser

    settings.ORDER_MAX_QUANTITY = 3
    session: dict = {}
    anonymous = AnonymousUser()
    carts.cart_add(user=anonymous, session=session, listing_id=listing.pk, quantity=2)
    carts.cart_add(user=anonymous, session=session, listing_id=vase.pk, quantity=1)
    session["cart"]["x"] = {"q": "lots"}  # tampered lines are dropped, never trusted
    fill(buyer, (listing, 2))
    assert carts.cart_merge_session(user=buyer, session=session) == 2
    assert "cart" not in session
    rows = dict(CartItem.objects.filter(buyer=buyer).values_list("listing_id", "quantity"))
    assert rows == {listing.pk: 3, vase.pk: 1}  # 2 + 2 capped at the maximum


def test_lines_in_other_currencies_are_paid_separately(buyer, listing, other_seller, fake_stripe):
    dollar = ListingFactory(seller=other_seller, title="Print", price_amount=900, currency="usd")
    fill(buyer, (listing, 1), (dollar, 1))
    cart = carts.cart_read(user=buyer, session={})
    assert [g.currency for g in cart.currencies] == ["eur", "usd"]
    purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    assert purchase.currency == "eur" and purchase.amount == 2500
    assert list(CartItem.objects.values_list("listing_id", flat=True)) == [dollar.pk]


# --- checkout of several sellers ---------------------------------------------------------------


def test_checkout_makes_one_purchase_with_one_order_per_seller(buyer, listing, vase, settings):
    settings.MARKETPLACE_DEFAULT_FEE_BPS = 1000
    settings.MARKETPLACE_DEFAULT_FEE_FIXED = 30
    extra = ListingFactory(seller=listing.seller, title="Cup", price_amount=1000, stock=5)
    fill(buyer, (listing, 2), (extra, 1), (vase, 1))
    purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4())
    assert purchase.charge_type == Purchase.ChargeType.SEPARATE
    assert (purchase.amount, purchase.application_fee_amount) == (10000, 630 + 430)
    pottery, glass = purchase.orders.order_by("pk")
    assert (pottery.amount, pottery.application_fee_amount, pottery.quantity) == (6000, 630, 3)
    assert pottery.title == "Blue mug + 1 more" and pottery.listing is None
    assert (glass.amount, glass.application_fee_amount, glass.listing) == (4000, 430, vase)
    assert list(pottery.lines.values_list("title", "unit_amount", "quantity")) == [
        ("Blue mug", 2500, 2),
        ("Cup", 1000, 1),
    ]
    assert stock_of(listing) == (3, 2, 0) and stock_of(vase) == (2, 1, 0)
    assert not CartItem.objects.exists()


def test_one_line_sold_out_reserves_nothing(buyer, listing, vase):
    fill(buyer, (listing, 2), (vase, 2))
    Listing.objects.filter(pk=vase.pk).update(reserved=1)  # someone else took one meanwhile
    with pytest.raises(UserFacingError):
        carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    assert stock_of(listing) == (3, 0, 0) and not Order.objects.exists()
    assert CartItem.objects.count() == 2


def test_price_changed_between_page_and_checkout_is_refused(buyer, listing, vase):
    lines = [
        services.LineRequest(listing_id=listing.pk, quantity=1, unit_amount=2500),
        services.LineRequest(listing_id=vase.pk, quantity=1, unit_amount=3900),
    ]
    with pytest.raises(UserFacingError, match="Green vase: The price changed"):
        services.purchase_create(buyer=buyer, lines=lines)
    assert stock_of(listing) == (3, 0, 0) and not Purchase.objects.exists()


def test_second_tab_finds_the_cart_already_checked_out(buyer, listing, vase):
    fill(buyer, (listing, 1), (vase, 1))
    first = carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4())
    with pytest.raises(UserFacingError, match="another tab"):
        carts.cart_checkout(buyer=buyer, currency="eur", client_token=uuid.uuid4())
    assert Purchase.objects.get() == first and stock_of(listing) == (3, 1, 0)


def test_several_sellers_checkout_is_a_platform_charge_with_a_transfer_group(
    buyer, listing, vase, fake_stripe
):
    fill(buyer, (listing, 1), (vase, 1))
    purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    services.purchase_checkout_url(purchase_id=purchase.pk)
    [call] = fake_stripe.create_calls
    assert call["transfer_group"] == f"purchase-{purchase.pk}"
    assert call["destination"] is None and call["application_fee_amount"] is None
    assert [(line.title, line.quantity) for line in call["lines"]] == [
        ("Blue mug", 1),
        ("Green vase", 1),
    ]
    assert call["idempotency_key"] == f"purchase-{purchase.pk}-checkout"


@pytest.fixture
def pay(buyer, listing, vase, fake_stripe, django_capture_on_commit_callbacks):
    """Check out a cart of both sellers and pay it; the after-commit work (emails, the
    transfer job) runs."""

    def paid() -> Purchase:
        fill(buyer, (listing, 1), (vase, 1))
        purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
        services.purchase_checkout_url(purchase_id=purchase.pk)
        purchase.refresh_from_db()
        fake_stripe.pay(purchase.checkout_session_id)
        with django_capture_on_commit_callbacks(execute=True):
            services.purchase_fulfil(checkout_session_id=purchase.checkout_session_id)
        purchase.refresh_from_db()
        return purchase

    return paid


def test_paid_purchase_transfers_each_seller_their_share_once(
    buyer, listing, vase, fake_stripe, mailoutbox, pay
):
    purchase = pay()
    assert purchase.status == Purchase.Status.PAID and purchase.charge_id.startswith("ch_")
    orders = list(purchase.orders.order_by("pk"))
    assert [o.status for o in orders] == [Order.Status.PAID, Order.Status.PAID]
    assert [o.transfer_status for o in orders] == [Order.TransferStatus.PAID] * 2
    assert stock_of(listing) == (3, 0, 1) and stock_of(vase) == (2, 0, 1)
    transfers = list(fake_stripe.transfers.values())
    assert [(t["amount"], t["destination"]) for t in transfers] == [
        (o.amount - o.application_fee_amount, o.seller.stripe_account_id) for o in orders
    ]
    assert {t["source_transaction"] for t in transfers} == {purchase.charge_id}
    assert [t["idempotency_key"] for t in transfers] == [
        f"purchase-{purchase.pk}-seller-{o.seller_id}-transfer" for o in orders
    ]
    assert [o.transfer_id for o in orders] == [t["id"] for t in transfers]
    # A replayed webhook, the success page and the job again: nothing more.
    services.purchase_fulfil(checkout_session_id=purchase.checkout_session_id)
    services.purchase_transfers_create(purchase_id=purchase.pk)
    assert len(fake_stripe.transfers) == 2
    # Each seller and the buyer heard about the payment.
    assert {m.to[0] for m in mailoutbox} >= {"seller@example.com", "glass@example.com"}


def test_a_refused_transfer_waits_and_is_retried_without_paying_twice(
    buyer, listing, vase, fake_stripe, pay
):
    from datetime import timedelta

    from django.utils import timezone

    fake_stripe.fail["transfer_create"] = NO_TRANSFERS
    purchase = pay()
    orders = list(purchase.orders.order_by("pk"))
    assert [o.transfer_status for o in orders] == [Order.TransferStatus.FAILED] * 2
    assert "transfers" in orders[0].transfer_last_error and orders[0].transfer_attempts == 1
    assert orders[0].transfer_next_attempt_at > timezone.now()
    assert services.transfers_retry_due() == 0  # backoff not over yet

    del fake_stripe.fail["transfer_create"]
    later = timezone.now() + timedelta(hours=1)
    assert services.transfers_retry_due(now=later) == 2
    assert len(fake_stripe.transfers) == 2
    assert next(iter(fake_stripe.transfers.values()))["idempotency_key"].endswith("-transfer-1")
    # The transfer was made but our worker died before recording it: the next run finds it.
    Order.objects.filter(pk=orders[0].pk).update(
        transfer_status=Order.TransferStatus.FAILED, transfer_id="", transfer_attempts=2
    )
    assert services.transfers_retry_due(now=later) == 1
    assert len(fake_stripe.transfers) == 2
    orders[0].refresh_from_db()
    assert orders[0].transfer_id == next(iter(fake_stripe.transfers.values()))["id"]


def test_expiry_releases_every_line_together(buyer, listing, vase, fake_stripe):
    fill(buyer, (listing, 2), (vase, 1))
    purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    services.purchase_checkout_url(purchase_id=purchase.pk)
    purchase.refresh_from_db()
    fake_stripe.expire(purchase.checkout_session_id)
    services.purchase_fulfil(checkout_session_id=purchase.checkout_session_id)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.EXPIRED
    assert set(purchase.orders.values_list("status", flat=True)) == {Order.Status.EXPIRED}
    assert stock_of(listing) == (3, 0, 0) and stock_of(vase) == (2, 0, 0)


def test_late_payment_of_several_sellers_with_stock_gone_is_refunded_without_reversal(
    buyer, listing, vase, fake_stripe
):
    from django.db import transaction

    fill(buyer, (listing, 1), (vase, 2))
    purchase = carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    services.purchase_checkout_url(purchase_id=purchase.pk)
    with transaction.atomic():
        services._release(Purchase.objects.select_for_update().get(pk=purchase.pk), "expired")
    Listing.objects.filter(pk=vase.pk).update(sold=1)  # one vase went to someone else
    purchase.refresh_from_db()
    fake_stripe.pay(purchase.checkout_session_id)
    services.purchase_fulfil(checkout_session_id=purchase.checkout_session_id)
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.REFUNDED
    [refund] = fake_stripe.refunds.values()
    assert refund["reverse_transfer"] is False
    assert stock_of(listing) == (3, 0, 0)  # nothing kept of a purchase refunded in full
    assert not fake_stripe.transfers


# --- views ---------------------------------------------------------------------------------------


def test_cart_page_and_htmx_quantity_change(client, buyer, listing, vase):
    client.force_login(buyer)
    client.post(reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 1})
    client.post(reverse("buyers:cart_add", args=[vase.pk]), {"quantity": 1})
    page = client.get(reverse("buyers:cart")).content.decode()
    assert "Pottery Co" in page and "Glass Works" in page and "Pay €65.00" in page
    response = client.post(
        reverse("buyers:cart_quantity", args=[listing.pk]), {"quantity": 3}, HTTP_HX_REQUEST="true"
    )
    part = response.content.decode()
    assert response.status_code == 200 and "<html" not in part and "Pay €115.00" in part
    response = client.post(
        reverse("buyers:cart_quantity", args=[listing.pk]), {"quantity": 9}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and "Only 3 left" in response.content.decode()
    assert CartItem.objects.get(listing=listing).quantity == 3


def test_anonymous_cart_follows_the_visitor_through_log_in(client, buyer, listing):
    buyer.set_password("pw-long-enough-123")
    buyer.save()
    client.post(reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 2})
    assert "Blue mug" in client.get(reverse("buyers:cart")).content.decode()
    response = client.post(
        reverse("account_login"), {"login": buyer.email, "password": "pw-long-enough-123"}
    )
    assert response.status_code in (302, 303)
    assert CartItem.objects.get(buyer=buyer).quantity == 2


def test_cart_checkout_view_goes_to_stripe(client, buyer, listing, vase, fake_stripe):
    client.force_login(buyer)
    fill(buyer, (listing, 1), (vase, 1))
    response = client.post(
        reverse("buyers:cart_checkout"), {"currency": "eur", "client_token": str(uuid.uuid4())}
    )
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/pay/cs_test_")


def test_a_buyer_sees_only_their_purchases(client, buyer, listing, vase, fake_stripe, pay):
    purchase = pay()
    client.force_login(buyer)
    page = client.get(reverse("buyers:purchase_detail", args=[purchase.pk])).content.decode()
    assert "Pottery Co" in page and "Glass Works" in page
    client.force_login(UserFactory())
    for name in ("purchase_detail", "order_detail"):
        pk = purchase.pk if name == "purchase_detail" else purchase.orders.first().pk
        assert client.get(reverse(f"buyers:{name}", args=[pk])).status_code == 404
    assert client.post(reverse("buyers:purchase_pay", args=[purchase.pk])).status_code == 404


def test_a_seller_sees_only_their_own_order_of_a_purchase(
    client, buyer, seller, listing, vase, fake_stripe, pay
):
    purchase = pay()
    mine = purchase.orders.get(seller=seller)
    theirs = purchase.orders.exclude(seller=seller).get()
    client.force_login(seller.user)
    page = client.get(reverse("buyers:sale_detail", args=[mine.pk])).content.decode()
    assert "Blue mug" in page and "Green vase" not in page
    assert client.get(reverse("buyers:sale_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("buyers:purchase_detail", args=[purchase.pk])).status_code == 404
    assert "Green vase" not in client.get(reverse("buyers:sale_list")).content.decode()
    assert OrderLine.objects.filter(order__seller=seller).count() == 1


def test_staff_see_a_failed_transfer_with_its_reason(client, fake_stripe, pay):
    from tests.factories import StaffFactory, log_in_with_totp

    fake_stripe.fail["transfer_create"] = NO_TRANSFERS
    purchase = pay()
    log_in_with_totp(client, StaffFactory())
    page = client.get(reverse("payouts:transfers")).content.decode()
    assert "Waiting to be transferred" in page and "capabilities enabled: transfers" in page
    assert f"purchase #{purchase.pk}" in page
    client.force_login(UserFactory())
    assert client.get(reverse("payouts:transfers")).status_code in (302, 404)
