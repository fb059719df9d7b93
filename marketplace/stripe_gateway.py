"""The only module that imports ``stripe``.

One ``StripeClient`` per process, built from settings: real Stripe (test or live mode) when
``STRIPE_SECRET_KEY`` is set, the offline sandbox (``sandbox/``) otherwise. Each Stripe call the
project makes is one typed function here, taking the SDK's TypedDict params so mypy catches a
misspelled parameter. Every POST carries an idempotency key derived from our own ids.

Stripe's exceptions never leave this module: they become ``PaymentError`` (user-facing) or
``GatewayError`` (operator-facing, with the Stripe error code kept).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import quote

import stripe
from django.conf import settings

from marketplace.errors import MarketplaceError, PaymentError
from marketplace.stripe_results import (
    Account as Account,
)
from marketplace.stripe_results import (
    AccountRequirements as AccountRequirements,
)
from marketplace.stripe_results import (
    Amount as Amount,
)
from marketplace.stripe_results import (
    ApplicationFee as ApplicationFee,
)
from marketplace.stripe_results import (
    Balance as Balance,
)
from marketplace.stripe_results import (
    Charge as Charge,
)
from marketplace.stripe_results import (
    CheckoutSession as CheckoutSession,
)
from marketplace.stripe_results import (
    Customer as Customer,
)
from marketplace.stripe_results import (
    Dispute as Dispute,
)
from marketplace.stripe_results import (
    DisputeFunds as DisputeFunds,
)
from marketplace.stripe_results import (
    Endpoint as Endpoint,
)
from marketplace.stripe_results import (
    Invoice as Invoice,
)
from marketplace.stripe_results import (
    Link as Link,
)
from marketplace.stripe_results import (
    Movement as Movement,
)
from marketplace.stripe_results import (
    PaymentIntent as PaymentIntent,
)
from marketplace.stripe_results import (
    ProcessingFee as ProcessingFee,
)
from marketplace.stripe_results import (
    SavedCard as SavedCard,
)
from marketplace.stripe_results import (
    SetupIntent as SetupIntent,
)
from marketplace.stripe_results import (
    ShippingDetails as ShippingDetails,
)
from marketplace.stripe_results import (
    Subscription as Subscription,
)
from marketplace.stripe_results import (
    SubscriptionPaymentStep as SubscriptionPaymentStep,
)
from marketplace.stripe_results import (
    Transfer as Transfer,
)

# Pin the API version to the one the SDK was generated for, so objects match its types.
API_VERSION: str = stripe.api_version

P = ParamSpec("P")
R = TypeVar("R")


class GatewayError(MarketplaceError):
    """Stripe (or the sandbox) refused or failed a call; ``code`` and ``http_status`` kept."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.retryable = retryable


class SandboxUnavailable(GatewayError):
    """No STRIPE_SECRET_KEY is set and the sandbox could not be loaded."""


_client_lock = threading.Lock()
_client: stripe.StripeClient | None = None


def idempotency_key(*parts: object) -> str:
    """A key derived from our own ids: ``idempotency_key("order", 42, "checkout")`` -> ``order-42-checkout``."""
    if not parts:
        raise ValueError("an idempotency key needs at least one part")
    return "-".join(str(part) for part in parts)


def build_client() -> stripe.StripeClient:
    """Build a new StripeClient from settings (real Stripe or the sandbox)."""
    from marketplace import stripe_traffic  # counts, paces (rate limit) and retries 429s

    if settings.STRIPE_SECRET_KEY:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            stripe_version=API_VERSION,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe_traffic.instrument(stripe.new_default_http_client()),
        )
    try:
        from sandbox import access as sandbox_access
        from sandbox import client as sandbox_client
    except ImportError as exc:  # pragma: no cover - the sandbox ships with the project
        raise SandboxUnavailable(
            "STRIPE_SECRET_KEY is not set and the Stripe sandbox is not available."
        ) from exc
    return stripe.StripeClient(
        sandbox_access.secret_key(),
        stripe_version=API_VERSION,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe_traffic.instrument(sandbox_client.SandboxHTTPClient()),
        base_addresses={
            "api": sandbox_client.SANDBOX_API_BASE,
            "files": sandbox_client.SANDBOX_API_BASE,
            "connect": sandbox_client.SANDBOX_API_BASE,
            "meter_events": sandbox_client.SANDBOX_API_BASE,
        },
    )


