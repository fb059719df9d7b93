from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.stripe_gateway import GatewayError
from sellers import services
from sellers.models import Listing, ListingImage, Seller
from tests.factories import UserFactory
from tests.sellers.conftest import image_upload
from tests.sellers.factories import CategoryFactory, ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def make_seller(**overrides):
    data = {
        "user": UserFactory(),
        "display_name": "Ana's Ceramics",
        "slug": "anas-ceramics",
        "country": "FR",
        "default_currency": "eur",
    }
    data.update(overrides)
    return services.seller_create(**data)


# --- seller_create ------------------------------------------------------------------------------


def test_seller_create_records_shop_without_stripe_account():
    seller = make_seller()
    assert seller.slug == "anas-ceramics" and seller.country == "FR"
    assert seller.stripe_account_id is None and not seller.can_sell


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Bad Slug!", "lower-case"),
        ("ab", "lower-case"),
        ("-edge-", "lower-case"),
        ("admin", "reserved"),
    ],
)
def test_seller_create_refuses_bad_slug(slug, message):
    with pytest.raises(UserFacingError, match=message) as exc:
        make_seller(slug=slug)
    assert exc.value.field == "slug"
    assert not Seller.objects.exists()


def test_seller_create_refuses_taken_slug_and_second_shop():
    first = make_seller()
    with pytest.raises(UserFacingError, match="taken"):
        make_seller(slug="anas-ceramics")
    with pytest.raises(UserFacingError, match="already have a shop"):
        make_seller(user=first.user, slug="other-shop")
    assert Seller.objects.count() == 1


def test_seller_create_refuses_unsupported_country_and_currency():
    with pytest.raises(UserFacingError, match="country") as exc:
        make_seller(country="KP")
    assert exc.value.field == "country"
    with pytest.raises(UserFacingError, match="XYZ") as exc:
        make_seller(default_currency="xyz")
    assert exc.value.field == "currency"


# --- the connected account ----------------------------------------------------------------------


def test_ensure_account_creates_express_account_once_and_records_it(fake_stripe):
    seller = make_seller()
    seller = services.seller_ensure_account(seller=seller)
    assert seller.stripe_account_id.startswith("acct_")
    assert fake_stripe.count("account_create") == 1
    # Mirror filled from the account Stripe returned.
    assert seller.requirements_currently_due == ["external_account", "tos_acceptance.date"]
    assert seller.account_refreshed_at is not None and seller.account_synced_at is None
    again = services.seller_ensure_account(seller=Seller.objects.get(pk=seller.pk))
    assert again.stripe_account_id == seller.stripe_account_id
    assert fake_stripe.count("account_create") == 1


def test_double_submit_with_stale_seller_object_makes_one_account(fake_stripe):
    seller = make_seller()
    stale_copy = Seller.objects.get(pk=seller.pk)
    first = services.seller_ensure_account(seller=seller)
    # A second request loaded the seller before the first recorded the id: Stripe's
    # idempotency (key from our seller id) returns the same account, recorded once.
    second = services.seller_ensure_account(seller=stale_copy)
    assert first.stripe_account_id == second.stripe_account_id
    assert len(fake_stripe.accounts) == 1


def test_account_create_failure_leaves_seller_without_account(fake_stripe):
    seller = make_seller()
    fake_stripe.fail["account_create"] = GatewayError(
        "Connected accounts in KP are not supported.", code="country_unsupported", http_status=400
    )
    with pytest.raises(GatewayError):
        services.seller_ensure_account(seller=seller)
    seller.refresh_from_db()
    assert seller.stripe_account_id is None


def test_link_failure_keeps_the_account_recorded(fake_stripe):
    seller = make_seller()
    fake_stripe.fail["account_link_create"] = GatewayError("Stripe is down", retryable=True)
    with pytest.raises(GatewayError):
        services.seller_start_onboarding(seller=seller)
    seller.refresh_from_db()
    assert seller.stripe_account_id in fake_stripe.accounts  # no orphan account


def test_onboarding_link_urls_point_back_to_us(fake_stripe, settings):
    settings.SITE_URL = "https://shop.example.com"
    seller = make_seller()
    url = services.seller_start_onboarding(seller=seller)
    assert url.startswith("https://connect.stripe.test/setup/")
    kwargs = next(c[1] for c in fake_stripe.calls if c[0] == "account_link_create")
    assert kwargs["link_type"] == "account_onboarding"
    assert kwargs["refresh_url"] == (
        f"https://shop.example.com/sell/onboarding/refresh/{seller.stripe_account_id}/"
    )
    assert kwargs["return_url"] == "https://shop.example.com/sell/?from=stripe"
    assert kwargs["collect_eventually_due"] is False


