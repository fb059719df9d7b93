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
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import stripe
from django.conf import settings

from marketplace.errors import MarketplaceError, PaymentError

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
    if settings.STRIPE_SECRET_KEY:
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            stripe_version=API_VERSION,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        )
    try:
        from sandbox import client as sandbox_client
    except ImportError as exc:  # pragma: no cover - the sandbox ships with the project
        raise SandboxUnavailable(
            "STRIPE_SECRET_KEY is not set and the Stripe sandbox is not available."
        ) from exc
    return stripe.StripeClient(
        sandbox_client.SANDBOX_SECRET_KEY,
        stripe_version=API_VERSION,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=sandbox_client.SandboxHTTPClient(),
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
def account_retrieve(*, account_id: str) -> stripe.Account:
    """Fetch a connected account (the source of truth for its status)."""
    return client().v1.accounts.retrieve(account_id)


# (end of sellers section)


# --- Checkout, payment intents, charges (buyers) ------------------------------------------------


# (end of buyers section)


# --- Balances, payouts, transfers, refunds, disputes, fees (payouts) ------------------------------


@translate_errors
def balance_retrieve(*, stripe_account: str | None = None) -> stripe.Balance:
    """Stripe's balance (available and pending, per currency) of a connected account, or of the
    platform when ``stripe_account`` is None."""
    if stripe_account:
        return client().v1.balance.retrieve(options={"stripe_account": stripe_account})
    return client().v1.balance.retrieve()


@translate_errors
def charge_retrieve(*, charge_id: str) -> stripe.Charge:
    """Re-read a charge (amount, refunds, transfer and application fee ids): the source of truth."""
    return client().v1.charges.retrieve(charge_id)


@translate_errors
def transfer_retrieve(*, transfer_id: str) -> stripe.Transfer:
    return client().v1.transfers.retrieve(transfer_id)


@translate_errors
def transfer_reversals_list(*, transfer_id: str) -> Iterator[stripe.TransferReversal]:
    """Every reversal of a transfer (auto-paginated)."""
    params: stripe.params.TransferReversalListParams = {"limit": 100}
    return iter(client().v1.transfers.reversals.list(transfer_id, params).auto_paging_iter())


@translate_errors
def transfer_reversal_create(
    *, transfer_id: str, amount: int, reason: str, idempotency_key: str
) -> stripe.TransferReversal:
    """Take (part of) a seller's share back, e.g. after a lost dispute."""
    params: stripe.params.TransferReversalCreateParams = {
        "amount": amount,
        "metadata": {"reason": reason},
    }
    return client().v1.transfers.reversals.create(
        transfer_id, params, options={"idempotency_key": idempotency_key}
    )


@translate_errors
def application_fee_retrieve(*, fee_id: str) -> stripe.ApplicationFee:
    return client().v1.application_fees.retrieve(fee_id)


@translate_errors
def application_fee_refunds_list(*, fee_id: str) -> Iterator[stripe.ApplicationFeeRefund]:
    """Every refund of an application fee (auto-paginated)."""
    params: stripe.params.ApplicationFeeRefundListParams = {"limit": 100}
    return iter(client().v1.application_fees.refunds.list(fee_id, params).auto_paging_iter())


@translate_errors
def refunds_list(*, charge_id: str) -> Iterator[stripe.Refund]:
    """Every refund of a charge (auto-paginated)."""
    params: stripe.params.RefundListParams = {"charge": charge_id, "limit": 100}
    return iter(client().v1.refunds.list(params).auto_paging_iter())


@translate_errors
def refund_retrieve(*, refund_id: str) -> stripe.Refund:
    return client().v1.refunds.retrieve(refund_id)


@translate_errors
def refund_create(
    *, charge_id: str, amount: int, order_id: int, reason: str, idempotency_key: str
) -> stripe.Refund:
    """Refund ``amount`` of a destination charge; the seller's transfer is reversed and the
    platform's application fee refunded pro rata, so each side gives back its share.

    ``idempotency_key`` is per refund request (``refund-request-7``): a retry or double click
    never refunds twice.
    """
    params: stripe.params.RefundCreateParams = {
        "charge": charge_id,
        "amount": amount,
        "reverse_transfer": True,
        "refund_application_fee": True,
        "reason": "requested_by_customer",
        "metadata": {"order_id": str(order_id), "reason": reason[:500]},
    }
    return client().v1.refunds.create(params, options={"idempotency_key": idempotency_key})


@translate_errors
def dispute_retrieve(*, dispute_id: str) -> stripe.Dispute:
    return client().v1.disputes.retrieve(dispute_id)


@translate_errors
def dispute_submit_evidence(*, dispute_id: str, text: str, idempotency_key: str) -> stripe.Dispute:
    """Send evidence text to the bank (``uncategorized_text``), submitted immediately."""
    params: stripe.params.DisputeUpdateParams = {
        "evidence": {"uncategorized_text": text},
        "submit": True,
    }
    return client().v1.disputes.update(
        dispute_id, params, options={"idempotency_key": idempotency_key}
    )


@translate_errors
def disputes_list(*, charge_id: str) -> Iterator[stripe.Dispute]:
    """Every dispute of a charge (auto-paginated)."""
    params: stripe.params.DisputeListParams = {"charge": charge_id, "limit": 100}
    return iter(client().v1.disputes.list(params).auto_paging_iter())


@translate_errors
def payout_retrieve(*, payout_id: str, stripe_account: str) -> stripe.Payout:
    return client().v1.payouts.retrieve(payout_id, options={"stripe_account": stripe_account})


@translate_errors
def balance_transactions_iter(
    *, created_gte: int, created_lt: int, stripe_account: str | None = None
) -> Iterator[stripe.BalanceTransaction]:
    """Balance transactions created in [created_gte, created_lt) of the platform or a connected
    account, page by page (100 at a time): memory stays flat in the number of transactions."""
    params: stripe.params.BalanceTransactionListParams = {
        "created": {"gte": created_gte, "lt": created_lt},
        "limit": 100,
    }
    if stripe_account:
        page = client().v1.balance_transactions.list(
            params, options={"stripe_account": stripe_account}
        )
    else:
        page = client().v1.balance_transactions.list(params)
    return iter(page.auto_paging_iter())


# (end of payouts section)


# --- Events and webhook endpoints (events) -----------------------------------------------------


# (end of events section)


# --- Webhooks ---------------------------------------------------------------------------------


def webhook_construct_event(*, payload: bytes, sig_header: str, secret: str) -> stripe.Event:
    """Verify ``Stripe-Signature`` on the raw body and parse it (raises ValueError on failure)."""
    try:
        event: stripe.Event = stripe.Webhook.construct_event(payload, sig_header, secret)
        return event
    except stripe.SignatureVerificationError as exc:
        raise ValueError(str(exc)) from exc