def client() -> stripe.StripeClient:
    """The process-wide StripeClient, built on first use."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = build_client()
    return _client


def reset_client() -> None:
    """Forget the cached client (tests that change Stripe settings call this)."""
    global _client
    with _client_lock:
        _client = None


def stripe_now() -> int:
    """Stripe's current time in unix seconds: real time with real Stripe; the sandbox's clock
    (which tests and the control page advance) offline.

    Any timestamp we hand to Stripe that Stripe checks against its own clock (a Checkout
    Session's ``expires_at``) is computed from this, never from our clock alone."""
    if settings.STRIPE_SECRET_KEY:
        return int(time.time())
    from sandbox import client as sandbox_client

    return sandbox_client.now()


def translate_errors[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Turn Stripe's exceptions into the project's own error types."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except stripe.CardError as exc:
            raise PaymentError(
                exc.user_message or "Your card was declined.", code=exc.code, retryable=False
            ) from exc
        except (stripe.RateLimitError, stripe.APIConnectionError) as exc:
            raise GatewayError(
                "Stripe is not reachable right now; please try again in a moment.",
                code=getattr(exc, "code", None),
                http_status=exc.http_status,
                retryable=True,
            ) from exc
        except stripe.StripeError as exc:
            raise GatewayError(
                exc.user_message or str(exc) or "Stripe refused the request.",
                code=exc.code,
                http_status=exc.http_status,
                retryable=(exc.http_status or 0) >= 500,
            ) from exc

    return wrapper


# --- Accounts and onboarding (sellers) ----------------------------------------------------------


@translate_errors
def account_retrieve(*, account_id: str) -> Account:
    """Fetch a connected account (the source of truth for its status)."""
    return Account.from_stripe(client().v1.accounts.retrieve(account_id))


# Express-equivalent controller properties: the Express dashboard, fees and losses on the
# platform, Stripe collects the requirements (so onboarding runs on Stripe-hosted pages).
EXPRESS_CONTROLLER: stripe.params.AccountCreateParamsController = {
    "stripe_dashboard": {"type": "express"},
    "fees": {"payer": "application"},
    "losses": {"payments": "application"},
    "requirement_collection": "stripe",
}


@translate_errors
def account_create(*, seller_id: int, country: str, email: str) -> Account:
    """Create the seller's connected account (Express dashboard; card_payments and transfers).

    The idempotency key is derived from our seller id, so a double submit or a retry returns the
    same account instead of making a second one (within Stripe's 24 h idempotency window; callers
    also refuse to create when the seller already has an account id).
    """
    params: stripe.params.AccountCreateParams = {
        "controller": EXPRESS_CONTROLLER,
        "country": country.upper(),
        "email": email,
        "capabilities": {
            "card_payments": {"requested": True},
            "transfers": {"requested": True},
        },
        "metadata": {"seller_id": str(seller_id)},
    }
    return Account.from_stripe(
        client().v1.accounts.create(
            params, options={"idempotency_key": idempotency_key("seller", seller_id, "account")}
        )
    )


@translate_errors
def account_link_create(
    *,
    account_id: str,
    link_type: str,
    refresh_url: str,
    return_url: str,
    request_key: str,
    collect_eventually_due: bool = False,
) -> Link:
    """A single-use, short-lived link to Stripe-hosted onboarding (``account_onboarding``) or
    to updating details (``account_update``, refused by Stripe for Express-dashboard accounts).

    ``request_key`` identifies one click of ours (links expire, so each click needs its own);
    ``collect_eventually_due`` asks for the future requirements too, so a seller can update
    details before Stripe needs them.
    """
    params: stripe.params.AccountLinkCreateParams = {
        "account": account_id,
        "type": link_type,
        "refresh_url": refresh_url,
        "return_url": return_url,
    }
    if collect_eventually_due:
        params["collection_options"] = {"fields": "eventually_due"}
    return Link.from_stripe(
        client().v1.account_links.create(
            params,
            options={
                "idempotency_key": idempotency_key("account", account_id, "link", request_key)
            },
        )
    )


@translate_errors
def login_link_create(*, account_id: str, request_key: str) -> Link:
    """A single-use link signing the seller into their Express dashboard."""
    return Link.from_stripe(
        client().v1.accounts.login_links.create(
            account_id,
            options={
                "idempotency_key": idempotency_key("account", account_id, "login-link", request_key)
            },
        )
    )


# (end of sellers section)


# --- Checkout, payment intents, charges (buyers) ------------------------------------------------


@dataclass(frozen=True)
class CheckoutLine:
    """One line item of a Checkout Session: ``quantity`` x ``unit_amount`` (minor units)."""

    title: str
    unit_amount: int
    quantity: int


@translate_errors
def checkout_session_create(
    *,
    purchase_id: int,
    order_id: int | None,
    lines: list[CheckoutLine],
    currency: str,
    application_fee_amount: int | None,
    destination: str | None,
    transfer_group: str | None,
    on_behalf_of: bool,
    customer_email: str,
    expires_at: int,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
    shipping_countries: list[str] | None = None,
) -> CheckoutSession:
    """Create a Checkout Session (payment mode) for one purchase.

    One seller (``destination`` given): a destination charge; the money goes to the platform,
    ``application_fee_amount`` stays there and the rest is transferred to ``destination`` (the
    seller's connected account). Several sellers (``transfer_group`` given): the charge stays on
    the platform, its PaymentIntent carries ``transfer_group`` naming the purchase, and the
    sellers are paid by separate transfers (``transfer_create``). ``idempotency_key`` comes from
    the purchase (``purchase-42-checkout``): a retry or a double click with the same key returns
    the same session instead of making a second one. ``shipping_countries`` (ISO codes) makes
    Checkout collect a shipping address in those countries.
    """
    if (destination is None) == (transfer_group is None):
        raise ValueError("give either a destination (one seller) or a transfer_group (several)")
    metadata = {"purchase_id": str(purchase_id)}
    if order_id is not None:
        metadata["order_id"] = str(order_id)
    payment_intent_data: stripe.params.checkout.SessionCreateParamsPaymentIntentData = {
        "metadata": dict(metadata),
    }
    if destination is not None:
        payment_intent_data["application_fee_amount"] = application_fee_amount or 0
        payment_intent_data["transfer_data"] = {"destination": destination}
        if on_behalf_of:
            payment_intent_data["on_behalf_of"] = destination
    else:
        assert transfer_group is not None
        payment_intent_data["transfer_group"] = transfer_group
    params: stripe.params.checkout.SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": currency,
                    "unit_amount": line.unit_amount,
                    "product_data": {"name": line.title},
                },
            }
            for line in lines
        ],
        "payment_intent_data": payment_intent_data,
        "client_reference_id": f"purchase-{purchase_id}",
        "metadata": metadata,
        "customer_email": customer_email,
        "expires_at": expires_at,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if shipping_countries:
        # The SDK types the countries as a Literal union; ours come from settings.
        params["shipping_address_collection"] = {
            "allowed_countries": cast(Any, [c.upper() for c in shipping_countries])
        }
    return CheckoutSession.from_stripe(
        client().v1.checkout.sessions.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def checkout_session_retrieve(
    *, session_id: str, expand: list[str] | None = None
) -> CheckoutSession:
    """Re-read a Checkout Session (the source of truth for payment, never the browser's URL)."""
    params: stripe.params.checkout.SessionRetrieveParams = {}
    if expand:
        params["expand"] = expand
    return CheckoutSession.from_stripe(client().v1.checkout.sessions.retrieve(session_id, params))


@translate_errors
def checkout_session_expire(*, session_id: str, idempotency_key: str) -> CheckoutSession:
    """Expire an open Checkout Session so it can no longer be paid."""
    return CheckoutSession.from_stripe(
        client().v1.checkout.sessions.expire(
            session_id, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def refund_create_for_order(
    *,
    payment_intent_id: str,
    order_id: int,
    reason: str,
    idempotency_key: str,
    reverse_transfer: bool = True,
) -> Movement:
    """Refund the whole payment of a purchase (buyers: a late payment whose stock is gone).

    For a destination charge (``reverse_transfer``), the seller's share is taken back and the
    platform's fee given back, so the buyer gets everything. A charge of several sellers has no
    transfer of its own to reverse (``reverse_transfer=False``): it is refunded from the
    platform's balance, before any seller was transferred anything.
    """
    params: stripe.params.RefundCreateParams = {
        "payment_intent": payment_intent_id,
        "metadata": {"order_id": str(order_id), "reason": reason},
    }
    if reverse_transfer:
        params["reverse_transfer"] = True
        params["refund_application_fee"] = True
    return Movement.from_stripe(
        client().v1.refunds.create(params, options={"idempotency_key": idempotency_key})
    )


# --- On-site payments (Payment Element), customers and saved cards (buyers) ----------------------

STRIPE_JS_URL = "https://js.stripe.com/v3/"


@dataclass(frozen=True)
class StripeJsConfig:
    """What a page needs to load Stripe.js: the script's URL and the publishable key."""

    script_url: str
    publishable_key: str
    sandbox: bool


def stripe_js_available() -> bool:
    """Whether pages can run Stripe.js: always on the sandbox (its stand-in); with real Stripe,
    when ``STRIPE_PUBLISHABLE_KEY`` is set."""
    return not settings.STRIPE_SECRET_KEY or bool(settings.STRIPE_PUBLISHABLE_KEY)


def stripe_js_config() -> StripeJsConfig:
    """Stripe.js from js.stripe.com with ``STRIPE_PUBLISHABLE_KEY`` (real Stripe), or the
    sandbox's stand-in (same API, served by the sandbox) with its publishable key offline."""
    if settings.STRIPE_SECRET_KEY:
        return StripeJsConfig(
            script_url=STRIPE_JS_URL,
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            sandbox=False,
        )
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("sandbox:stripe_js")
    except NoReverseMatch:
        url = "/sandbox/js/v3/"
    return StripeJsConfig(
        script_url=url,
        publishable_key=getattr(settings, "SANDBOX_PUBLISHABLE_KEY", "pk_test_sandbox"),
        sandbox=True,
    )


@translate_errors
def payment_intent_create(
    *,
    purchase_id: int,
    order_id: int | None,
    amount: int,
    currency: str,
    application_fee_amount: int | None,
    destination: str | None,
    transfer_group: str | None,
    on_behalf_of: bool,
    customer_id: str,
    receipt_email: str,
    manual_capture: bool,
    idempotency_key: str,
) -> PaymentIntent:
    """Create the PaymentIntent of a purchase paid on our own page (the Payment Element).

    The same money shape as ``checkout_session_create``: one seller (``destination``), a
    destination charge keeping ``application_fee_amount``; several sellers (``transfer_group``),
    a charge on the platform paid out by separate transfers. ``customer_id`` is the buyer's
    Customer on the platform when they have one ("" otherwise: it is set when they ask to save
    the card, ``payment_intent_set_future_usage``). ``manual_capture``: the card is only
    authorised (``capture_method=manual``) until the seller accepts the order. The amount comes
    from our purchase, never from the browser. ``idempotency_key`` from the purchase.
    """
    if (destination is None) == (transfer_group is None):
        raise ValueError("give either a destination (one seller) or a transfer_group (several)")
    metadata = {"purchase_id": str(purchase_id)}
    if order_id is not None:
        metadata["order_id"] = str(order_id)
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": amount,
        "currency": currency,
        "allowed_payment_method_types": ["card"],
        "metadata": metadata,
        "receipt_email": receipt_email,
        "capture_method": "manual" if manual_capture else "automatic",
        "expand": ["latest_charge"],
    }
    if customer_id:
        params["customer"] = customer_id
    if destination is not None:
        params["application_fee_amount"] = application_fee_amount or 0
        params["transfer_data"] = {"destination": destination}
        if on_behalf_of:
            params["on_behalf_of"] = destination
    else:
        assert transfer_group is not None
        params["transfer_group"] = transfer_group
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def payment_intent_retrieve(*, payment_intent_id: str) -> PaymentIntent:
    """Re-read a PaymentIntent (``latest_charge`` expanded): the source of truth for payment."""
    params: stripe.params.PaymentIntentRetrieveParams = {"expand": ["latest_charge"]}
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.retrieve(payment_intent_id, params)
    )


@translate_errors
def payment_intent_set_future_usage(
    *, payment_intent_id: str, save_card: bool, idempotency_key: str, customer_id: str = ""
) -> PaymentIntent:
    """Ask Stripe to save (``setup_future_usage=off_session``) the card the buyer is about to
    confirm with to the intent's customer (``customer_id``, set on the intent when given), or
    not (an empty value unsets it)."""
    params: stripe.params.PaymentIntentUpdateParams = {
        "setup_future_usage": "off_session" if save_card else ""
    }
    if customer_id:
        params["customer"] = customer_id
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.update(
            payment_intent_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def payment_intent_confirm_saved_card(
    *, payment_intent_id: str, payment_method_id: str, return_url: str, idempotency_key: str
) -> PaymentIntent:
    """Confirm a PaymentIntent server-side with one of the buyer's saved cards, the buyer being
    on our page (``off_session`` false): when the bank asks for authentication the intent
    answers ``requires_action`` and the page finishes it with Stripe.js (``handleNextAction``).
    A decline raises ``PaymentError`` with Stripe's message for the buyer."""
    params: stripe.params.PaymentIntentConfirmParams = {
        "payment_method": payment_method_id,
        "off_session": False,
        "return_url": return_url,
        "expand": ["latest_charge"],
    }
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.confirm(
            payment_intent_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def payment_intent_capture(
    *,
    payment_intent_id: str,
    amount_to_capture: int,
    application_fee_amount: int | None,
    idempotency_key: str,
) -> PaymentIntent:
    """Capture an authorised (``requires_capture``) PaymentIntent: all of it or less
    (``amount_to_capture``; the rest is released to the buyer), with the application fee of the
    captured amount (destination charges; None for a platform charge)."""
    params: stripe.params.PaymentIntentCaptureParams = {
        "amount_to_capture": amount_to_capture,
        "expand": ["latest_charge"],
    }
    if application_fee_amount is not None:
        params["application_fee_amount"] = application_fee_amount
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.capture(
            payment_intent_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def payment_intent_cancel(
    *, payment_intent_id: str, reason: str, idempotency_key: str
) -> PaymentIntent:
    """Cancel a PaymentIntent that is not paid: an authorisation is released to the buyer.
    ``reason``: Stripe's ``cancellation_reason`` (abandoned, requested_by_customer, ...)."""
    params: stripe.params.PaymentIntentCancelParams = {
        "cancellation_reason": cast(Any, reason),
    }
    return PaymentIntent.from_stripe(
        client().v1.payment_intents.cancel(
            payment_intent_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def customer_create(*, user_id: int, email: str) -> Customer:
    """The buyer's Customer on the platform account (saved cards live there). The idempotency
    key comes from our user id, so a double request makes one customer."""
    params: stripe.params.CustomerCreateParams = {
        "email": email,
        "metadata": {"user_id": str(user_id)},
    }
    return Customer.from_stripe(
        client().v1.customers.create(
            params, options={"idempotency_key": idempotency_key("user", user_id, "customer")}
        )
    )


@translate_errors
def customer_retrieve(*, customer_id: str) -> Customer:
    return Customer.from_stripe(client().v1.customers.retrieve(customer_id))


@translate_errors
def customer_set_default_card(
    *, customer_id: str, payment_method_id: str, idempotency_key: str
) -> Customer:
    """``invoice_settings.default_payment_method`` of the customer (empty string: none)."""
    params: stripe.params.CustomerUpdateParams = {
        "invoice_settings": {"default_payment_method": payment_method_id}
    }
    return Customer.from_stripe(
        client().v1.customers.update(
            customer_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def setup_intent_create(*, customer_id: str, idempotency_key: str) -> SetupIntent:
    """A SetupIntent saving a card to ``customer_id`` for later payments (``usage`` off_session),
    confirmed in the browser with ``stripe.confirmSetup``."""
    params: stripe.params.SetupIntentCreateParams = {
        "customer": customer_id,
        "allowed_payment_method_types": ["card"],
        "usage": "off_session",
    }
    return SetupIntent.from_stripe(
        client().v1.setup_intents.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def setup_intent_retrieve(*, setup_intent_id: str) -> SetupIntent:
    return SetupIntent.from_stripe(client().v1.setup_intents.retrieve(setup_intent_id))


@translate_errors
def customer_cards(*, customer_id: str) -> list[SavedCard]:
    """The cards saved to a customer (at most 100, newest first)."""
    params: stripe.params.CustomerPaymentMethodListParams = {"type": "card", "limit": 100}
    page = client().v1.customers.payment_methods.list(customer_id, params)
    return [SavedCard.from_stripe(pm) for pm in page.data]


@translate_errors
def payment_method_retrieve(*, payment_method_id: str) -> SavedCard:
    return SavedCard.from_stripe(client().v1.payment_methods.retrieve(payment_method_id))


@translate_errors
def payment_method_detach(*, payment_method_id: str, idempotency_key: str) -> SavedCard:
    """Remove a saved card from its customer: it cannot be used again."""
    return SavedCard.from_stripe(
        client().v1.payment_methods.detach(
            payment_method_id, options={"idempotency_key": idempotency_key}
        )
    )


# (end of buyers section)


# --- Balances, payouts, transfers, refunds, disputes, fees (payouts) ------------------------------


@translate_errors
def balance_retrieve(*, stripe_account: str | None = None) -> Balance:
    """Stripe's balance (available and pending, per currency) of a connected account, or of the
    platform when ``stripe_account`` is None."""
    if stripe_account:
        return Balance.from_stripe(
            client().v1.balance.retrieve(options={"stripe_account": stripe_account})
        )
    return Balance.from_stripe(client().v1.balance.retrieve())


@translate_errors
def charge_retrieve(*, charge_id: str) -> Charge:
    """Re-read a charge: the source of truth. One request tells nearly all of it: its
    ``balance_transaction`` (Stripe's processing fee), its ``transfer`` (with the transfer's
    reversals) and its ``application_fee`` (with the fee's refunds) are expanded (embedded lists
    hold up to 10 items; ``Charge`` says when one has more). Its refunds are listed apart
    (``refunds_list``), only when it has some."""
    params: stripe.params.ChargeRetrieveParams = {
        "expand": ["balance_transaction", "transfer", "application_fee"]
    }
    return Charge.from_stripe(client().v1.charges.retrieve(charge_id, params))


@translate_errors
def transfer_retrieve(*, transfer_id: str) -> Transfer:
    return Transfer.from_stripe(client().v1.transfers.retrieve(transfer_id))


@translate_errors
def transfer_create(
    *,
    amount: int,
    currency: str,
    destination: str,
    source_transaction: str,
    transfer_group: str,
    purchase_id: int,
    order_id: int,
    idempotency_key: str,
) -> Transfer:
    """Pay a seller their share of a several-seller purchase (separate charges and transfers).

    ``source_transaction`` ties the transfer to the purchase's charge: Stripe allows it before
    the charge's funds are available, makes the seller's funds available when the charge's are,
    and refuses more than what remains of the charge or another currency.
    """
    params: stripe.params.TransferCreateParams = {
        "amount": amount,
        "currency": currency,
        "destination": destination,
        "source_transaction": source_transaction,
        "transfer_group": transfer_group,
        "metadata": {"purchase_id": str(purchase_id), "order_id": str(order_id)},
    }
    return Transfer.from_stripe(
        client().v1.transfers.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def transfer_find(*, transfer_group: str, destination: str) -> Transfer | None:
    """The transfer of ``transfer_group`` to ``destination``, if one was made (else None)."""
    params: stripe.params.TransferListParams = {
        "transfer_group": transfer_group,
        "destination": destination,
        "limit": 10,
    }
    for transfer in client().v1.transfers.list(params).data:
        return Transfer.from_stripe(transfer)
    return None


@translate_errors
def transfers_list(*, transfer_group: str) -> Iterator[Transfer]:
    """Every transfer of a ``transfer_group`` (a several-seller purchase), auto-paginated."""
    params: stripe.params.TransferListParams = {"transfer_group": transfer_group, "limit": 100}
    page = client().v1.transfers.list(params)
    return _translated_iter(Transfer.from_stripe(t) for t in page.auto_paging_iter())


@translate_errors
def transfer_reversals_list(*, transfer_id: str) -> Iterator[Movement]:
    """Every reversal of a transfer (auto-paginated)."""
    params: stripe.params.TransferReversalListParams = {"limit": 100}
    page = client().v1.transfers.reversals.list(transfer_id, params)
    return _translated_iter(Movement.from_stripe(r) for r in page.auto_paging_iter())


@translate_errors
def transfer_reversal_create(
    *,
    transfer_id: str,
    amount: int,
    reason: str,
    idempotency_key: str,
    refund_request_id: int | None = None,
) -> Movement:
    """Take (part of) a seller's share back, e.g. after a lost dispute. ``refund_request_id``
    (metadata) names the refund it follows, so a retry can find a reversal already made."""
    metadata = {"reason": reason}
    if refund_request_id is not None:
        metadata["refund_request_id"] = str(refund_request_id)
    params: stripe.params.TransferReversalCreateParams = {"amount": amount, "metadata": metadata}
    return Movement.from_stripe(
        client().v1.transfers.reversals.create(
            transfer_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def application_fee_retrieve(*, fee_id: str) -> ApplicationFee:
    return ApplicationFee.from_stripe(client().v1.application_fees.retrieve(fee_id))


@translate_errors
def application_fee_refunds_list(*, fee_id: str) -> Iterator[Movement]:
    """Every refund of an application fee (auto-paginated)."""
    params: stripe.params.ApplicationFeeRefundListParams = {"limit": 100}
    page = client().v1.application_fees.refunds.list(fee_id, params)
    return _translated_iter(Movement.from_stripe(r) for r in page.auto_paging_iter())


@translate_errors
def refunds_list(*, charge_id: str) -> Iterator[Movement]:
    """Every refund of a charge (auto-paginated)."""
    params: stripe.params.RefundListParams = {"charge": charge_id, "limit": 100}
    page = client().v1.refunds.list(params)
    return _translated_iter(Movement.from_stripe(r) for r in page.auto_paging_iter())


@translate_errors
def refund_create(
    *,
    charge_id: str,
    amount: int,
    order_id: int,
    reason: str,
    idempotency_key: str,
    take_back_seller_share: bool = True,
) -> Movement:
    """Refund ``amount`` of a destination charge; the seller's transfer is reversed and the
    platform's application fee refunded pro rata, so each side gives back its share. With
    ``take_back_seller_share=False`` neither happens: the platform pays the whole refund from
    its own balance (the seller's balance cannot cover it).

    ``idempotency_key`` is per refund request (``refund-request-7``): a retry or double click
    never refunds twice.
    """
    params: stripe.params.RefundCreateParams = {
        "charge": charge_id,
        "amount": amount,
        "reverse_transfer": take_back_seller_share,
        "refund_application_fee": take_back_seller_share,
        "reason": "requested_by_customer",
        "metadata": {"order_id": str(order_id), "reason": reason[:500]},
    }
    return Movement.from_stripe(
        client().v1.refunds.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def dispute_evidence_file_upload(*, content: bytes, filename: str, idempotency_key: str) -> str:
    """Upload one evidence file (a PDF, JPEG or PNG of at most 5MB) to Stripe's files API
    (files.stripe.com, ``purpose=dispute_evidence``); returns the File's id for
    ``dispute_submit_evidence``."""
    import io

    upload = io.BytesIO(content)
    upload.name = filename
    params: stripe.params.FileCreateParams = {"purpose": "dispute_evidence", "file": upload}
    found = client().v1.files.create(params, options={"idempotency_key": idempotency_key})
    return str(found.id)


@translate_errors
def dispute_submit_evidence(
    *,
    dispute_id: str,
    text: str,
    idempotency_key: str,
    files: Mapping[str, str] | None = None,
) -> Dispute:
    """Send evidence text to the bank (``uncategorized_text``), with uploaded files by evidence
    field (``{"receipt": "file_…", "shipping_documentation": …, "uncategorized_file": …}``),
    submitted immediately."""
    evidence = cast(
        "stripe.params.DisputeUpdateParamsEvidence",
        {"uncategorized_text": text, **(files or {})},
    )
    params: stripe.params.DisputeUpdateParams = {"evidence": evidence, "submit": True}
    return Dispute.from_stripe(
        client().v1.disputes.update(
            dispute_id, params, options={"idempotency_key": idempotency_key}
        )
    )


@translate_errors
def disputes_list(*, charge_id: str) -> Iterator[Dispute]:
    """Every dispute of a charge (auto-paginated), with its balance transactions."""
    params: stripe.params.DisputeListParams = {"charge": charge_id, "limit": 100}
    page = client().v1.disputes.list(params)
    return _translated_iter(Dispute.from_stripe(d) for d in page.auto_paging_iter())


def balance_transactions_iter(
    *,
    created_gte: int,
    created_lt: int,
    stripe_account: str | None = None,
    type: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Balance transactions created in [created_gte, created_lt) of the platform or a connected
    account, newest first, as plain dicts, page by page (100 at a time): memory stays flat in
    the number of transactions. ``type``: only that type (Stripe's ``type`` filter: ``charge``
    for a card charge, ``payment`` for a local payment method's ...). A read: no idempotency key.

    Pages are read with ``raw_request`` and not turned into ``StripeObject``s: reconciliation
    reads a few fields of up to millions of rows, and building the SDK's objects (then turning
    them back into dicts) was a third of its time (``bench/reconciliation.py``)."""
    params: dict[str, Any] = {"created": {"gte": created_gte, "lt": created_lt}, "limit": 100}
    if type:
        params["type"] = type
    if stripe_account:
        params["stripe_account"] = stripe_account  # a request option, not a form field
    return _translated_iter(_raw_pages(client(), "/v1/balance_transactions", params))


@translate_errors
def balance_transaction_retrieve(*, balance_transaction_id: str) -> dict[str, Any]:
    """One balance transaction of the platform (``GET /v1/balance_transactions/{id}``), as a
    plain dict (``fee``, ``currency``, ``created``, ``exchange_rate`` ...). A read."""
    path = f"/v1/balance_transactions/{quote(balance_transaction_id, safe='')}"
    found: dict[str, Any] = client().raw_request("get", path).data
    return found


def _raw_pages(
    stripe_client: stripe.StripeClient, path: str, params: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Every item of a Stripe list endpoint, following ``starting_after`` like the SDK's
    ``auto_paging_iter``; errors are Stripe's exceptions (``_translated_iter`` maps them)."""
    cursor: str | None = None
    while True:
        page_params = dict(params, starting_after=cursor) if cursor else params
        page = stripe_client.raw_request("get", path, **page_params).data
        items: list[dict[str, Any]] = page.get("data") or []
        yield from items
        if not page.get("has_more") or not items:
            return
        cursor = str(items[-1]["id"])


# (end of payouts section)


# --- Customers, products, prices, subscriptions, invoices, meters (subscriptions) -----------------


@translate_errors
def product_create(*, plan_id: int, name: str, seller_id: int) -> str:
    """The platform-account Product of one plan (key from the plan's id)."""
    params: stripe.params.ProductCreateParams = {
        "name": name[:250],
        "metadata": {"plan_id": str(plan_id), "seller_id": str(seller_id)},
    }
    product = client().v1.products.create(
        params, options={"idempotency_key": idempotency_key("plan", plan_id, "product")}
    )
    return str(product.id)


@translate_errors
def recurring_price_create(
    *,
    plan_id: int,
    version: int,
    product_id: str,
    unit_amount: int,
    currency: str,
    interval: str,
    meter_id: str = "",
) -> str:
    """A recurring Price of a plan: the flat part (``licensed``), or with ``meter_id`` the
    usage-based part (``usage_type=metered``, ``recurring.meter``), ``unit_amount`` per unit.
    Prices are immutable in Stripe: a changed plan gets a new one (``version``)."""
    recurring: stripe.params.PriceCreateParamsRecurring = {"interval": cast(Any, interval)}
    part = "flat"
    if meter_id:
        recurring["usage_type"] = "metered"
        recurring["meter"] = meter_id
        part = "usage"
    params: stripe.params.PriceCreateParams = {
        "product": product_id,
        "currency": currency,
        "unit_amount": unit_amount,
        "recurring": recurring,
        "metadata": {"plan_id": str(plan_id), "version": str(version), "part": part},
    }
    price = client().v1.prices.create(
        params,
        options={"idempotency_key": idempotency_key("plan", plan_id, part, "price", version)},
    )
    return str(price.id)


@translate_errors
def meter_create(*, plan_id: int, display_name: str, event_name: str) -> str:
    """A Billing Meter on the platform account summing the ``value`` of ``event_name`` events
    per customer (``payload.stripe_customer_id``)."""
    params: stripe.params.billing.MeterCreateParams = {
        "display_name": display_name[:250],
        "event_name": event_name,
        "default_aggregation": {"formula": "sum"},
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "value_settings": {"event_payload_key": "value"},
    }
    meter = client().v1.billing.meters.create(
        params, options={"idempotency_key": idempotency_key("plan", plan_id, "meter")}
    )
    return str(meter.id)


@translate_errors
def meter_event_create(
    *, event_name: str, customer_id: str, value: int, identifier: str, timestamp: int
) -> None:
    """One usage record: a meter event whose ``identifier`` (from our id) makes Stripe count it
    once however often it is sent."""
    params: stripe.params.billing.MeterEventCreateParams = {
        "event_name": event_name,
        "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        "identifier": identifier,
        "timestamp": timestamp,
    }
    client().v1.billing.meter_events.create(params, options={"idempotency_key": identifier})


@translate_errors
def meter_event_cancel(*, event_name: str, identifier: str) -> None:
    """Cancel a meter event (a correction): a meter event adjustment of type ``cancel``."""
    params: stripe.params.billing.MeterEventAdjustmentCreateParams = {
        "event_name": event_name,
        "type": "cancel",
        "cancel": {"identifier": identifier},
    }
    client().v1.billing.meter_event_adjustments.create(
        params, options={"idempotency_key": idempotency_key(identifier, "cancel")}
    )


@dataclass(frozen=True)
class SubscriptionPrice:
    """A price of a subscription's Checkout line: flat (quantity 1) or metered (no quantity)."""

    price_id: str
    metered: bool = False


@translate_errors
def checkout_session_create_subscription(
    *,
    subscription_id: int,
    customer_id: str,
    prices: Sequence[SubscriptionPrice],
    application_fee_percent: float,
    destination: str,
    trial_period_days: int,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> CheckoutSession:
    """A Checkout Session in ``subscription`` mode for our subscription ``subscription_id``:
    every invoice a destination charge to ``destination`` keeping ``application_fee_percent``
    on the platform; the subscription's metadata names ours."""
    metadata = {"subscription_id": str(subscription_id)}
    data: stripe.params.checkout.SessionCreateParamsSubscriptionData = {
        "application_fee_percent": application_fee_percent,
        "transfer_data": {"destination": destination},
        "metadata": dict(metadata),
    }
    if trial_period_days:
        data["trial_period_days"] = trial_period_days
    line_items: list[stripe.params.checkout.SessionCreateParamsLineItem] = []
    for price in prices:
        line: stripe.params.checkout.SessionCreateParamsLineItem = {"price": price.price_id}
        if not price.metered:
            line["quantity"] = 1
        line_items.append(line)
    params: stripe.params.checkout.SessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": line_items,
        "subscription_data": data,
        "client_reference_id": f"subscription-{subscription_id}",
        "metadata": metadata,
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    return CheckoutSession.from_stripe(
        client().v1.checkout.sessions.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def subscription_retrieve(*, subscription_id: str) -> Subscription:
    return Subscription.from_stripe(client().v1.subscriptions.retrieve(subscription_id))


@dataclass(frozen=True)
class ItemChange:
    """One item of a plan change: replace item ``item_id``'s price, add a price, or delete."""

    item_id: str = ""
    price_id: str = ""
    deleted: bool = False


def _items_params(
    changes: Sequence[ItemChange],
) -> list[stripe.params.SubscriptionUpdateParamsItem]:
    items: list[stripe.params.SubscriptionUpdateParamsItem] = []
    for change in changes:
        item: stripe.params.SubscriptionUpdateParamsItem = {}
        if change.item_id:
            item["id"] = change.item_id
        if change.deleted:
            item["deleted"] = True
        elif change.price_id:
            item["price"] = change.price_id
        items.append(item)
    return items


@translate_errors
def invoice_create_preview(
    *, customer_id: str, subscription_id: str, changes: Sequence[ItemChange], proration_date: int
) -> Invoice:
    """The next invoice of the subscription if its items changed as ``changes`` say at
    ``proration_date`` (prorations created): what a plan change will cost."""
    preview_items: list[stripe.params.InvoiceCreatePreviewParamsSubscriptionDetailsItem] = [
        cast(Any, item) for item in _items_params(changes)
    ]
    params: stripe.params.InvoiceCreatePreviewParams = {
        "customer": customer_id,
        "subscription": subscription_id,
        "subscription_details": {
            "items": preview_items,
            "proration_behavior": "create_prorations",
            "proration_date": proration_date,
        },
    }
    digest = hashlib.sha256(repr((changes, proration_date)).encode()).hexdigest()[:16]
    return Invoice.from_stripe(
        client().v1.invoices.create_preview(
            params,
            options={"idempotency_key": idempotency_key(subscription_id, "preview", digest)},
        )
    )


@translate_errors
def subscription_change_items(
    *, subscription_id: str, changes: Sequence[ItemChange], proration_date: int, key: str
) -> Subscription:
    """Move the subscription to other prices, prorated as of ``proration_date`` (the date the
    preview used, so the buyer pays what they were shown)."""
    params: stripe.params.SubscriptionUpdateParams = {
        "items": _items_params(changes),
        "proration_behavior": "create_prorations",
        "proration_date": proration_date,
    }
    return Subscription.from_stripe(
        client().v1.subscriptions.update(subscription_id, params, options={"idempotency_key": key})
    )


@translate_errors
def subscription_set_cancel_at_period_end(
    *, subscription_id: str, cancel: bool, key: str
) -> Subscription:
    """Cancel at the end of the paid period (``True``) or resume before it ends (``False``)."""
    params: stripe.params.SubscriptionUpdateParams = {"cancel_at_period_end": cancel}
    return Subscription.from_stripe(
        client().v1.subscriptions.update(subscription_id, params, options={"idempotency_key": key})
    )


@translate_errors
def subscription_cancel_now(*, subscription_id: str, prorate: bool) -> Subscription:
    """Cancel at once; ``prorate`` credits the unused time (on the customer's balance)."""
    params: stripe.params.SubscriptionCancelParams = {"prorate": prorate}
    return Subscription.from_stripe(client().v1.subscriptions.cancel(subscription_id, params))


@translate_errors
def invoice_retrieve(*, invoice_id: str) -> Invoice:
    return Invoice.from_stripe(client().v1.invoices.retrieve(invoice_id))


def _paid_charge_id(payments: Iterable[Any]) -> str:
    """The charge of the paid one of an invoice's Invoice Payments (their PaymentIntent
    expanded): the intent's latest charge, or the payment's charge ("" when none is paid)."""
    for payment in payments:
        if payment.status != "paid":
            continue
        intent = payment.payment.payment_intent
        if intent is None:
            charge = payment.payment.charge
            return str(getattr(charge, "id", charge) or "")
        latest = getattr(intent, "latest_charge", None)
        return str(getattr(latest, "id", latest) or "")
    return ""


@translate_errors
def invoice_charge_id(*, invoice_id: str) -> str:
    """The charge that paid an invoice: its Invoice Payment's PaymentIntent's latest charge
    ("" when none succeeded yet)."""
    params: stripe.params.InvoicePaymentListParams = {
        "invoice": invoice_id,
        "expand": ["data.payment.payment_intent"],
    }
    return _paid_charge_id(client().v1.invoice_payments.list(params).data)


@dataclass(frozen=True)
class InvoiceState:
    """An invoice as Stripe has it now, with its subscription and the charge that paid it."""

    invoice: Invoice
    subscription: Subscription | None
    charge_id: str  # "" while unpaid (or paid without a charge)


@translate_errors
def invoice_retrieve_state(*, invoice_id: str) -> InvoiceState:
    """Re-read an invoice in ONE request: its subscription expanded
    (``parent.subscription_details.subscription``) and its Invoice Payments included
    (``payments``, each PaymentIntent expanded, for the charge that paid it)."""
    params: stripe.params.InvoiceRetrieveParams = {
        "expand": [
            "parent.subscription_details.subscription",
            "payments.data.payment.payment_intent",
        ]
    }
    obj = client().v1.invoices.retrieve(invoice_id, params)
    raw = obj.to_dict()
    details = (raw.get("parent") or {}).get("subscription_details") or {}
    expanded = details.get("subscription")
    subscription = (
        Subscription.from_stripe(expanded)
        if expanded is not None and not isinstance(expanded, str)
        else None
    )
    payments = getattr(obj, "payments", None)
    return InvoiceState(
        invoice=Invoice.from_stripe(raw),
        subscription=subscription,
        charge_id=_paid_charge_id(payments.data if payments is not None else []),
    )


@translate_errors
def billing_portal_session_create(*, customer_id: str, return_url: str, request_key: str) -> str:
    """A short-lived link to Stripe's customer portal for this customer (its URL)."""
    params: stripe.params.billing_portal.SessionCreateParams = {
        "customer": customer_id,
        "return_url": return_url,
    }
    session = client().v1.billing_portal.sessions.create(
        params,
        options={"idempotency_key": idempotency_key(customer_id, "portal", request_key)},
    )
    return str(session.url)


# Our own subscription page (the Payment Element): what it reads of a subscription.
PAYMENT_STEP_EXPAND = ["latest_invoice.confirmation_secret", "pending_setup_intent"]


@translate_errors
def subscription_create_incomplete(
    *,
    subscription_id: int,
    customer_id: str,
    prices: Sequence[SubscriptionPrice],
    application_fee_percent: float,
    destination: str,
    trial_period_days: int,
    idempotency_key: str,
) -> SubscriptionPaymentStep:
    """Create the Stripe subscription of our subscription ``subscription_id`` for our own page:
    ``payment_behavior=default_incomplete`` (the first invoice waits, open, for the buyer to
    confirm its PaymentIntent with the Payment Element: ``latest_invoice.confirmation_secret``;
    with a trial nothing is due and ``pending_setup_intent`` collects the card), the card saved
    as the subscription's default (``save_default_payment_method=on_subscription``), every
    invoice a destination charge to ``destination`` keeping ``application_fee_percent``."""
    items: list[stripe.params.SubscriptionCreateParamsItem] = []
    for price in prices:
        item: stripe.params.SubscriptionCreateParamsItem = {"price": price.price_id}
        if not price.metered:
            item["quantity"] = 1
        items.append(item)
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer_id,
        "items": items,
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "application_fee_percent": application_fee_percent,
        "transfer_data": {"destination": destination},
        "metadata": {"subscription_id": str(subscription_id)},
        "expand": list(PAYMENT_STEP_EXPAND),
    }
    if trial_period_days:
        params["trial_period_days"] = trial_period_days
    return SubscriptionPaymentStep.from_stripe(
        client().v1.subscriptions.create(params, options={"idempotency_key": idempotency_key})
    )


@translate_errors
def subscription_payment_step(*, subscription_id: str) -> SubscriptionPaymentStep:
    """Re-read a subscription with what our page needs to collect a payment or a card."""
    params: stripe.params.SubscriptionRetrieveParams = {"expand": list(PAYMENT_STEP_EXPAND)}
    return SubscriptionPaymentStep.from_stripe(
        client().v1.subscriptions.retrieve(subscription_id, params)
    )


@translate_errors
def setup_intent_confirm_saved_card(
    *, setup_intent_id: str, payment_method_id: str, return_url: str, idempotency_key: str
) -> SetupIntent:
    """Confirm a SetupIntent server-side with one of the customer's saved cards (a trial's
    ``pending_setup_intent`` in one click): ``requires_action`` when the bank asks the buyer to
    authenticate (the page then runs ``handleNextAction``)."""
    params: stripe.params.SetupIntentConfirmParams = {
        "payment_method": payment_method_id,
        "return_url": return_url,
    }
    return SetupIntent.from_stripe(
        client().v1.setup_intents.confirm(
            setup_intent_id, params, options={"idempotency_key": idempotency_key}
        )
    )


# (end of subscriptions section)


# --- Events and webhook endpoints (events) -----------------------------------------------------

WEBHOOK_TOLERANCE_SECONDS = 300


class WebhookSignatureError(ValueError):
    """The ``Stripe-Signature`` header is missing, malformed, wrong or too old (one-line reason)."""


# Stripe's header is t= and one v1= per active secret (two during a rotation): ~150 characters.
MAX_SIGNATURE_HEADER = 4096


def webhook_verify_signature(
    *,
    payload: bytes,
    sig_header: str,
    secrets: Sequence[str],
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check ``Stripe-Signature`` (``t=...,v1=...``) on the raw body against any of ``secrets``.

    Stripe signs ``f"{t}.{body}"`` with HMAC-SHA256 and may send several ``v1`` signatures (one per
    active secret during a rotation); several of our secrets may be valid at once too. Raises
    ``WebhookSignatureError`` with a one-line reason. Pure computation: no network, no parsing of
    the body, so it is cheap enough for the request.
    """
    if not sig_header:
        raise WebhookSignatureError("missing Stripe-Signature header")
    if len(sig_header) > MAX_SIGNATURE_HEADER:
        raise WebhookSignatureError("Stripe-Signature header too long")
    if not secrets:
        raise WebhookSignatureError("no webhook signing secret is configured for this endpoint")
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in sig_header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            # Unix seconds: a few ASCII digits. Anything longer (hundreds of digits would overflow
            # the float comparison below) or signed, spaced or underscored is malformed.
            if not (value.isascii() and value.isdigit() and len(value) <= 12):
                raise WebhookSignatureError("malformed Stripe-Signature timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.encode("ascii", "replace"))
    if timestamp is None:
        raise WebhookSignatureError("no timestamp in Stripe-Signature header")
    if not signatures:
        raise WebhookSignatureError("no v1 signature in Stripe-Signature header")
    signed = str(timestamp).encode() + b"." + payload
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
        if any(hmac.compare_digest(expected, sig) for sig in signatures):
            break
    else:
        raise WebhookSignatureError("signature does not match any webhook secret")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"timestamp outside the {tolerance}-second tolerance ({int(current - timestamp)} s old)"
        )


def webhook_sign(*, payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload`` (tests and benchmarks)."""
    t = int(time.time()) if timestamp is None else timestamp
    sig = hmac.new(secret.encode(), str(t).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


@translate_errors
def webhook_endpoint_create(*, url: str, connect: bool, generation: int = 0) -> Endpoint:
    """Register a webhook endpoint receiving every event (``connect=True``: connected accounts').

    The answer carries ``secret`` (only on creation). Idempotency key from the URL, the
    kind and ``generation`` (bumped when a lost endpoint is replaced), so a retry never registers
    a second endpoint.
    """
    kind = "connect" if connect else "platform"
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    params: stripe.params.WebhookEndpointCreateParams = {
        "url": url,
        "enabled_events": ["*"],
        "connect": connect,
        "description": f"marketplace {kind} endpoint",
    }
    return Endpoint.from_stripe(
        client().v1.webhook_endpoints.create(
            params=params,
            options={
                "idempotency_key": idempotency_key("webhook-endpoint", kind, digest, generation)
            },
        )
    )


@translate_errors
def webhook_endpoint_list() -> list[Endpoint]:
    """Every webhook endpoint registered on the platform account."""
    params: stripe.params.WebhookEndpointListParams = {"limit": 100}
    page = client().v1.webhook_endpoints.list(params=params)
    return [Endpoint.from_stripe(endpoint) for endpoint in page.auto_paging_iter()]


@translate_errors
def event_list(
    *, created_gte: int, account: str | None = None, limit: int = 100
) -> Iterator[dict[str, Any]]:
    """Events created at or after ``created_gte`` (unix seconds), newest first, as plain JSON dicts.

    ``account`` lists the events of one connected account (``Stripe-Account`` header). Stripe keeps
    30 days of events. The iterator pages lazily; errors while paging are translated too.
    """
    params: stripe.params.EventListParams = {"created": {"gte": created_gte}, "limit": limit}
    options: stripe.RequestOptions = {}
    if account:
        options["stripe_account"] = account
    page = client().v1.events.list(params=params, options=options)
    return _translated_iter(event.to_dict() for event in page.auto_paging_iter())


@translate_errors
def connected_account_ids() -> Iterator[str]:
    """Ids of every connected account of the platform (``accounts.list``, paged lazily)."""
    params: stripe.params.AccountListParams = {"limit": 100}
    page = client().v1.accounts.list(params=params)
    return _translated_iter(account.id for account in page.auto_paging_iter())


# Object types an event's ``data.object`` may be, and how to fetch the current version.
_RETRIEVERS: dict[str, Callable[[stripe.StripeClient, str, stripe.RequestOptions], Any]] = {
    "account": lambda c, i, o: c.v1.accounts.retrieve(i, options=o),
    "checkout.session": lambda c, i, o: c.v1.checkout.sessions.retrieve(i, options=o),
    "payment_intent": lambda c, i, o: c.v1.payment_intents.retrieve(i, options=o),
    "charge": lambda c, i, o: c.v1.charges.retrieve(i, options=o),
    "refund": lambda c, i, o: c.v1.refunds.retrieve(i, options=o),
    "transfer": lambda c, i, o: c.v1.transfers.retrieve(i, options=o),
    "payout": lambda c, i, o: c.v1.payouts.retrieve(i, options=o),
    "dispute": lambda c, i, o: c.v1.disputes.retrieve(i, options=o),
    "application_fee": lambda c, i, o: c.v1.application_fees.retrieve(i, options=o),
    "balance": lambda c, i, o: c.v1.balance.retrieve(options=o),
    "subscription": lambda c, i, o: c.v1.subscriptions.retrieve(i, options=o),
    "invoice": lambda c, i, o: c.v1.invoices.retrieve(i, options=o),
}


@translate_errors
def object_retrieve(
    *, object_type: str, object_id: str, stripe_account: str | None = None
) -> dict[str, Any]:
    """The current version of a Stripe object named by an event (``data.object``), as JSON.

    For Connect events pass ``stripe_account=event.account``. Raises ``GatewayError`` for an
    object type we do not know how to fetch.
    """
    retriever = _RETRIEVERS.get(object_type)
    if retriever is None:
        raise GatewayError(f"cannot re-fetch Stripe objects of type {object_type!r}")
    options: stripe.RequestOptions = {}
    if stripe_account:
        options["stripe_account"] = stripe_account
    result: dict[str, Any] = retriever(client(), object_id, options).to_dict()
    return result


def _translated_iter[T](items: Iterator[T]) -> Iterator[T]:
    """Re-raise Stripe errors met while paging as the project's own errors."""
    it = iter(items)
    while True:
        try:
            item = _next_translated(it)
        except StopIteration:
            return
        yield item


@translate_errors
def _next_translated[T](it: Iterator[T]) -> T:
    return next(it)
