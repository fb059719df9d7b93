from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.stripe_gateway import GatewayError
from sellers.models import Listing, Seller
from tests.factories import UserFactory
from tests.sellers.conftest import image_upload
from tests.sellers.factories import CategoryFactory, ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db

START = {
    "display_name": "Ana's Ceramics",
    "slug": "anas-ceramics",
    "country": "FR",
    "default_currency": "eur",
}


@pytest.fixture
def user_client(client):
    user = UserFactory()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def seller_client(client):
    seller = SellerFactory(account_refreshed_at=timezone.now())
    client.force_login(seller.user)
    client.seller = seller
    return client


def test_seller_pages_need_login(client):
    response = client.get(reverse("sellers:dashboard"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_nav_says_start_selling_then_my_shop(user_client):
    html = user_client.get("/").content.decode()
    assert "Start selling" in html and "My shop" not in html
    SellerFactory(user=user_client.user)
    html = user_client.get("/").content.decode()
    assert "My shop" in html and "Start selling" not in html


def test_dashboard_sends_non_sellers_to_start(user_client):
    response = user_client.get(reverse("sellers:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("sellers:start")


def test_start_selling_creates_account_and_redirects_to_stripe(user_client, fake_stripe):
    page = user_client.get(reverse("sellers:start"))
    assert page.status_code == 200 and "France" in page.content.decode()
    response = user_client.post(reverse("sellers:start"), START)
    assert response.status_code == 302
    assert response["Location"].startswith("https://connect.stripe.test/setup/acct_fake")
    seller = Seller.objects.get(user=user_client.user)
    assert seller.stripe_account_id in response["Location"]
    create = next(c[1] for c in fake_stripe.calls if c[0] == "account_create")
    assert create == {"seller_id": seller.pk, "country": "FR"}


def test_start_selling_twice_goes_to_dashboard(user_client, fake_stripe):
    user_client.post(reverse("sellers:start"), START)
    response = user_client.post(reverse("sellers:start"), {**START, "slug": "another"})
    assert response.status_code == 302 and response["Location"] == reverse("sellers:dashboard")
    assert Seller.objects.count() == 1 and fake_stripe.count("account_create") == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Not a slug!", "lower-case letters"),
        ("slug", "admin", "reserved"),
        ("country", "KP", "Select a valid choice"),
        ("default_currency", "jpy", "Select a valid choice"),
        ("display_name", "", "This field is required"),
    ],
)
def test_start_selling_bad_input_says_what_is_wrong(
    user_client, fake_stripe, field, value, message
):
    response = user_client.post(reverse("sellers:start"), {**START, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Seller.objects.exists() and fake_stripe.calls == []


def test_start_selling_taken_slug(user_client, fake_stripe):
    SellerFactory(slug="anas-ceramics")
    response = user_client.post(reverse("sellers:start"), START)
    assert response.status_code == 200 and "That shop address is taken" in response.content.decode()


def test_stripe_refusal_shows_message_and_retry_button(user_client, fake_stripe):
    fake_stripe.fail["account_create"] = GatewayError(
        "Connected accounts cannot be created in this country.", code="country_unsupported"
    )
    response = user_client.post(reverse("sellers:start"), START, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "We could not set up payments with Stripe" in html
    assert "cannot be created in this country" in html
    assert reverse("sellers:onboarding") in html and "Set up payments" in html  # retry
    # Retry once Stripe accepts.
    del fake_stripe.fail["account_create"]
    retry = user_client.post(reverse("sellers:onboarding"))
    assert retry["Location"].startswith("https://connect.stripe.test/setup/")


def test_stripe_down_after_account_created_keeps_account_and_offers_retry(user_client, fake_stripe):
    fake_stripe.fail["account_link_create"] = GatewayError(
        "Stripe is not reachable right now; please try again in a moment.", retryable=True
    )
    response = user_client.post(reverse("sellers:start"), START, follow=True)
    html = response.content.decode()
    assert "Stripe is not reachable right now" in html and "Continue onboarding" in html
    assert Seller.objects.get().stripe_account_id in fake_stripe.accounts


def test_return_rereads_account_never_trusting_redirect(user_client, fake_stripe):
    user_client.post(reverse("sellers:start"), START)
    seller = Seller.objects.get()
    # Back from Stripe without finishing: still due, banner says what.
    html = user_client.get(reverse("sellers:dashboard") + "?from=stripe").content.decode()
    assert "Finish your Stripe onboarding" in html
    assert "a bank account for your payouts" in html
    assert "acceptance of Stripe&#x27;s services agreement" in html
    # Finishes on Stripe: the dashboard re-reads the account.
    fake_stripe.complete(seller.stripe_account_id)
    before = fake_stripe.count("account_retrieve")
    html = user_client.get(reverse("sellers:dashboard") + "?from=stripe").content.decode()
    assert fake_stripe.count("account_retrieve") == before + 1
    assert "Your account is ready" in html
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted


def test_dashboard_does_not_call_stripe_when_mirror_is_fresh(seller_client, fake_stripe):
    seller_client.get(reverse("sellers:dashboard"))
    assert fake_stripe.calls == []


def test_dashboard_rereads_when_mirror_is_stale(seller_client, fake_stripe):
    seller = seller_client.seller
    Seller.objects.filter(pk=seller.pk).update(
        account_refreshed_at=timezone.now() - timedelta(hours=1)
    )
    fake_stripe.add(seller.stripe_account_id)
    seller_client.get(reverse("sellers:dashboard"))
    assert fake_stripe.count("account_retrieve") == 1


def test_dashboard_survives_stripe_down(seller_client, fake_stripe):
    fake_stripe.fail["account_retrieve"] = GatewayError("down", retryable=True)
    response = seller_client.get(reverse("sellers:dashboard") + "?from=stripe")
    assert response.status_code == 200
    assert "could not reach Stripe" in response.content.decode()


def test_dashboard_banner_partial_for_htmx(seller_client):
    response = seller_client.get(reverse("sellers:dashboard"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="onboarding-banner"' in html and "<html" not in html


def test_restricted_account_banner_and_listing_marked_unavailable(seller_client, fake_stripe):
    seller = seller_client.seller
    ListingFactory(seller=seller, title="Blue mug")
    Seller.objects.filter(pk=seller.pk).update(
        charges_enabled=False,
        requirements_past_due=["individual.verification.document"],
        requirements_currently_due=["individual.verification.document"],
        requirements_disabled_reason="requirements.past_due",
        requirements_current_deadline=timezone.now() + timedelta(days=3),
    )
    html = seller_client.get(reverse("sellers:dashboard")).content.decode()
    assert "Buyers cannot pay you right now" in html
    assert "an identity document (passport or ID card)" in html
    assert "Required information is overdue" in html
    assert "Fix it now" in html
    assert "temporarily unavailable" in html


def test_refresh_makes_new_link_for_owner(seller_client, fake_stripe):
    seller = seller_client.seller
    url = reverse("sellers:onboarding_refresh", args=[seller.stripe_account_id])
    response = seller_client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(
        f"https://connect.stripe.test/setup/{seller.stripe_account_id}/"
    )


def test_update_details_link_collects_eventually_due(seller_client, fake_stripe):
    response = seller_client.post(reverse("sellers:onboarding_update"))
    assert response.status_code == 302
    call = next(c[1] for c in fake_stripe.calls if c[0] == "account_link_create")
    assert call["collect_eventually_due"] is True


def test_express_dashboard_button(seller_client, fake_stripe):
    html = seller_client.get(reverse("sellers:dashboard")).content.decode()
    assert "Open Stripe dashboard" in html
    response = seller_client.post(reverse("sellers:stripe_dashboard"))
    assert (
        response["Location"]
        == f"https://connect.stripe.test/express/{seller_client.seller.stripe_account_id}"
    )


def test_no_express_dashboard_before_details_submitted(seller_client, fake_stripe):
    Seller.objects.filter(pk=seller_client.seller.pk).update(details_submitted=False)
    html = seller_client.get(reverse("sellers:dashboard")).content.decode()
    assert "Open Stripe dashboard" not in html
    response = seller_client.post(reverse("sellers:stripe_dashboard"), follow=True)
    assert "Finish onboarding first" in response.content.decode()
    assert fake_stripe.count("login_link_create") == 0


# --- listings -----------------------------------------------------------------------------------

LISTING = {
    "title": "Blue mug",
    "description": "Lovely",
    "price": "24.90",
    "currency": "eur",
    "stock": "3",
}


def test_create_listing_as_draft_and_publish(seller_client):
    category = CategoryFactory(name="Ceramics")
    response = seller_client.post(
        reverse("sellers:listing_new"),
        {**LISTING, "category": category.pk, "images": [image_upload(), image_upload("b.jpg")]},
    )
    assert response.status_code == 302
    listing = Listing.objects.get()
    assert listing.status == Listing.Status.DRAFT and listing.price_amount == 2490
    assert listing.images.count() == 2 and listing.category == category
    seller_client.post(reverse("sellers:listing_publish", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PUBLISHED


def test_create_and_publish_in_one_go_with_unlimited_stock(seller_client):
    seller_client.post(reverse("sellers:listing_new"), {**LISTING, "stock": "", "publish": "1"})
    listing = Listing.objects.get()
    assert listing.status == Listing.Status.PUBLISHED and listing.stock is None


def test_publish_refused_without_charges(seller_client):
    Seller.objects.filter(pk=seller_client.seller.pk).update(charges_enabled=False)
    listing = ListingFactory(seller=seller_client.seller, status=Listing.Status.DRAFT)
    response = seller_client.post(
        reverse("sellers:listing_publish", args=[listing.pk]), follow=True
    )
    assert "You can publish once Stripe has enabled payments" in response.content.decode()
    listing.refresh_from_db()
    assert listing.status == Listing.Status.DRAFT


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"price": "0"}, "more than zero"),
        ({"price": "-3"}, "more than zero"),
        ({"price": "abc"}, "Enter the price as a number"),
        ({"price": "1.234"}, "Enter the price as a number"),
        ({"price": "1000000"}, "at most"),
        ({"currency": "jpy"}, "Select a valid choice"),
        ({"stock": "-1"}, "Stock cannot be below zero"),
        ({"title": ""}, "This field is required"),
    ],
)
def test_listing_bad_input_says_what_is_wrong(seller_client, changes, message):
    response = seller_client.post(reverse("sellers:listing_new"), {**LISTING, **changes})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Listing.objects.exists()


def test_listing_rejects_non_image_and_too_large(seller_client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("cat.jpg", b"GIF89a not really", content_type="image/jpeg")
    response = seller_client.post(reverse("sellers:listing_new"), {**LISTING, "images": [fake]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Upload a valid image" in html or "not an image" in html
    big = SimpleUploadedFile("big.jpg", b"0" * (5 * 1024 * 1024 + 1), content_type="image/jpeg")
    response = seller_client.post(reverse("sellers:listing_new"), {**LISTING, "images": [big]})
    assert "too large" in response.content.decode()
    assert not Listing.objects.exists()


def test_edit_listing_prefills_and_saves(seller_client):
    listing = ListingFactory(seller=seller_client.seller, price_amount=1250, stock=None)
    page = seller_client.get(reverse("sellers:listing_edit", args=[listing.pk])).content.decode()
    assert 'value="12.50"' in page
    response = seller_client.post(
        reverse("sellers:listing_edit", args=[listing.pk]),
        {**LISTING, "title": "Green mug", "stock": ""},
    )
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.title == "Green mug" and listing.price_amount == 2490 and listing.stock is None


def test_pause_unpause_and_soft_delete(seller_client):
    listing = ListingFactory(seller=seller_client.seller)
    seller_client.post(reverse("sellers:listing_pause", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PAUSED
    seller_client.post(reverse("sellers:listing_unpause", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.PUBLISHED
    confirm = seller_client.get(reverse("sellers:listing_delete", args=[listing.pk]))
    assert "Delete “" in confirm.content.decode()
    seller_client.post(reverse("sellers:listing_delete", args=[listing.pk]))
    listing.refresh_from_db()
    assert listing.status == Listing.Status.DELETED
    dashboard = seller_client.get(reverse("sellers:dashboard")).content.decode()
    assert f'id="listing-{listing.pk}"' not in dashboard
    assert seller_client.get(reverse("sellers:listing_edit", args=[listing.pk])).status_code == 404


def test_fee_preview_partial_for_htmx(seller_client):
    url = reverse("sellers:fee_preview") + "?price=100&currency=eur"
    response = seller_client.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'id="fee-preview"' in html
    # Default fee: 10 % + €0.30.
    assert (
        "Buyer pays <strong" in html and "€100.00" in html and "€10.30" in html and "€89.70" in html
    )
    full = seller_client.get(url).content.decode()
    assert "<html" in full and "€89.70" in full
    bad = seller_client.get(
        reverse("sellers:fee_preview") + "?price=-1&currency=eur", HTTP_HX_REQUEST="true"
    )
    assert "more than zero" in bad.content.decode()


def test_fee_preview_quotes_the_category_rule_checkout_charges(seller_client):
    from buyers.services import order_create
    from payouts.services import fee_rule_create

    ceramics = CategoryFactory(name="Ceramics")
    staff = UserFactory(is_staff=True)
    fee_rule_create(
        actor=staff,
        scope="category",
        category=ceramics,
        starts_on=timezone.now().date(),
        bps=800,
        currencies=["eur"],
    )
    url = reverse("sellers:fee_preview") + f"?price=100&currency=eur&category={ceramics.pk}"
    html = seller_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "€8.00" in html and "€92.00" in html
    # Without the category the platform default applies (10 % + €0.30).
    plain = reverse("sellers:fee_preview") + "?price=100&currency=eur"
    assert "€10.30" in seller_client.get(plain, HTTP_HX_REQUEST="true").content.decode()
    # The sale charges exactly what the preview quoted.
    seller = seller_client.seller
    seller.charges_enabled = True
    seller.save()
    listing = ListingFactory(
        seller=seller, category=ceramics, price_amount=10000, currency="eur", stock=5
    )
    order = order_create(buyer=UserFactory(), listing_id=listing.pk, quantity=1)
    assert order.application_fee_amount == 800
    # The edit page's own preview uses the listing's category too.
    edit = seller_client.get(reverse("sellers:listing_edit", args=[listing.pk])).content.decode()
    assert "€8.00" in edit


def test_listing_form_wires_the_fee_preview(seller_client):
    html = seller_client.get(reverse("sellers:listing_new")).content.decode()
    assert 'hx-trigger="input changed delay:300ms"' in html
    assert f'hx-get="{reverse("sellers:fee_preview")}"' in html


# --- authorization sweep ------------------------------------------------------------------------


def test_every_seller_url_with_another_sellers_ids_is_404(seller_client, fake_stripe):
    other = SellerFactory()
    other_listing = ListingFactory(seller=other)
    image = other_listing.images.create(image=image_upload().name)
    mine = ListingFactory(seller=seller_client.seller)
    urls = [
        ("get", reverse("sellers:onboarding_refresh", args=[other.stripe_account_id])),
        ("get", reverse("sellers:listing_edit", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_edit", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_publish", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_pause", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_unpause", args=[other_listing.pk])),
        ("get", reverse("sellers:listing_delete", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_delete", args=[other_listing.pk])),
        ("post", reverse("sellers:listing_image_delete", args=[other_listing.pk, image.pk])),
        # Someone else's image through my own listing's URL.
        ("post", reverse("sellers:listing_image_delete", args=[mine.pk, image.pk])),
    ]
    for method, url in urls:
        response = getattr(seller_client, method)(url, LISTING if method == "post" else None)
        assert response.status_code == 404, (method, url)
    other_listing.refresh_from_db()
    assert other_listing.status == Listing.Status.PUBLISHED and other_listing.images.count() == 1
    assert fake_stripe.calls == []


def test_user_without_shop_gets_404_on_seller_actions(user_client, fake_stripe):
    listing = ListingFactory()
    for method, url in [
        ("post", reverse("sellers:onboarding")),
        ("post", reverse("sellers:onboarding_update")),
        ("post", reverse("sellers:stripe_dashboard")),
        ("get", reverse("sellers:onboarding_refresh", args=[listing.seller.stripe_account_id])),
        ("get", reverse("sellers:listing_new")),
        ("get", reverse("sellers:listing_edit", args=[listing.pk])),
        ("get", reverse("sellers:fee_preview")),
        ("get", reverse("sellers:settings")),
    ]:
        assert getattr(user_client, method)(url).status_code == 404, url
    assert fake_stripe.calls == []


def test_suspended_seller_sees_why_and_cannot_list_or_sell(seller_client, fake_stripe):
    from sellers import selectors, services

    listing = ListingFactory(seller=seller_client.seller)
    services.seller_suspend(seller=seller_client.seller, reason="Unanswered disputes.")
    html = seller_client.get(reverse("sellers:dashboard")).content.decode()
    assert "Your shop is suspended by the platform." in html and "Unanswered disputes." in html
    assert "New listing" not in html and "Open Stripe dashboard" not in html
    assert seller_client.get(reverse("sellers:listing_new")).status_code == 403
    assert listing not in selectors.public_listings()
    response = seller_client.post(reverse("sellers:onboarding"), follow=True)
    assert (
        "suspended" in response.content.decode() and fake_stripe.count("account_link_create") == 0
    )
    services.seller_reinstate(seller=seller_client.seller)
    assert listing in selectors.purchasable_listings()


def test_dashboard_pages_long_listing_lists(seller_client, monkeypatch):
    from sellers import views

    monkeypatch.setattr(views, "LISTINGS_PER_PAGE", 2)
    listings = [ListingFactory(seller=seller_client.seller) for _ in range(3)]
    first = seller_client.get(reverse("sellers:dashboard")).content.decode()
    second = seller_client.get(reverse("sellers:dashboard") + "?page=2").content.decode()
    assert "Page 1 of 2" in first and f'id="listing-{listings[0].pk}"' not in first
    assert f'id="listing-{listings[0].pk}"' in second


def test_each_listing_row_offers_a_subscription_plan(seller_client):
    """A first-time seller finds how to sell a listing by subscription from their shop."""
    listing = ListingFactory(seller=seller_client.seller)
    html = seller_client.get(reverse("sellers:dashboard")).content.decode()
    row = html.split(f'id="listing-{listing.pk}"', 1)[1].split("</tr>", 1)[0]
    link = reverse("subscriptions:plan_new", args=[listing.pk])
    assert f'href="{link}"' in row and "Sell by subscription</a>" in row
    assert seller_client.get(link).status_code == 200