def test_each_link_is_fresh(fake_stripe):
    seller = services.seller_ensure_account(seller=make_seller())
    first = services.seller_onboarding_link(seller=seller)
    second = services.seller_onboarding_link(seller=seller)
    assert first != second
    keys = {c[1]["request_key"] for c in fake_stripe.calls if c[0] == "account_link_create"}
    assert len(keys) == 2


def test_login_link_only_when_details_submitted(fake_stripe):
    seller = services.seller_ensure_account(seller=make_seller())
    with pytest.raises(UserFacingError, match="Finish onboarding"):
        services.seller_dashboard_login_link(seller=seller)
    fake_stripe.complete(seller.stripe_account_id)
    seller = services.seller_sync_account(seller=seller)
    assert services.seller_dashboard_login_link(seller=seller).endswith(seller.stripe_account_id)


def test_disconnected_or_suspended_seller_gets_no_links(fake_stripe):
    seller = SellerFactory(status=Seller.Status.SUSPENDED)
    with pytest.raises(UserFacingError, match="suspended"):
        services.seller_onboarding_link(seller=seller)
    seller = SellerFactory(status=Seller.Status.DISCONNECTED)
    with pytest.raises(UserFacingError, match="disconnected"):
        services.seller_dashboard_login_link(seller=seller)
    assert fake_stripe.calls == []


# --- the mirror ---------------------------------------------------------------------------------


def account_state(account_id, **fields):
    base = {
        "id": account_id,
        "charges_enabled": True,
        "payouts_enabled": False,
        "details_submitted": True,
        "requirements": {
            "currently_due": ["individual.verification.document"],
            "past_due": [],
            "eventually_due": ["individual.verification.document", "business_profile.url"],
            "current_deadline": 1_900_000_000,
            "disabled_reason": None,
        },
    }
    base.update(fields)
    return stripe_gateway.Account.from_stripe(base)


def test_apply_account_copies_status_and_requirements():
    seller = SellerFactory(charges_enabled=False, details_submitted=False)
    when = timezone.now()
    services.seller_apply_account(
        seller_id=seller.pk, account=account_state(seller.stripe_account_id), as_of=when
    )
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted and not seller.payouts_enabled
    assert seller.requirements_currently_due == ["individual.verification.document"]
    assert seller.requirements_eventually_due[-1] == "business_profile.url"
    assert seller.requirements_current_deadline == datetime.fromtimestamp(1_900_000_000, tz=UTC)
    assert seller.requirements_disabled_reason == ""
    assert seller.account_synced_at == when


def test_apply_account_never_moves_back_in_time():
    seller = SellerFactory(charges_enabled=False)
    newer = timezone.now()
    services.seller_apply_account(
        seller_id=seller.pk, account=account_state(seller.stripe_account_id), as_of=newer
    )
    older_state = account_state(seller.stripe_account_id, charges_enabled=False)
    services.seller_apply_account(
        seller_id=seller.pk, account=older_state, as_of=newer - timedelta(seconds=5)
    )
    seller.refresh_from_db()
    assert seller.charges_enabled is True
    assert seller.account_synced_at == newer


def test_apply_account_refuses_someone_elses_account():
    seller = SellerFactory()
    with pytest.raises(ValueError, match="not seller"):
        services.seller_apply_account(
            seller_id=seller.pk, account=account_state("acct_other"), as_of=None
        )


def test_account_updated_refetches_instead_of_trusting_payload(fake_stripe):
    seller = SellerFactory(charges_enabled=False, details_submitted=False)
    fake_stripe.add(seller.stripe_account_id)  # Stripe now says: all enabled
    services.seller_account_updated(
        account_id=seller.stripe_account_id, event_created=timezone.now()
    )
    seller.refresh_from_db()
    assert seller.charges_enabled and seller.details_submitted
    assert fake_stripe.count("account_retrieve") == 1


def test_account_updated_older_than_mirror_is_skipped(fake_stripe):
    synced = timezone.now()
    seller = SellerFactory(account_synced_at=synced)
    services.seller_account_updated(
        account_id=seller.stripe_account_id, event_created=synced - timedelta(minutes=1)
    )
    assert fake_stripe.count("account_retrieve") == 0


def test_account_updated_for_unknown_account_is_ignored(fake_stripe):
    fake_stripe.add("acct_nobody", metadata={})
    assert (
        services.seller_account_updated(account_id="acct_nobody", event_created=timezone.now())
        is None
    )


