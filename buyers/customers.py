"""A Stripe Customer per buyer, and the cards saved to it (platform account).

``customer_for_buyer`` is the one way to get a buyer's Customer id: created on first need with an
idempotency key from the user id (two concurrent first requests make one Stripe customer, and
the database keeps one row per user). Subscriptions reuse it.

Saved cards are read from Stripe (the source of truth) and always through the buyer's own
customer: a card id that is not attached to the asking buyer's customer is "not found", so a
buyer sees, uses and removes only their own cards.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from buyers.models import StripeCustomer
from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.stripe_gateway import SavedCard

logger = logging.getLogger(__name__)


class CardNotFound(UserFacingError):
    """The card is not one of the asking buyer's saved cards (views answer 404)."""


def customer_id_of(user: User) -> str:
    """The buyer's Customer id if they have one already, else "" (no Stripe call)."""
    return (
        StripeCustomer.objects.filter(user=user).values_list("customer_id", flat=True).first() or ""
    )


def customer_for_buyer(*, user: User) -> str:
    """The id of ``user``'s Stripe Customer on the platform, creating it on first need.

    Idempotent: the Stripe request's key is ``user-<id>-customer``, so a retry or a concurrent
    first request gets the same customer back, and the row is unique per user. Raises
    ``GatewayError``/``PaymentError`` when Stripe cannot be reached (nothing stored then).
    """
    existing = customer_id_of(user)
    if existing:
        return existing
    customer = stripe_gateway.customer_create(user_id=user.pk, email=user.email)
    try:
        with transaction.atomic():
            StripeCustomer.objects.create(user=user, customer_id=customer.id)
    except IntegrityError:
        # A concurrent request stored it first (the same customer, by the idempotency key).
        pass
    return customer_id_of(user)


def saved_cards(*, user: User) -> tuple[list[SavedCard], str]:
    """The buyer's saved cards and the id of their default one ("" when none, or when there is
    only one card: then there is nothing to choose). No customer yet: no cards, no Stripe call."""
    customer_id = customer_id_of(user)
    if not customer_id:
        return [], ""
    cards = stripe_gateway.customer_cards(customer_id=customer_id)
    if len(cards) < 2:
        return cards, ""
    default = stripe_gateway.customer_retrieve(customer_id=customer_id).default_payment_method_id
    return cards, default


def saved_card(*, user: User, payment_method_id: str) -> SavedCard:
    """One of the buyer's own saved cards; ``CardNotFound`` for anyone else's, a detached card,
    or an id Stripe does not know."""
    customer_id = customer_id_of(user)
    if not customer_id or not payment_method_id.startswith("pm_"):
        raise CardNotFound("We could not find this card.")
    try:
        card = stripe_gateway.payment_method_retrieve(payment_method_id=payment_method_id)
    except stripe_gateway.GatewayError as exc:
        if exc.http_status == 404:
            raise CardNotFound("We could not find this card.") from exc
        raise
    if card.customer_id != customer_id:
        raise CardNotFound("We could not find this card.")
    return card


def card_set_default(*, user: User, payment_method_id: str) -> SavedCard:
    """Make one of the buyer's saved cards the default (the one offered first for one-click
    payment): ``invoice_settings.default_payment_method`` of their customer."""
    card = saved_card(user=user, payment_method_id=payment_method_id)
    stripe_gateway.customer_set_default_card(
        customer_id=card.customer_id,
        payment_method_id=card.id,
        idempotency_key=stripe_gateway.idempotency_key(
            "customer", card.customer_id, "default", card.id
        ),
    )
    return card


def card_remove(*, user: User, payment_method_id: str) -> SavedCard:
    """Detach one of the buyer's saved cards from their customer: it cannot be used again."""
    card = saved_card(user=user, payment_method_id=payment_method_id)
    stripe_gateway.payment_method_detach(
        payment_method_id=card.id,
        idempotency_key=stripe_gateway.idempotency_key("payment-method", card.id, "detach"),
    )
    return card


def card_setup_start(*, user: User, request_key: str) -> str:
    """A SetupIntent saving a new card to the buyer's customer; returns its client secret for
    ``stripe.confirmSetup`` on the Payment methods page. ``request_key`` names one page view, so
    a reload makes a new one (a used SetupIntent cannot be confirmed twice)."""
    customer_id = customer_for_buyer(user=user)
    intent = stripe_gateway.setup_intent_create(
        customer_id=customer_id,
        idempotency_key=stripe_gateway.idempotency_key("user", user.pk, "setup", request_key),
    )
    return intent.client_secret


def card_setup_result(*, user: User, setup_intent_id: str) -> str:
    """The status of a SetupIntent of the buyer's own customer (``succeeded`` when the card is
    saved), read from Stripe after ``confirmSetup`` redirected back; "" for anyone else's."""
    customer_id = customer_id_of(user)
    if not customer_id or not setup_intent_id.startswith("seti_"):
        return ""
    try:
        intent = stripe_gateway.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    except stripe_gateway.GatewayError:
        return ""
    if intent.customer_id != customer_id:
        return ""
    return intent.status
