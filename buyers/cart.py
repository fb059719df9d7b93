"""The cart: what a buyer means to buy, kept until they check it out.

A signed-in buyer's cart is ``CartItem`` rows; an anonymous visitor's lives in their session
(``SESSION_KEY``: listing id -> quantity and the price they were shown) and is merged into their
rows when they sign in (``cart_merge_session``, from allauth's ``user_logged_in`` signal). Each
line keeps the price the buyer saw when adding it: when the listing's price changes, the line is
flagged and checkout refuses it until the buyer accepts the new price; the buyer is never
charged a price they did not see. Availability is re-checked whenever the cart is read
(``cart_read``) and again, under row locks, at checkout (``purchase_create``).

One currency per payment: ``cart_checkout`` buys the lines of one currency; lines in another
currency stay in the cart to be paid separately.

Writes here follow the services' rules (keyword-only, typed, a contract docstring, atomic);
``cart_read`` is the one read, scoped to the person asking.
"""

from __future__ import annotations

import uuid
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from buyers import selectors, services
from buyers.models import CartItem, Purchase
from marketplace.errors import UserFacingError
from marketplace.money import Money
from sellers.models import Listing, Seller

SESSION_KEY = "cart"
# A session cart is small and a buyer's cart too; more distinct listings than this is refused.
MAX_LINES = 50

Session = MutableMapping[str, Any]


@dataclass
class CartLine:
    listing: Listing
    quantity: int
    unit_amount_seen: int
    currency_seen: str
    # Why this line cannot be checked out as it is (None when it can).
    problem: str | None = None
    price_changed: bool = False

    @property
    def unit_amount(self) -> int:
        return self.listing.price_amount

    @property
    def amount(self) -> int:
        return self.listing.price_amount * self.quantity

    @property
    def currency(self) -> str:
        return self.listing.currency


@dataclass
class SellerGroup:
    seller: Seller
    currency: str
    lines: list[CartLine] = field(default_factory=list)

    @property
    def subtotal(self) -> Money:
        return Money(sum(line.amount for line in self.lines), self.currency)


@dataclass
class CurrencyGroup:
    """The lines payable together: one currency, one payment."""

    currency: str
    sellers: list[SellerGroup] = field(default_factory=list)

    @property
    def lines(self) -> list[CartLine]:
        return [line for group in self.sellers for line in group.lines]

    @property
    def total(self) -> Money:
        return Money(sum(line.amount for line in self.lines), self.currency)

    @property
    def payable(self) -> bool:
        return bool(self.lines) and all(line.problem is None for line in self.lines)


@dataclass
class Cart:
    currencies: list[CurrencyGroup]

    @property
    def count(self) -> int:
        return sum(line.quantity for group in self.currencies for line in group.lines)

    @property
    def is_empty(self) -> bool:
        return not self.currencies


# --- storage: rows for a buyer, the session for a visitor ---------------------------------------


def _signed_in(user: User | AnonymousUser) -> User | None:
    return user if isinstance(user, User) and user.is_authenticated else None


def _session_items(session: Session) -> dict[str, dict[str, Any]]:
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, dict):
        return {}
    items: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        # A tampered session is ignored line by line, never trusted.
        if not (isinstance(key, str) and key.isdigit() and isinstance(value, dict)):
            continue
        quantity, price, currency = value.get("q"), value.get("p"), value.get("c")
        if isinstance(quantity, int) and isinstance(price, int) and isinstance(currency, str):
            items[key] = {"q": quantity, "p": price, "c": currency}
    return items


def _stored(user: User | AnonymousUser, session: Session) -> list[tuple[int, int, int, str]]:
    """(listing id, quantity, price seen, currency seen) of every line, oldest first."""
    buyer = _signed_in(user)
    if buyer is not None:
        return list(
            CartItem.objects.filter(buyer=buyer).values_list(
                "listing_id", "quantity", "unit_amount_seen", "currency_seen"
            )
        )
    return [(int(k), v["q"], v["p"], v["c"]) for k, v in _session_items(session).items()]


def _buyable(listing_id: int, user: User | AnonymousUser, quantity: int) -> Listing:
    listing = selectors.listing_for_buyer(listing_id=listing_id)
    if listing is None:
        raise UserFacingError("This listing is no longer for sale.")
    buyer = _signed_in(user)
    if buyer is not None and listing.seller.user_id == buyer.pk:
        raise UserFacingError("You cannot buy your own listing.")
    reason = selectors.listing_unavailable_reason(listing, quantity=quantity)
    if reason is not None:
        raise UserFacingError(reason, field="quantity" if "left in stock" in reason else None)
    return listing


