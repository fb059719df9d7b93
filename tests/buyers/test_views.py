from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from buyers import services
from buyers.models import Order
from marketplace.errors import UserFacingError
from sellers.models import Listing, ListingImage
from tests.buyers.factories import CategoryFactory, ListingFactory, SellerFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def html(response):
    return response.content.decode()


# --- catalogue -----------------------------------------------------------------------------------


def test_home_is_the_catalogue_with_htmx_filters(client, listing):
    response = client.get("/")
    assert response.status_code == 200 and response.resolver_match.url_name == "home"
    page = html(response)
    assert "Blue mug" in page and "€25.00" in page and "Pottery Co" in page
    form = re.search(r"<form[^>]*role=\"search\"[^>]*>", page).group(0)
    assert 'hx-get="/"' in form and 'hx-target="#results"' in form
    assert 'hx-push-url="true"' in form


def test_htmx_request_gets_only_the_results_partial(client, listing):
    ListingFactory(seller=listing.seller, title="Red bowl")
    response = client.get("/", {"q": "bowl"}, **HTMX)
    page = html(response)
    assert page.lstrip().startswith('<section id="results"')
    assert "Red bowl" in page and "Blue mug" not in page
    assert "<html" not in page and "<form" not in page


def test_filters_in_the_url_survive_reload(client, listing):
    CategoryFactory(name="Mugs", slug="mugs")
    response = client.get("/", {"q": "mug", "category": "mugs", "sort": "price_desc"})
    page = html(response)
    assert 'value="mug"' in page
    assert '<option value="mugs" selected>' in page
    assert '<option value="price_desc" selected>' in page


def test_bad_filter_values_never_500(client, listing):
    response = client.get(
        "/", {"min_price": "abc", "sort": "evil", "cursor": "%%%", "category": "a b"}
    )
    assert response.status_code == 200
    assert "Blue mug" in html(response)


def test_next_page_link_keeps_filters(client, seller):
    for i in range(30):
        ListingFactory(seller=seller, title=f"mug {i}")
    page = html(client.get("/", {"q": "mug", "sort": "price_asc"}))
    link = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "q=mug" in link and "sort=price_asc" in link and "cursor=" in link
    second = html(client.get(link))
    assert "First page" in second and "Next page" not in second


@pytest.mark.parametrize("logged_in", [False, True])
def test_catalogue_query_count_is_constant(client, seller, logged_in):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    if logged_in:
        client.force_login(UserFactory())
    listing = ListingFactory(seller=seller)
    ListingImage.objects.create(listing=listing, image="listings/a.jpg")
    few = count()
    cache.clear()  # the filter choices are cached for a minute
    for _ in range(30):
        ListingImage.objects.create(
            listing=ListingFactory(seller=SellerFactory(), category=CategoryFactory()),
            image="listings/b.jpg",
        )
    cache.clear()
    many = count()
    assert few == many
    # listings, categories, sellers; signed in: + session, user, the nav's seller link
    assert many == (3 if not logged_in else 6)
    assert count() == (1 if not logged_in else 4)  # filter choices cached


def _results(page: str) -> str:
    return re.search(r'<section id="results".*?</section>', page, re.S).group(0)


def _cards_rendered(response) -> int:
    return sum(t.name == "components/listing_card.html" for t in response.templates)


def test_catalogue_cards_are_cached_and_identical_to_a_fresh_render(client, seller):
    for i in range(5):
        ListingFactory(seller=seller, title=f"Cup {i}", stock=2 if i % 2 else None)
    cache.clear()
    cold = client.get("/")
    warm = client.get("/")
    assert _cards_rendered(cold) == 5 and _cards_rendered(warm) == 0  # served from the cache
    assert _results(html(cold)) == _results(html(warm))
    assert html(warm).count('class="card listing-card"') == 5
    assert 'href="/listing/' in _results(html(warm)) and 'href="/shop/' in _results(html(warm))


def test_catalogue_card_shows_a_change_at_once(client, listing):
    client.get("/")  # the card is cached now
    # Changed behind the model's back (no updated_at bump): the card still follows.
    Listing.objects.filter(pk=listing.pk).update(price_amount=1999, sold=3)
    page = _results(html(client.get("/")))
    assert "€19.99" in page and "€25.00" not in page and "Sold out" in page
    Listing.objects.filter(pk=listing.pk).update(sold=1)
    page = _results(html(client.get("/")))
    assert "Sold out" not in page and "2 left" in page
    listing.seller.display_name = "Pottery & Sons"
    listing.seller.save()
    page = _results(html(client.get("/")))
    assert "Pottery &amp; Sons" in page and "Pottery Co" not in page


