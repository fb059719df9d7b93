"""The cart's "bad input and failure" cases not covered elsewhere: a listing deleted or a seller
suspended while in the cart, tampered line ids (another buyer's line, a listing never added, an
id that is no number), a seller's own listing through the page; and what a seller's sale page
of a several-seller purchase does not show (the other sellers' lines, the buyer's payment)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from buyers import cart as carts
from buyers.models import CartItem, Purchase
from marketplace.errors import UserFacingError
from sellers.models import Listing, Seller
from tests.buyers.factories import ListingFactory
from tests.buyers.test_cart import fill, other_seller, pay, stock_of, vase  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("change", ["listing deleted", "seller suspended"])
def test_a_line_that_left_the_shop_is_flagged_and_nothing_is_reserved(
    buyer,
    listing,
    vase,  # noqa: F811
    change,
):
    fill(buyer, (listing, 1), (vase, 1))
    if change == "listing deleted":
        Listing.objects.filter(pk=vase.pk).update(status=Listing.Status.DELETED)
    else:
        Seller.objects.filter(pk=vase.seller_id).update(status=Seller.Status.SUSPENDED)
    [group] = carts.cart_read(user=buyer, session={}).currencies
    flagged = [line for line in group.lines if line.problem]
    assert [line.listing.pk for line in flagged] == [vase.pk] and not group.payable
    with pytest.raises(UserFacingError, match="review"):
        carts.cart_checkout(buyer=buyer, currency="eur", client_token=None)
    assert not Purchase.objects.exists()
    assert stock_of(listing) == (3, 0, 0) and stock_of(vase) == (2, 0, 0)
    assert CartItem.objects.filter(buyer=buyer).count() == 2  # nothing lost: the buyer decides


def test_tampered_line_ids_touch_nobody_elses_cart(client, buyer, listing, vase):  # noqa: F811
    other = UserFactory()
    fill(other, (vase, 2))
    fill(buyer, (listing, 1))
    client.force_login(buyer)
    # A line of another buyer's cart, a listing never added, an unknown id: a message, no 500.
    for pk in (vase.pk, ListingFactory().pk, 999_999):
        response = client.post(
            reverse("buyers:cart_quantity", args=[pk]), {"quantity": 1}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 400
        assert "not in your cart" in response.content.decode()
        response = client.post(
            reverse("buyers:cart_accept_price", args=[pk]), HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 400
        client.post(reverse("buyers:cart_remove", args=[pk]), HTTP_HX_REQUEST="true")
    assert client.post("/cart/abc/quantity/", {"quantity": 1}).status_code == 404
    assert client.post("/cart/-1/remove/").status_code == 404
    assert CartItem.objects.get(buyer=other).quantity == 2
    assert CartItem.objects.get(buyer=buyer).quantity == 1


def test_a_seller_cannot_put_their_own_listing_in_the_cart_through_the_page(
    client, seller, listing
):
    client.force_login(seller.user)
    response = client.post(
        reverse("buyers:cart_add", args=[listing.pk]), {"quantity": 1}, follow=True
    )
    assert response.status_code == 200 and "your own" in response.content.decode()
    assert not CartItem.objects.exists()


def test_a_sellers_sale_page_shows_neither_the_other_sellers_lines_nor_the_payment(
    client,
    seller,
    pay,  # noqa: F811
):
    purchase = pay()
    mine = purchase.orders.get(seller=seller)
    client.force_login(seller.user)
    page = client.get(reverse("buyers:sale_detail", args=[mine.pk])).content.decode()
    assert "Blue mug" in page and "Green vase" not in page
    for secret in (purchase.charge_id, purchase.payment_intent_id, purchase.receipt_url):
        assert not secret or secret not in page
    assert "€65.00" not in page  # the purchase's total: only this order's amount is shown