def _write(
    user: User | AnonymousUser, session: Session, listing: Listing, quantity: int, *, seen: bool
) -> None:
    """Store ``quantity`` of ``listing``; ``seen``: the buyer saw today's price (resets it)."""
    buyer = _signed_in(user)
    if buyer is not None:
        item, created = CartItem.objects.get_or_create(
            buyer=buyer,
            listing=listing,
            defaults={
                "quantity": quantity,
                "unit_amount_seen": listing.price_amount,
                "currency_seen": listing.currency,
            },
        )
        if not created:
            item.quantity = quantity
            if seen:
                item.unit_amount_seen, item.currency_seen = listing.price_amount, listing.currency
            item.save(update_fields=["quantity", "unit_amount_seen", "currency_seen"])
        return
    items = _session_items(session)
    old = items.get(str(listing.pk))
    keep = old is not None and not seen
    items[str(listing.pk)] = {
        "q": quantity,
        "p": old["p"] if keep and old else listing.price_amount,
        "c": old["c"] if keep and old else listing.currency,
    }
    session[SESSION_KEY] = items


def _quantity_in_cart(user: User | AnonymousUser, session: Session, listing_id: int) -> int:
    for stored_id, quantity, _price, _currency in _stored(user, session):
        if stored_id == listing_id:
            return quantity
    return 0


# --- services ------------------------------------------------------------------------------------


def cart_add(
    *, user: User | AnonymousUser, session: Session, listing_id: int, quantity: int
) -> None:
    """Add ``quantity`` units of a listing to the cart (to what is already there), at the
    listing's current price, which the buyer is being shown.

    Refuses (``UserFacingError``, the cart unchanged): a quantity below 1, a total above
    ``settings.ORDER_MAX_QUANTITY`` or above what is left in stock, a listing that is not for
    sale (paused, deleted, its seller suspended), a subscription listing (sold by plan only: its
    page offers the plans), the buyer's own listing, more than
    ``MAX_LINES`` different listings. Nothing is reserved: stock is taken at checkout.
    """
    services.check_quantity(quantity)
    with transaction.atomic():
        total = _quantity_in_cart(user, session, listing_id) + quantity
        services.check_quantity(total)
        listing = _buyable(listing_id, user, total)
        if not _quantity_in_cart(user, session, listing_id) and (
            len(_stored(user, session)) >= MAX_LINES
        ):
            raise UserFacingError(f"A cart holds at most {MAX_LINES} different items.")
        _write(user, session, listing, total, seen=True)


def cart_set_quantity(
    *, user: User | AnonymousUser, session: Session, listing_id: int, quantity: int
) -> None:
    """Change how many units of a listing are in the cart; 0 removes the line.

    Same refusals as ``cart_add`` for the new quantity; a line not in the cart is refused with
    a message (a stale page or a tampered id). The price the buyer saw is kept: a changed price
    stays flagged until accepted (``cart_accept_price``).
    """
    if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity == 0:
        cart_remove(user=user, session=session, listing_id=listing_id)
        return
    services.check_quantity(quantity)
    with transaction.atomic():
        if not _quantity_in_cart(user, session, listing_id):
            raise UserFacingError("This item is not in your cart any more; please reload.")
        listing = _buyable(listing_id, user, quantity)
        _write(user, session, listing, quantity, seen=False)


def cart_accept_price(*, user: User | AnonymousUser, session: Session, listing_id: int) -> None:
    """The buyer saw the listing's new price and keeps the line at it. A line not in the cart
    is refused with a message."""
    quantity = _quantity_in_cart(user, session, listing_id)
    if not quantity:
        raise UserFacingError("This item is not in your cart any more; please reload.")
    listing = selectors.listing_for_buyer(listing_id=listing_id)
    if listing is None:
        raise UserFacingError("This listing is no longer for sale.")
    _write(user, session, listing, quantity, seen=True)


def cart_remove(*, user: User | AnonymousUser, session: Session, listing_id: int) -> None:
    """Take a listing out of the cart (nothing happens if it is not there)."""
    buyer = _signed_in(user)
    if buyer is not None:
        CartItem.objects.filter(buyer=buyer, listing_id=listing_id).delete()
        return
    items = _session_items(session)
    if items.pop(str(listing_id), None) is not None:
        session[SESSION_KEY] = items


