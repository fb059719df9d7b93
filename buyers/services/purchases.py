"""Creating a purchase: one order per seller, every line's units reserved (all lines or
none), prices and application fees computed and stored for good. "Buy now" (``order_create``)
is a purchase of one line.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from buyers.models import Order, OrderLine, Purchase
from buyers.selectors import listing_unavailable_reason, with_subscription_flag
from buyers.services._common import (
    _checkout_deadline,
)
from marketplace.errors import UserFacingError
from marketplace.money import Money
from sellers.fees import fee_quote
from sellers.models import Listing

SOLD_OUT = "Sorry, this listing just sold out."


@dataclass(frozen=True)
class LineRequest:
    """One line the buyer asks for: ``quantity`` units of a listing. ``unit_amount`` is the price
    the buyer was shown (the cart's); None when they buy straight from the listing's page."""

    listing_id: int
    quantity: int
    unit_amount: int | None = None


def check_quantity(quantity: object) -> int:
    """``quantity`` if it is a whole number from 1 to ORDER_MAX_QUANTITY; else a UserFacingError
    naming the field (the cart and "Buy now" share this rule)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise UserFacingError("Choose how many you want.", field="quantity")
    if quantity < 1:
        raise UserFacingError("Choose a quantity of at least 1.", field="quantity")
    if quantity > settings.ORDER_MAX_QUANTITY:
        raise UserFacingError(
            f"You can buy at most {settings.ORDER_MAX_QUANTITY} per order.", field="quantity"
        )
    return quantity


def purchase_create(
    *,
    buyer: User,
    lines: Sequence[LineRequest],
    client_token: uuid.UUID | None = None,
) -> Purchase:
    """Create a pending purchase of ``lines``: one order per seller, every line's units reserved.

    All or nothing, in one transaction: each listing row is locked (in id order, so two carts
    sharing listings cannot deadlock) and reserved with a conditional UPDATE; if one line
    cannot be had, nothing is reserved and ``UserFacingError`` says which and why (quantity
    below 1 or above ``settings.ORDER_MAX_QUANTITY``, more than is left, a listing that cannot
    be bought, a seller's own listing, a price that changed since the buyer saw it, lines in
    several currencies: one currency per payment). Of two buyers racing for the last unit,
    exactly one gets it.

    Prices and each seller's application fee (``sellers.fees.fee_quote`` on that seller's
    total, in the lines' category when they share one) are computed here and stored for good.
    The charge type is decided here, by the number of sellers: one seller, a destination charge;
    several, a charge on the platform and one transfer per seller. ``client_token`` comes from
    the form: the same buyer submitting it twice gets the first purchase back.
    """
    if not lines:
        raise UserFacingError("Your cart is empty.")
    for line in lines:
        check_quantity(line.quantity)
    if len({line.listing_id for line in lines}) != len(lines):
        raise UserFacingError("A listing appears twice; please reload your cart.")
    if client_token is not None:
        existing = Purchase.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is not None:
            return _same_purchase(existing, lines)
    try:
        with transaction.atomic():
            return _purchase_create_locked(buyer=buyer, lines=lines, client_token=client_token)
    except IntegrityError:
        # The same form submitted twice at the same instant: the other submit won.
        if client_token is None:
            raise
        existing = Purchase.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is None:
            raise
        return _same_purchase(existing, lines)


def _same_purchase(purchase: Purchase, lines: Sequence[LineRequest]) -> Purchase:
    bought = set(
        OrderLine.objects.filter(order__purchase=purchase).values_list("listing_id", flat=True)
    )
    if bought != {line.listing_id for line in lines}:
        raise UserFacingError("This form was already used for another order; please reload.")
    return purchase


def _purchase_create_locked(
    *, buyer: User, lines: Sequence[LineRequest], client_token: uuid.UUID | None
) -> Purchase:
    several = len(lines) > 1
    ids = sorted(line.listing_id for line in lines)
    listings = {
        listing.pk: listing
        for listing in with_subscription_flag(
            Listing.objects.select_for_update(of=("self",))
            .select_related("seller", "category")
            .filter(pk__in=ids)
            .order_by("pk")
        )
    }

    def refuse(listing: Listing | None, message: str, field: str | None = None) -> NoReturn:
        if several and listing is not None:
            message = f"{listing.title}: {message}"
        raise UserFacingError(message, field=field)

    currencies = {listings[i].currency for i in ids if i in listings}
    if len(currencies) > 1:
        raise UserFacingError(
            "These items are priced in different currencies; each currency is paid separately."
        )
    for line in lines:
        listing = listings.get(line.listing_id)
        if listing is None or listing.status in (Listing.Status.DRAFT, Listing.Status.DELETED):
            refuse(listing, "This listing is no longer for sale.")
        if listing.seller.user_id == buyer.pk:
            refuse(listing, "You cannot buy your own listing.")
        reason = listing_unavailable_reason(listing, quantity=line.quantity)
        if reason is not None:
            refuse(listing, reason, "quantity" if "left in stock" in reason else None)
        if line.unit_amount is not None and line.unit_amount != listing.price_amount:
            refuse(
                listing,
                f"The price changed to {listing.price}; please check your cart and pay again.",
            )
        # The row lock serialises buyers on PostgreSQL; the condition keeps the invariant even
        # without it (SQLite serialises writers anyway).
        reserved = (
            Listing.objects.filter(pk=listing.pk)
            .filter(Q(stock__isnull=True) | Q(stock__gte=F("sold") + F("reserved") + line.quantity))
            .update(reserved=F("reserved") + line.quantity)
        )
        if reserved != 1:
            refuse(listing, SOLD_OUT)

    by_seller: dict[int, list[LineRequest]] = {}
    for line in lines:
        by_seller.setdefault(listings[line.listing_id].seller_id, []).append(line)
    currency = currencies.pop()
    expires_at = _checkout_deadline(timezone.now())
    quotes = {}
    for seller_id, seller_lines in by_seller.items():
        first = listings[seller_lines[0].listing_id]
        total = sum(listings[x.listing_id].price_amount * x.quantity for x in seller_lines)
        categories = {listings[x.listing_id].category_id for x in seller_lines}
        quotes[seller_id] = fee_quote(
            amount=Money(total, currency),
            seller=first.seller,
            category=first.category if len(categories) == 1 else None,
        )
    purchase = Purchase.objects.create(
        buyer=buyer,
        client_token=client_token or uuid.uuid4(),
        charge_type=(
            Purchase.ChargeType.DESTINATION if len(by_seller) == 1 else Purchase.ChargeType.SEPARATE
        ),
        currency=currency,
        amount=sum(q.amount.amount for q in quotes.values()),
        application_fee_amount=sum(q.fee.amount for q in quotes.values()),
        buyer_email=getattr(buyer, "email", ""),
        expires_at=expires_at,
    )
    for seller_id, seller_lines in by_seller.items():
        first = listings[seller_lines[0].listing_id]
        one = len(seller_lines) == 1
        title = first.title if one else f"{first.title} + {len(seller_lines) - 1} more"
        order = Order.objects.create(
            purchase=purchase,
            buyer=buyer,
            seller=first.seller,
            listing=first if one else None,
            client_token=uuid.uuid4()
            if client_token is None or len(by_seller) > 1
            else client_token,
            title=title[:160],
            unit_amount=first.price_amount if one else None,
            quantity=sum(x.quantity for x in seller_lines),
            currency=currency,
            amount=quotes[seller_id].amount.amount,
            application_fee_amount=quotes[seller_id].fee.amount,
            buyer_email=purchase.buyer_email,
            expires_at=expires_at,
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                listing=listings[x.listing_id],
                title=listings[x.listing_id].title,
                unit_amount=listings[x.listing_id].price_amount,
                quantity=x.quantity,
                amount=listings[x.listing_id].price_amount * x.quantity,
            )
            for x in seller_lines
        )
    return purchase


def order_create(
    *,
    buyer: User,
    listing_id: int,
    quantity: int,
    client_token: uuid.UUID | None = None,
) -> Order:
    """ "Buy now": a purchase of one line (``purchase_create``), returning its one order.

    Same refusals and guarantees as ``purchase_create``: a quantity below 1 or above
    ``settings.ORDER_MAX_QUANTITY``, more units than are left, a listing that cannot be bought
    (paused, deleted, seller unable to take payments, a subscription listing: sold by plan
    only), a seller's own listing
    (``UserFacingError``, nothing written); the last unit goes to exactly one of two racing
    buyers; the price and the application fee (``sellers.fees.fee_quote``) are computed on the
    server and stored for good; the same ``client_token`` twice returns the first order.
    """
    purchase = purchase_create(
        buyer=buyer,
        lines=[LineRequest(listing_id=listing_id, quantity=quantity)],
        client_token=client_token,
    )
    return purchase.orders.get()
