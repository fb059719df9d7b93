"""Reads of the buying side: the catalogue, listings as a buyer sees them, orders.

Every selector is scoped to the person asking: a buyer's orders, a seller's sales. Views turn an
empty result into a 404, so nobody learns whether someone else's order exists.

The catalogue is paginated by keyset (a cursor on the sort key and the id), never by OFFSET, so a
deep page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.core.files.storage import default_storage
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Avg,
    Count,
    Exists,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from buyers.aftersale.models import Review
from buyers.models import Order, Purchase
from marketplace.compiled_sql import (
    ByValue,
    Converters,
    Unshaped,
    convert,
    converters_of,
    prep,
    same_params,
)
from marketplace.money import Money
from sellers import selectors as sellers_selectors
from sellers.models import Category, Listing, ListingImage, Seller

logger = logging.getLogger(__name__)

PAGE_SIZE = 24

SORTS = {
    # name: (label, listing field of the key, descending)
    "newest": ("Newest", "created_at", True),
    "price_asc": ("Price: low to high", "price_amount", False),
    "price_desc": ("Price: high to low", "price_amount", True),
}
DEFAULT_SORT = "newest"


def _selling_sellers_q(prefix: str = "") -> Q:
    """Sellers buyers can pay: active, charges enabled, with a connected account."""
    return Q(
        **{
            f"{prefix}status": Seller.Status.ACTIVE,
            f"{prefix}charges_enabled": True,
            f"{prefix}stripe_account_id__isnull": False,
        }
    ) & ~Q(**{f"{prefix}stripe_account_id": ""})


def purchasable_listings() -> QuerySet[Listing]:
    """Listings a buyer can buy right now (the sellers app's definition)."""
    return sellers_selectors.purchasable_listings()


# What a catalogue card shows or needs (availability, sort keys), and nothing else, read as plain
# values: no model instance (nor its init signals) per row. ``CardListing.from_row`` unpacks them.
CARD_FIELDS = (
    "id",
    "title",
    "price_amount",
    "currency",
    "stock",
    "reserved",
    "sold",
    "created_at",
    "updated_at",
    "first_image",
    "seller__slug",
    "seller__display_name",
    "seller__status",
    "seller__charges_enabled",
    "seller__stripe_account_id",
    "category__name",
    "reviews_count",
    "reviews_average",
)


@dataclass(frozen=True, slots=True)
class CardSeller:
    slug: str
    display_name: str
    can_sell: bool  # as Seller.can_sell: active, charges enabled, a connected account


@dataclass(frozen=True, slots=True)
class CardListing:
    """A listing as a catalogue card shows it (buyers/cards.py, components/listing_card.html)."""

    pk: int
    title: str
    price_amount: int
    currency: str
    available: int | None  # as Listing.available: None when stock is unlimited
    created_at: dt.datetime
    updated_at: dt.datetime
    first_image: str | None
    seller: CardSeller
    category_name: str | None
    reviews_count: int  # visible reviews (not hidden by staff)
    reviews_average: float | None  # their average rating, 1 to 5, rounded to 0.1

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> CardListing:
        """From a row of ``catalogue_listings()`` (the values of CARD_FIELDS, in order)."""
        (pk, title, price, currency, stock, reserved, sold, created, updated, image) = row[:10]
        slug, name, status, charges, account, category, reviews, average = row[10:]
        return cls(
            pk=pk,
            title=title,
            price_amount=price,
            currency=currency,
            available=None if stock is None else max(stock - sold - reserved, 0),
            created_at=created,
            updated_at=updated,
            first_image=image or None,
            seller=CardSeller(
                slug=slug,
                display_name=name,
                can_sell=status == Seller.Status.ACTIVE and bool(charges) and bool(account),
            ),
            category_name=category,
            reviews_count=reviews or 0,
            reviews_average=round(float(average), 1) if reviews else None,
        )


def catalogue_listings() -> QuerySet[Listing, tuple[Any, ...]]:
    """Listings shown in the catalogue: the sellers app's public listings (published, seller
    active). Sold-out listings and those of a seller who cannot take payments right now stay
    visible, marked unavailable, so a shared link still finds them.

    Rows of the values of CARD_FIELDS (``CardListing.from_row``): only what a card shows and the
    sort keys, with the first image and the reviews' count and average as annotations (correlated
    subqueries) rather than prefetches: one query per page.
    The queryset is built once per process (it has no per-request part) and cloned per call.
    """
    return _catalogue_base().all()


@functools.cache
def _catalogue_base() -> QuerySet[Listing, tuple[Any, ...]]:
    first_image = (
        ListingImage.objects.filter(listing=OuterRef("pk"))
        .order_by("position", "id")
        .values("image")[:1]
    )
    # The listing's reviews that anyone can read (not hidden by staff): count and average.
    visible = (
        Review.objects.filter(listing=OuterRef("pk"), hidden_at__isnull=True)
        .order_by()
        .values("listing")
    )
    return (
        sellers_selectors.public_listings()
        .prefetch_related(None)
        .annotate(
            first_image=Subquery(first_image),
            reviews_count=Subquery(visible.annotate(n=Count("id")).values("n")[:1]),
            reviews_average=Subquery(visible.annotate(a=Avg("rating")).values("a")[:1]),
        )
        .values_list(*CARD_FIELDS)
    )


# --- Subscription listings ---------------------------------------------------------------------
# A listing with plans (the subscriptions app's ``Plan``, reached by the reverse relation
# ``plans``: that app sits above this one and is not imported) is sold by subscription only: never
# at its list price, neither by "Buy now" nor through the cart. Plans closed to new subscribers
# keep it a subscription listing.

SUBSCRIPTION_ONLY = "This listing is sold by subscription: choose one of its plans."


def _plan_model() -> type[Model]:
    return Listing._meta.get_field("plans").related_model


def with_subscription_flag(qs: QuerySet[Listing]) -> QuerySet[Listing]:
    """``qs`` with ``is_subscription`` on each listing (one EXISTS in the same query)."""
    plans = _plan_model()._default_manager.filter(listing=OuterRef("pk"))
    return qs.annotate(is_subscription=Exists(plans))


def is_subscription(listing: Listing) -> bool:
    """Whether ``listing`` is sold by subscription (its ``is_subscription`` annotation when it
    was read through ``with_subscription_flag``, else one query)."""
    flag = getattr(listing, "is_subscription", None)
    if flag is None:
        flag = listing.plans.exists()
    return bool(flag)


def listing_open_plans(listing: Listing) -> list[Model]:
    """The plans of a subscription listing a buyer may subscribe to now, cheapest first."""
    return list(listing.plans.filter(is_active=True))


def listing_unavailable_reason(listing: Listing, *, quantity: int = 1) -> str | None:
    """Why ``listing`` cannot be bought (in ``quantity``) at its price right now, or None when
    it can.

    The sellers app says why a listing is unavailable at all; a subscription listing (sold by
    plan only) and a quantity above what is left are the buyers' own reasons.
    """
    reason = sellers_selectors.listing_unavailable_reason(listing)
    if reason is not None:
        return reason
    if is_subscription(listing):
        return SUBSCRIPTION_ONLY
    available = listing.available
    if available is not None and quantity > available:
        return f"Only {available} left in stock."
    return None


def listing_for_buyer(*, listing_id: int) -> Listing | None:
    """A listing a buyer may see: published or paused ones; None otherwise. With
    ``is_subscription`` (see ``with_subscription_flag``). Its SQL is compiled once
    (marketplace/compiled_sql.py: the listing page reads it on every view)."""
    return cast("Listing | None", _LISTING_FOR_BUYER.first(listing_id))


def _listing_for_buyer(listing_id: int) -> QuerySet[Listing]:
    return with_subscription_flag(
        Listing.objects.filter(
            pk=listing_id, status__in=[Listing.Status.PUBLISHED, Listing.Status.PAUSED]
        )
        .exclude(seller__status=Seller.Status.DISCONNECTED)
        .select_related("seller", "category")
    ).order_by("pk")[:1]  # as first()


_LISTING_FOR_BUYER = ByValue(_listing_for_buyer, Listing, "id")


def listing_pictures(*, listing: Listing) -> list[str]:
    """The URLs of a listing's pictures, in order (names read directly: cheaper than a
    prefetch, measured by bench/listing_page.py; SQL compiled once)."""
    return [default_storage.url(name) for (name,) in _PICTURES.values(listing.pk)]


def _pictures(listing_id: int) -> QuerySet[ListingImage, tuple[str]]:
    return ListingImage.objects.filter(listing=listing_id).values_list("image")


_PICTURES = ByValue(_pictures, ListingImage, "listing")


def shop_seller(*, slug: str) -> Seller | None:
    """The seller behind /shop/<slug>/: any seller not disconnected (a suspended shop says so)."""
    return Seller.objects.filter(slug=slug).exclude(status=Seller.Status.DISCONNECTED).first()


# --- Catalogue search ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueQuery:
    """Parsed, validated browse parameters (see buyers/forms.py)."""

    q: str = ""
    category: str = ""  # category slug
    seller: str = ""  # seller slug
    min_price: Decimal | None = None  # major units
    max_price: Decimal | None = None
    sort: str = DEFAULT_SORT
    cursor: str = ""


@dataclass
class CataloguePage:
    listings: list[CardListing]
    next_cursor: str | None
    is_first: bool


def _price_bounds(lookup: str, value: Decimal) -> list[tuple[str, int]]:
    """(currency, bound in its minor units) for a price bound ``value`` in major units, per
    currency of the marketplace (each has its own exponent)."""
    bounds = []
    for currency in settings.MARKETPLACE_CURRENCIES:
        try:
            bound = Money.from_major(value, currency)
        except ValueError:
            # More decimals than the currency allows: round toward including more listings.
            exp = Money.zero(currency).exponent
            scaled = value.scaleb(exp)
            minor = int(
                scaled.to_integral_value(
                    rounding="ROUND_FLOOR" if lookup == "lte" else "ROUND_CEILING"
                )
            )
            bound = Money(minor, currency)
        bounds.append((currency, bound.amount))
    return bounds


def _price_q(lookup: str, value: Decimal) -> Q:
    """Price bound in major units, per currency (each has its own exponent)."""
    q = Q()
    for currency, amount in _price_bounds(lookup, value):
        q |= Q(currency=currency, **{f"price_amount__{lookup}": amount})
    return q


def encode_cursor(sort: str, listing: CardListing | Listing) -> str:
    _, field, _ = SORTS[sort]
    value = getattr(listing, field)
    raw = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return base64.urlsafe_b64encode(f"{raw}|{listing.pk}".encode()).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> tuple[Any, int] | None:
    """(sort key value, id) from a cursor, or None when it is malformed (then page 1 is shown)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        value_s, id_s = raw.rsplit("|", 1)
        pk = int(id_s)
        _, field, _ = SORTS[sort]
        value: Any
        if field == "created_at":
            value = dt.datetime.fromisoformat(value_s)
            if timezone.is_naive(value):
                return None
        else:
            value = int(value_s)
            if value < 0:
                return None
        if pk < 0:
            return None
    except (ValueError, UnicodeDecodeError, binascii.Error, KeyError):
        return None
    return value, pk


SEARCH_WORDS = 8  # words of ``q`` the search uses; the rest are ignored


def catalogue_queryset(
    *,
    query: CatalogueQuery,
    base: QuerySet[Listing, tuple[Any, ...]] | None = None,
    shop_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> tuple[QuerySet[Listing, tuple[Any, ...]], str, bool]:
    """(rows of the page plus one, the sort used, whether it is the first page) for ``query``,
    in the shop of seller ``shop_id`` when given.

    ``_page_params`` lists the parameters of these filters in this very order: change both.
    """
    qs = base if base is not None else catalogue_listings()
    if shop_id is not None:
        qs = qs.filter(seller=shop_id)
    for word in query.q.split()[:SEARCH_WORDS]:
        qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word))
    if query.category:
        qs = qs.filter(category__slug=query.category)
    if query.seller:
        qs = qs.filter(seller__slug=query.seller)
    if query.min_price is not None:
        qs = qs.filter(_price_q("gte", query.min_price))
    if query.max_price is not None:
        qs = qs.filter(_price_q("lte", query.max_price))

    sort = query.sort if query.sort in SORTS else DEFAULT_SORT
    _, field, descending = SORTS[sort]
    position = decode_cursor(sort, query.cursor)
    if position is not None:
        value, pk = position
        # (key, id) < (value, pk), written so that the database sees a plain range on the
        # indexed sort key first (key <= value), with the tie on the key broken by the id.
        if descending:
            qs = qs.filter(**{f"{field}__lte": value}).filter(
                Q(**{f"{field}__lt": value}) | Q(pk__lt=pk)
            )
        else:
            qs = qs.filter(**{f"{field}__gte": value}).filter(
                Q(**{f"{field}__gt": value}) | Q(pk__gt=pk)
            )
    order = [f"-{field}", "-pk"] if descending else [field, "pk"]
    return qs.order_by(*order)[: page_size + 1], sort, position is None


# --- The catalogue's SQL, compiled once per shape ------------------------------------------------
# Building and compiling ``catalogue_queryset`` costs about a fifth of a catalogue page (some 20
# expression objects, the compiler's passes over them; bench/catalogue_page.py). Its SQL text
# depends only on the query's shape (which filters are set, how many search words, the sort,
# whether there is a cursor, the page size, the marketplace's currencies), never on the values,
# which are parameters. So the ORM compiles each shape once per process and later pages of that
# shape reuse its text with their own parameters, prepared as the ORM prepares them
# (``_page_params``). Only SQL is kept: every page still reads the database, so a change to a
# listing, its seller or its category shows on the next page view, as before.


@dataclass(frozen=True, slots=True)
class _CompiledPage:
    sql: str
    constants: tuple[Any, ...]  # parameters of the base query, ahead of ``_page_params``'
    converters: Converters


_COMPILED: dict[tuple[Any, ...], _CompiledPage | None] = {}
_COMPILED_MAX = 1024  # shapes kept per process (a few hundred are possible)


def _page_params(
    query: CatalogueQuery,
    shop_id: int | None,
    position: tuple[Any, int] | None,
    sort: str,
    connection: BaseDatabaseWrapper,
) -> list[Any]:
    """The parameters of ``catalogue_queryset``'s own filters, in its order, as the ORM prepares
    them for ``connection`` (tests/buyers/test_catalogue_sql.py compares the two)."""
    params: list[Any] = []
    if shop_id is not None:
        params.append(prep(Listing, "seller", shop_id, connection))
    like = connection.ops.prep_for_like_query
    for word in query.q.split()[:SEARCH_WORDS]:
        pattern = f"%{like(word)}%"  # icontains passes its value as is, in a pattern
        params += (pattern, pattern)  # title, description
    if query.category:
        params.append(prep(Category, "slug", query.category, connection))
    if query.seller:
        params.append(prep(Seller, "slug", query.seller, connection))
    for lookup, bound in (("gte", query.min_price), ("lte", query.max_price)):
        if bound is not None:
            for code, amount in _price_bounds(lookup, bound):
                params.append(prep(Listing, "currency", code, connection))
                params.append(prep(Listing, "price_amount", amount, connection))
    if position is not None:
        value, pk = position
        _, field, _ = SORTS[sort]
        key = prep(Listing, field, value, connection)
        params += (key, key, prep(Listing, "id", pk, connection))
    return params


def _compile_page(
    query: CatalogueQuery, shop_id: int | None, page_size: int, alias: str, params: list[Any]
) -> _CompiledPage | None:
    """The ORM's SQL for this shape, or None when ``_page_params`` does not give the very
    parameters the ORM gives (then the ORM serves this shape)."""
    qs, _, _ = catalogue_queryset(query=query, shop_id=shop_id, page_size=page_size)
    compiler = qs.query.get_compiler(using=alias)
    try:
        sql, orm_params = compiler.as_sql()
    except (EmptyResultSet, FullResultSet):
        return None
    constants = tuple(orm_params[: len(orm_params) - len(params)])
    if not same_params(orm_params, (*constants, *params)):
        logger.error("catalogue SQL: parameters differ from the ORM's, shape left to the ORM")
        return None
    return _CompiledPage(sql=sql, constants=constants, converters=converters_of(compiler))


def catalogue_rows(
    *, query: CatalogueQuery, shop_id: int | None = None, page_size: int = PAGE_SIZE
) -> tuple[list[tuple[Any, ...]], str, bool]:
    """The rows of ``catalogue_queryset`` (values of CARD_FIELDS), the sort used and whether it
    is the first page: by the SQL compiled for this query's shape (see above)."""
    sort = query.sort if query.sort in SORTS else DEFAULT_SORT
    position = decode_cursor(sort, query.cursor)
    alias = router.db_for_read(Listing)
    connection = connections[alias]
    try:
        params = _page_params(query, shop_id, position, sort, connection)
    except Unshaped:
        qs, sort, is_first = catalogue_queryset(query=query, shop_id=shop_id, page_size=page_size)
        return list(qs), sort, is_first
    shape = (
        alias,
        shop_id is not None,
        len(query.q.split()[:SEARCH_WORDS]),
        bool(query.category),
        bool(query.seller),
        query.min_price is not None,
        query.max_price is not None,
        tuple(settings.MARKETPLACE_CURRENCIES),
        sort,
        position is not None,
        page_size,
    )
    try:
        compiled = _COMPILED[shape]
    except KeyError:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = _COMPILED[shape] = _compile_page(query, shop_id, page_size, alias, params)
    if compiled is None:
        qs, sort, is_first = catalogue_queryset(query=query, shop_id=shop_id, page_size=page_size)
        return list(qs), sort, is_first
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, (*compiled.constants, *params))
        rows = cursor.fetchall()
    return convert(rows, compiled.converters, connection), sort, position is None