def test_account_updated_adopts_an_account_we_failed_to_record(fake_stripe):
    seller = SellerFactory(stripe_account_id=None, charges_enabled=False)
    fake_stripe.add("acct_orphan", metadata={"seller_id": str(seller.pk)})
    services.seller_account_updated(account_id="acct_orphan", event_created=timezone.now())
    seller.refresh_from_db()
    assert seller.stripe_account_id == "acct_orphan" and seller.charges_enabled
    # Never steals: a seller who already has an account keeps it.
    other = SellerFactory()
    fake_stripe.add("acct_intruder", metadata={"seller_id": str(other.pk)})
    assert (
        services.seller_account_updated(account_id="acct_intruder", event_created=timezone.now())
        is None
    )
    other.refresh_from_db()
    assert other.stripe_account_id != "acct_intruder"


def test_mark_disconnected_hides_and_notifies_admins_once(
    settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = ["ops@example.com"]
    listing = ListingFactory()
    seller = listing.seller
    with django_capture_on_commit_callbacks(execute=True):
        services.seller_mark_disconnected(
            account_id=seller.stripe_account_id, event_created=timezone.now()
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.seller_mark_disconnected(
            account_id=seller.stripe_account_id, event_created=timezone.now()
        )
    seller.refresh_from_db()
    assert seller.status == Seller.Status.DISCONNECTED and seller.needs_attention
    assert not seller.can_sell and seller.disconnected_at is not None
    assert len(mail.outbox) == 1
    assert seller.display_name in mail.outbox[0].subject
    assert "ops@example.com" in mail.outbox[0].to


def test_suspend_and_reinstate(fake_stripe):
    seller = SellerFactory()
    seller = services.seller_suspend(seller=seller, reason="Too many disputes")
    assert seller.status == Seller.Status.SUSPENDED and not seller.can_sell
    assert seller.status_reason == "Too many disputes"
    seller = services.seller_reinstate(seller=seller)
    assert seller.status == Seller.Status.ACTIVE and seller.can_sell and not seller.status_reason


def test_disconnected_seller_cannot_be_reinstated():
    seller = SellerFactory(status=Seller.Status.DISCONNECTED)
    with pytest.raises(UserFacingError):
        services.seller_reinstate(seller=seller)
    with pytest.raises(UserFacingError):
        services.seller_suspend(seller=seller)


# --- listings -----------------------------------------------------------------------------------


def test_listing_create_is_a_draft_with_resized_images():
    seller = SellerFactory()
    category = CategoryFactory()
    listing = services.listing_create(
        seller=seller,
        title="  Mug ",
        description="Blue",
        category=category,
        price=Money.from_major("24.90", "eur"),
        stock=3,
        images=[image_upload(size=(4000, 1000)), image_upload("b.png", fmt="PNG")],
    )
    assert listing.status == Listing.Status.DRAFT and listing.title == "Mug"
    assert listing.price_amount == 2490 and listing.currency == "eur"
    images = list(listing.images.all())
    assert [i.position for i in images] == [0, 1]
    assert images[0].image.width == 1600 and images[0].image.height == 400
    assert images[0].image.name.endswith(".jpg") and images[1].image.name.endswith(".png")


def test_listing_create_with_a_bad_image_saves_nothing():
    seller = SellerFactory()
    bad = image_upload("fake.jpg")
    bad.file.write(b"")  # still an image
    not_image = image_upload("notes.jpg")
    not_image.file = __import__("io").BytesIO(b"this is not an image at all")
    not_image.size = 27
    with pytest.raises(UserFacingError, match="not an image"):
        services.listing_create(
            seller=seller,
            title="Mug",
            price=Money(2000, "eur"),
            stock=None,
            images=[image_upload(), not_image],
        )
    assert not Listing.objects.exists() and not ListingImage.objects.exists()


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (Money(0, "eur"), "more than zero"),
        (Money(-5, "eur"), "more than zero"),
        (Money(100_000_000, "eur"), "at most"),
        (Money(500, "jpy"), "not a currency"),
    ],
)
def test_listing_create_refuses_bad_price(price, message):
    with pytest.raises(UserFacingError, match=message):
        services.listing_create(seller=SellerFactory(), title="Mug", price=price, stock=1)
    assert not Listing.objects.exists()