def cart_merge_session(*, user: User, session: Session) -> int:
    """Move a visitor's session cart into the buyer's cart when they sign in.

    A listing already in the buyer's cart gets the two quantities added (capped at
    ``settings.ORDER_MAX_QUANTITY``) and the price from the session (the one the buyer saw
    last); the buyer's own listings and malformed lines are dropped. The session cart is then
    emptied. Returns how many lines were merged. Atomic.
    """
    items = _session_items(session)
    merged = 0
    with transaction.atomic():
        listings = Listing.objects.in_bulk([int(k) for k in items])
        for key, value in items.items():
            listing = listings.get(int(key))
            if listing is None or listing.seller.user_id == user.pk or value["q"] < 1:
                continue
            item = CartItem.objects.select_for_update().filter(buyer=user, listing=listing).first()
            quantity = min(value["q"] + (item.quantity if item else 0), settings.ORDER_MAX_QUANTITY)
            if item is None:
                if CartItem.objects.filter(buyer=user).count() >= MAX_LINES:
                    continue
                CartItem.objects.create(
                    buyer=user,
                    listing=listing,
                    quantity=quantity,
                    unit_amount_seen=value["p"],
                    currency_seen=value["c"],
                )
            else:
                item.quantity = quantity
                item.unit_amount_seen, item.currency_seen = value["p"], value["c"]
                item.save(update_fields=["quantity", "unit_amount_seen", "currency_seen"])
            merged += 1
    session.pop(SESSION_KEY, None)
    return merged


def cart_checkout(*, buyer: User, currency: str, client_token: uuid.UUID | None) -> Purchase:
    """Check out the cart's lines in ``currency``: one purchase, one payment.

    The buyer's lines are locked first, so two tabs checking out the same cart are served one
    after the other: the second finds the lines gone (bought by the first) and is told so.
    Every line must be as the buyer saw it (``cart_read``: available, at the price seen);
    otherwise ``UserFacingError`` and nothing happens. ``purchase_create`` then reserves every
    line or none, at the prices seen (re-checked under the listings' locks), and the lines
    bought leave the cart in the same transaction. Lines in other currencies stay.
    ``client_token``: the same form submitted twice returns the first purchase.
    """
    if client_token is not None:
        existing = Purchase.objects.filter(buyer=buyer, client_token=client_token).first()
        if existing is not None:
            return existing
    with transaction.atomic():
        items = list(
            CartItem.objects.select_for_update()
            .filter(buyer=buyer, currency_seen=currency)
            .order_by("listing_id")
        )
        if not items:
            raise UserFacingError(
                "There is nothing to pay in your cart in this currency; it may have been paid "
                "in another tab (see your orders)."
            )
        cart = cart_read(user=buyer, session={})
        group = next((g for g in cart.currencies if g.currency == currency), None)
        if group is None or not group.payable:
            raise UserFacingError(
                "Some items in your cart changed or are no longer available; please review "
                "them before paying."
            )
        purchase = services.purchase_create(
            buyer=buyer,
            lines=[
                services.LineRequest(
                    listing_id=line.listing.pk,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount_seen,
                )
                for line in group.lines
            ],
            client_token=client_token,
        )
        CartItem.objects.filter(
            buyer=buyer, listing_id__in=[line.listing.pk for line in group.lines]
        ).delete()
        return purchase


def on_user_logged_in(sender: object, *, request: Any, user: User, **kwargs: object) -> None:
    """allauth's ``user_logged_in`` receiver (connected in ``BuyersConfig.ready``)."""
    if request is not None and hasattr(request, "session"):
        cart_merge_session(user=user, session=request.session)


# --- the read ------------------------------------------------------------------------------------


def cart_read(*, user: User | AnonymousUser, session: Session) -> Cart:
    """The cart of the person asking (their rows, or the visitor's session), grouped by
    currency (one payment each) then seller, each line re-checked now: a listing no longer for
    sale, sold out or short of the quantity, the buyer's own, or whose price differs from the
    price the buyer saw is flagged with ``problem`` (and ``price_changed``)."""
    stored = _stored(user, session)
    listings = selectors.with_subscription_flag(
        Listing.objects.select_related("seller", "category").filter(
            pk__in=[row[0] for row in stored]
        )
    ).in_bulk()
    buyer = _signed_in(user)
    currencies: dict[str, CurrencyGroup] = {}
    sellers: dict[tuple[str, int], SellerGroup] = {}
    for listing_id, quantity, price_seen, currency_seen in stored:
        listing = listings.get(listing_id)
        if listing is None:
            continue
        line = CartLine(
            listing=listing,
            quantity=quantity,
            unit_amount_seen=price_seen,
            currency_seen=currency_seen,
        )
        if buyer is not None and listing.seller.user_id == buyer.pk:
            line.problem = "This is your own listing."
        else:
            line.problem = selectors.listing_unavailable_reason(listing, quantity=quantity)
        if line.problem is None and (
            price_seen != listing.price_amount or currency_seen != listing.currency
        ):
            line.price_changed = True
            was = Money(price_seen, currency_seen)
            line.problem = f"The price changed from {was} to {listing.price}."
        group = currencies.setdefault(listing.currency, CurrencyGroup(listing.currency))
        key = (listing.currency, listing.seller_id)
        if key not in sellers:
            sellers[key] = SellerGroup(listing.seller, listing.currency)
            group.sellers.append(sellers[key])
        sellers[key].lines.append(line)
    return Cart(currencies=list(currencies.values()))