def test_listing_page(client, listing):
    page = html(client.get(reverse("buyers:listing", args=[listing.pk])))
    assert "Blue mug" in page and "€25.00" in page and "3 left in stock" in page
    assert "Add to cart" in page and "to buy now" in page
    assert "placeholder" in page  # no image


def test_catalogue_marks_unavailable_listings(client, listing):
    from sellers.models import Seller

    Seller.objects.filter(pk=listing.seller_id).update(charges_enabled=False)
    page = html(client.get("/"))
    assert "Blue mug" in page and "Unavailable" in page


def test_listing_page_says_why_not_purchasable(client, listing):
    Listing.objects.filter(pk=listing.pk).update(sold=3)
    page = html(client.get(reverse("buyers:listing", args=[listing.pk])))
    assert "Sold out" in page and "Buy now" not in page


def test_draft_listing_is_404(client, listing):
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.DRAFT)
    assert client.get(reverse("buyers:listing", args=[listing.pk])).status_code == 404


def test_shop_page(client, listing):
    ListingFactory(seller=SellerFactory(), title="Elsewhere")
    page = html(client.get(reverse("buyers:shop", args=[listing.seller.slug])))
    assert "Pottery Co" in page and "Blue mug" in page and "Elsewhere" not in page
    assert client.get(reverse("buyers:shop", args=["nope"])).status_code == 404


# --- buying --------------------------------------------------------------------------------------


def buy(client, listing, quantity=1, token=None):
    data = {"quantity": quantity}
    if token:
        data["client_token"] = token
    return client.post(reverse("buyers:listing_buy", args=[listing.pk]), data)