@pytest.mark.parametrize(
    ("status", "message"),
    [(Seller.Status.SUSPENDED, "suspended"), (Seller.Status.DISCONNECTED, "disconnected")],
)
def test_only_active_sellers_add_listings(status, message):
    seller = SellerFactory(status=status)
    with pytest.raises(UserFacingError, match=message):
        services.listing_create(seller=seller, title="Bowl", price=Money(1500, "eur"), stock=1)
    assert not Listing.objects.filter(seller=seller).exists()


def test_listing_create_refuses_negative_stock():
    with pytest.raises(UserFacingError, match="below zero") as exc:
        services.listing_create(
            seller=SellerFactory(), title="Mug", price=Money(100, "eur"), stock=-1
        )
    assert exc.value.field == "stock"


def test_listing_update_keeps_stock_above_sold_and_reserved():
    listing = ListingFactory(stock=10, sold=4, reserved=2)
    with pytest.raises(UserFacingError, match="6 are already sold"):
        services.listing_update(listing=listing, title="Mug", price=Money(100, "eur"), stock=5)
    listing = services.listing_update(
        listing=listing, title="Mug 2", price=Money(150, "eur"), stock=6
    )
    assert listing.title == "Mug 2" and listing.stock == 6 and listing.price_amount == 150


def test_listing_update_adds_and_removes_images():
    listing = services.listing_create(
        seller=SellerFactory(),
        title="Mug",
        price=Money(100, "eur"),
        stock=1,
        images=[image_upload()],
    )
    old = listing.images.get()
    listing = services.listing_update(
        listing=listing,
        title="Mug",
        price=Money(100, "eur"),
        stock=1,
        new_images=[image_upload("new.jpg")],
        remove_image_ids=[old.pk],
    )
    assert listing.images.count() == 1 and listing.images.get().pk != old.pk


def test_publish_needs_charges_enabled():
    listing = ListingFactory(status=Listing.Status.DRAFT, seller__charges_enabled=False)
    with pytest.raises(UserFacingError, match="enabled payments"):
        services.listing_publish(listing=listing)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.DRAFT
    listing.seller.charges_enabled = True
    listing.seller.save()
    listing = services.listing_publish(listing=listing)
    assert listing.status == Listing.Status.PUBLISHED and listing.published_at


def test_pause_unpause_delete():
    listing = ListingFactory()
    assert services.listing_pause(listing=listing).status == Listing.Status.PAUSED
    assert services.listing_unpause(listing=listing).status == Listing.Status.PUBLISHED
    with pytest.raises(UserFacingError):
        services.listing_unpause(listing=Listing.objects.get(pk=listing.pk))
    assert services.listing_delete(listing=listing).status == Listing.Status.DELETED
    with pytest.raises(UserFacingError, match="deleted"):
        services.listing_publish(listing=listing)


def test_fresh_read_does_not_block_an_event_of_the_same_second(fake_stripe):
    # Stripe's ``created`` has whole seconds; a re-read a few milliseconds earlier must not make
    # the event look older than the mirror.
    seller = SellerFactory(charges_enabled=False)
    fake_stripe.add(seller.stripe_account_id, charges_enabled=False)
    services.seller_sync_account(seller=seller)
    fake_stripe.accounts[seller.stripe_account_id]["charges_enabled"] = True
    services.seller_account_updated(
        account_id=seller.stripe_account_id,
        event_created=timezone.now().replace(microsecond=0),
    )
    seller.refresh_from_db()
    assert seller.charges_enabled


def test_account_updated_for_an_account_stripe_does_not_know_is_ignored(fake_stripe):
    assert (
        services.seller_account_updated(account_id="acct_gone", event_created=timezone.now())
        is None
    )


def test_an_onboarded_seller_is_emailed_once_when_stripe_needs_more(
    django_capture_on_commit_callbacks,
):
    seller = SellerFactory(details_submitted=True, requirements_currently_due=[])
    state = account_state(seller.stripe_account_id)  # asks for an identity document
    with django_capture_on_commit_callbacks(execute=True):
        services.seller_apply_account(seller_id=seller.pk, account=state, as_of=None)
        # The same request again (another event, a periodic re-read): no second email.
        services.seller_apply_account(seller_id=seller.pk, account=state, as_of=None)
    (message,) = mail.outbox
    assert message.to == [seller.user.email] and "Stripe needs more information" in message.subject
    assert "/sell/onboarding/update/" in message.body and "1900-" not in message.subject
    # A seller still in their first onboarding is not emailed: the page guides them.
    newcomer = SellerFactory(details_submitted=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.seller_apply_account(
            seller_id=newcomer.pk, account=account_state(newcomer.stripe_account_id), as_of=None
        )
    assert len(mail.outbox) == 1