def catalogue_page(
    *,
    query: CatalogueQuery,
    shop_id: int | None = None,
    page_size: int = PAGE_SIZE,
) -> CataloguePage:
    """One page of the catalogue for ``query`` (in the shop of seller ``shop_id`` when given):
    one SQL query, whatever the depth."""
    rows, sort, is_first = catalogue_rows(query=query, shop_id=shop_id, page_size=page_size)
    listings = [CardListing.from_row(row) for row in rows[:page_size]]
    next_cursor = encode_cursor(sort, listings[-1]) if len(rows) > page_size else None
    return CataloguePage(listings=listings, next_cursor=next_cursor, is_first=is_first)


FILTER_CHOICES_TTL = 60  # seconds; new categories and shops show up in the filters within a minute


def filter_choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(slug, name) of the categories and of the sellers buyers can pay, for the filter form.

    Cached briefly: they change rarely and every catalogue page shows them.
    """
    cached = cache.get("buyers:filter-choices")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    categories = list(Category.objects.order_by("name").values_list("slug", "name"))
    sellers = list(
        Seller.objects.filter(_selling_sellers_q())
        .order_by("display_name")
        .values_list("slug", "display_name")[:200]
    )
    cache.set("buyers:filter-choices", (categories, sellers), FILTER_CHOICES_TTL)
    return categories, sellers


# --- Orders -----------------------------------------------------------------------------------


def buyer_orders(*, buyer: User | AnonymousUser) -> QuerySet[Order]:
    """The orders ``buyer`` placed, newest first. Empty for anyone not signed in."""
    if not buyer.is_authenticated:
        return Order.objects.none()
    return Order.objects.filter(buyer=buyer).select_related("seller", "listing")


def seller_orders(*, seller: Seller | None) -> QuerySet[Order]:
    """The sales of ``seller`` that reached Stripe, newest first (pending ones included)."""
    if seller is None:
        return Order.objects.none()
    return Order.objects.filter(seller=seller).select_related("buyer", "listing")


def seller_for_user(user: User | AnonymousUser) -> Seller | None:
    if not user.is_authenticated:
        return None
    return Seller.objects.filter(user=user).first()


def stale_pending_purchases(*, now: dt.datetime | None = None) -> QuerySet[Purchase]:
    """Pending purchases whose deadline passed: their reservations must be released."""
    return Purchase.objects.filter(
        status=Purchase.Status.PENDING, expires_at__lt=now or timezone.now()
    ).order_by("expires_at", "id")


def transfers_due(*, now: dt.datetime | None = None) -> QuerySet[Order]:
    """Orders whose separate transfer failed and whose backoff has passed (or never waited)."""
    return Order.objects.filter(
        Q(transfer_next_attempt_at__isnull=True)
        | Q(transfer_next_attempt_at__lte=now or timezone.now()),
        transfer_status__in=[Order.TransferStatus.PENDING, Order.TransferStatus.FAILED],
        status__in=[Order.Status.PAID, Order.Status.FULFILLED],
    ).order_by("transfer_next_attempt_at", "id")


def buyer_purchases(*, buyer: User | AnonymousUser) -> QuerySet[Purchase]:
    """The purchases ``buyer`` made, newest first. Empty for anyone not signed in."""
    if not buyer.is_authenticated:
        return Purchase.objects.none()
    return Purchase.objects.filter(buyer=buyer).prefetch_related("orders__lines", "orders__seller")


def stale_pending_orders(*, now: dt.datetime | None = None) -> QuerySet[Order]:
    """Pending orders whose deadline passed: their reservation must be released."""
    return Order.objects.filter(
        status=Order.Status.PENDING, expires_at__lt=now or timezone.now()
    ).order_by("expires_at", "id")