def test_buy_redirects_303_to_checkout(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    response = buy(client, listing, 2)
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/pay/cs_test_")
    order = Order.objects.get()
    assert order.quantity == 2 and order.buyer == buyer


def test_buy_requires_login(client, listing, fake_stripe):
    response = buy(client, listing)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Order.objects.exists()


def test_browser_cannot_change_price_or_fee(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    client.post(
        reverse("buyers:listing_buy", args=[listing.pk]),
        {"quantity": 1, "price_amount": 1, "unit_amount": 1, "application_fee_amount": 0},
    )
    call = fake_stripe.create_calls[0]
    assert call["lines"][0].unit_amount == 2500 and call["application_fee_amount"] == 280


def test_double_click_makes_one_order_and_one_session(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    token = "6f1c1c9e-2a5e-4c1e-9a57-3b1f8f0b0a11"
    first = buy(client, listing, 1, token)
    second = buy(client, listing, 1, token)
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1 and len(fake_stripe.sessions) == 1
    listing.refresh_from_db()
    assert listing.reserved == 1


@pytest.mark.parametrize(
    ("quantity", "message"),
    [("0", "at least 1"), ("-3", "at least 1"), ("abc", "whole number"), ("99", "at most 10")],
)
def test_bad_quantity_shows_message(client, buyer, listing, fake_stripe, quantity, message):
    client.force_login(buyer)
    response = buy(client, listing, quantity)
    assert response.status_code == 303 and response["Location"].endswith(f"/listing/{listing.pk}/")
    page = html(client.get(response["Location"]))
    assert message in page
    assert not Order.objects.exists()


def test_own_listing_cannot_be_bought(client, listing, fake_stripe):
    client.force_login(listing.seller.user)
    assert "your own listing" in html(client.get(reverse("buyers:listing", args=[listing.pk])))
    response = buy(client, listing)
    assert "cannot buy your own listing" in html(client.get(response["Location"]))
    assert not Order.objects.exists()


def test_listing_gone_between_page_and_click(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.PAUSED)
    response = buy(client, listing)
    assert "Paused by the seller" in html(client.get(response["Location"]))


def test_stripe_down_lands_on_order_page_with_retry(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    fake_stripe.down = True
    response = buy(client, listing)
    order = Order.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("buyers:order_detail", args=[order.pk])
    page = html(client.get(response["Location"]))
    assert "payment provider" in page and "Pay now" in page
    fake_stripe.down = False
    retry = client.post(reverse("buyers:order_pay", args=[order.pk]))
    assert retry.status_code == 303 and retry["Location"].startswith(
        "https://checkout.stripe.test/"
    )


# --- returning from Checkout ---------------------------------------------------------------------


def paid_order(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    buy(client, listing)
    order = Order.objects.get(buyer=buyer)
    fake_stripe.pay(order.checkout_session_id)
    return order


def test_success_page_fulfils_redirect_before_webhook(client, buyer, listing, fake_stripe):
    order = paid_order(client, buyer, listing, fake_stripe)
    response = client.get(
        reverse("buyers:checkout_success"), {"session_id": order.checkout_session_id}
    )
    assert response.status_code == 303
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    page = html(client.get(response["Location"]))
    assert "Paid" in page and "Payment receipt" in page


def test_success_page_with_tampered_session_id_is_404(client, buyer, listing, fake_stripe):
    order = paid_order(client, buyer, listing, fake_stripe)
    for forged in ["cs_test_forged", "", order.checkout_session_id + "x"]:
        response = client.get(reverse("buyers:checkout_success"), {"session_id": forged})
        assert response.status_code == 404
    # Someone else's session id does not work either.
    client.force_login(UserFactory())
    response = client.get(
        reverse("buyers:checkout_success"), {"session_id": order.checkout_session_id}
    )
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_success_page_before_payment_is_confirmed_polls(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    buy(client, listing)
    order = Order.objects.get()
    # Stripe has not completed the session yet when the buyer lands on the success page.
    response = client.get(
        reverse("buyers:checkout_success"), {"session_id": order.checkout_session_id}
    )
    page = html(client.get(response["Location"]))
    assert "Awaiting payment" in page and 'hx-trigger="every 3s"' in page
    partial = html(client.get(response["Location"], **HTMX))
    assert partial.lstrip().startswith('<section id="order-status"')

    # Completed with a delayed payment method: processing for days, so no polling.
    fake_stripe.pay(order.checkout_session_id, payment_status="unpaid")
    response = client.get(
        reverse("buyers:checkout_success"), {"session_id": order.checkout_session_id}
    )
    page = html(client.get(response["Location"]))
    assert "Bank payment processing" in page and "hx-trigger" not in page


def test_cancel_url_releases_the_reservation(client, buyer, listing, fake_stripe):
    client.force_login(buyer)
    buy(client, listing)
    order = Order.objects.get()
    response = client.get(reverse("buyers:checkout_cancel", args=[order.pk]))
    assert response.status_code == 303
    order.refresh_from_db()
    listing.refresh_from_db()
    assert order.status == Order.Status.CANCELED and listing.reserved == 0
    page = html(client.get(response["Location"]))
    assert "nothing was charged" in page
    # A way back: order the same again, straight to a new Checkout.
    assert "Try again" in page
    again = client.post(
        reverse("buyers:listing_buy", args=[listing.pk]), {"quantity": order.quantity}
    )
    assert again.status_code == 303
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 1
    # The history lists the new order and folds the canceled one apart.
    history = html(client.get(reverse("buyers:order_list")))
    assert "1 order not paid" in history and "<details" in history
    folded = history[history.index("<details") :]
    assert f"#{order.pk}" in folded


# --- order pages and authorization -----------------------------------------------------------------


def test_buyer_order_history_and_seller_sales(client, buyer, listing, fake_stripe):
    order = paid_order(client, buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    page = html(client.get(reverse("buyers:order_list")))
    assert f"#{order.pk}" in page and "Blue mug" in page and "€25.00" in page

    client.force_login(listing.seller.user)
    sales = html(client.get(reverse("buyers:sale_list")))
    assert f"#{order.pk}" in sales and "buyer@example.com" in sales and "To ship" in sales
    detail = html(client.get(reverse("buyers:sale_detail", args=[order.pk])))
    assert "1 \u00d7 Blue mug" in detail and "Mark as shipped" in detail
    response = client.post(reverse("buyers:sale_ship", args=[order.pk]), {"note": "DHL 123"})
    assert response.status_code == 303
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED


def test_nav_links(client, buyer, seller):
    client.force_login(buyer)
    page = html(client.get("/"))
    assert reverse("buyers:order_list") in page and reverse("buyers:sale_list") not in page
    client.force_login(seller.user)
    assert reverse("buyers:sale_list") in html(client.get("/"))


def test_authorization_sweep_other_peoples_orders_are_404(client, buyer, listing, fake_stripe):
    order = paid_order(client, buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    stranger = UserFactory()
    other_seller = SellerFactory()
    buyer_urls = [
        ("get", reverse("buyers:order_detail", args=[order.pk])),
        ("post", reverse("buyers:order_pay", args=[order.pk])),
        ("post", reverse("buyers:order_cancel", args=[order.pk])),
        ("get", reverse("buyers:checkout_cancel", args=[order.pk])),
    ]
    seller_urls = [
        ("get", reverse("buyers:sale_detail", args=[order.pk])),
        ("post", reverse("buyers:sale_ship", args=[order.pk])),
    ]
    for user in (stranger, other_seller.user, listing.seller.user):
        client.force_login(user)
        for method, url in buyer_urls:
            assert getattr(client, method)(url).status_code == 404, (user, url)
    for user in (stranger, other_seller.user, buyer):
        client.force_login(user)
        for method, url in seller_urls:
            assert getattr(client, method)(url).status_code == 404, (user, url)
    # And ids that exist for nobody.
    client.force_login(buyer)
    assert client.get(reverse("buyers:order_detail", args=[order.pk + 1000])).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    client.force_login(stranger)
    assert f"#{order.pk}" not in html(client.get(reverse("buyers:order_list")))


def test_seller_dashboard_lists_recent_sales(client, buyer, listing, fake_stripe):
    from django.utils import timezone

    from sellers.models import Seller

    order = paid_order(client, buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    Seller.objects.filter(pk=listing.seller_id).update(account_refreshed_at=timezone.now())
    client.force_login(listing.seller.user)
    page = html(client.get(reverse("sellers:dashboard")))
    assert "Recent orders" in page and f"#{order.pk}" in page and "To ship" in page
    assert reverse("buyers:sale_detail", args=[order.pk]) in page


def test_disputed_sale_shows_on_the_seller_and_buyer_pages(
    client, buyer, seller, listing, fake_stripe
):
    from datetime import timedelta

    from django.utils import timezone

    from buyers import services
    from marketplace.dates import format_datetime

    order = paid_order(client, buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    due = timezone.now() + timedelta(days=7)
    services.order_record_dispute(order_id=order.pk, status="needs_response", evidence_due_by=due)
    page = html(client.get(reverse("buyers:order_detail", args=[order.pk])))
    assert "Your bank opened a dispute" in page
    client.force_login(seller.user)
    page = html(client.get(reverse("buyers:sale_detail", args=[order.pk])))
    assert "disputed this payment" in page and format_datetime(due) in page
    services.order_record_dispute(order_id=order.pk, status="won", evidence_due_by=due)
    page = html(client.get(reverse("buyers:sale_detail", args=[order.pk])))
    assert "decided in your favour" in page


def test_a_lost_dispute_closes_the_order_and_both_sides_are_told(
    client, buyer, seller, listing, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from buyers import services
    from buyers.models import Order

    order = paid_order(client, buyer, listing, fake_stripe)
    services.order_fulfil(checkout_session_id=order.checkout_session_id)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    due = timezone.now() + timedelta(days=7)
    services.order_record_dispute(order_id=order.pk, status="needs_response", evidence_due_by=due)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_record_dispute(order_id=order.pk, status="lost", evidence_due_by=due)
        # The same news twice (a redelivered event) tells nobody twice.
        services.order_record_dispute(order_id=order.pk, status="lost", evidence_due_by=due)
    order.refresh_from_db()
    assert order.status == Order.Status.DISPUTE_LOST
    buyer_page = html(client.get(reverse("buyers:order_detail", args=[order.pk])))
    assert "decided the dispute in your favour" in buyer_page
    assert "will ship soon" not in buyer_page
    client.force_login(seller.user)
    sale = html(client.get(reverse("buyers:sale_detail", args=[order.pk])))
    assert "The dispute was lost" in sale and "do not ship it" in sale
    assert "Mark as shipped" not in sale
    subjects = {tuple(m.to): m.subject for m in mailoutbox}
    assert len(mailoutbox) == 2
    assert "decided the dispute" in subjects[(buyer.email,)]
    assert "Dispute lost" in subjects[(seller.user.email,)]
    # Nothing more can happen to it: not shipped, not refunded.
    with pytest.raises(UserFacingError):
        services.order_mark_fulfilled(order_id=order.pk, seller=seller)
