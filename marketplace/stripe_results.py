"""The small typed values the gateway returns instead of the SDK's objects: what callers read,
flattened once here (expandable references become ids, optional numbers 0), so no service ever
sees a Stripe object or flattens one. ``from_stripe`` takes an SDK object or its JSON (a dict,
e.g. from a test double). No ``import stripe`` here: the gateway builds these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

# --- Helpers --------------------------------------------------------------------------------------


def _as_dict(obj: object) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:
        return cast(dict[str, Any], to_dict())
    return dict(cast(Any, obj))


def _ref(value: object) -> str:
    """The id of an expandable field: an id string, an expanded object, or nothing."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return str(_as_dict(value).get("id") or "")


def _int(value: object) -> int:
    return int(cast(Any, value) or 0)


def _opt_int(value: object) -> int | None:
    return None if value in (None, "") else int(cast(Any, value))


# --- Typed results of the money calls (payouts) ---------------------------------------------------


@dataclass(frozen=True)
class ProcessingFee:
    """A charge's balance transaction: Stripe's processing fee in the settlement currency."""

    id: str
    fee: int
    currency: str
    created: int | None


@dataclass(frozen=True)
class Charge:
    id: str
    amount: int
    currency: str
    status: str
    paid: bool
    created: int | None
    amount_refunded: int
    disputed: bool
    order_id: str  # metadata.order_id, "" when absent
    payment_intent_id: str
    transfer_id: str
    destination_id: str  # transfer_data.destination (or the legacy ``destination``)
    application_fee_id: str
    processing_fee: ProcessingFee | None  # only when ``balance_transaction`` was expanded
    transfer_group: str = ""  # a several-seller purchase's charge (separate transfers)

    @classmethod
    def from_stripe(cls, obj: object) -> Charge:
        d = _as_dict(obj)
        bt = d.get("balance_transaction")
        processing = None
        if isinstance(bt, dict) or (bt is not None and not isinstance(bt, str)):
            btd = _as_dict(bt)
            processing = ProcessingFee(
                id=str(btd.get("id") or ""),
                fee=_int(btd.get("fee")),
                currency=str(btd.get("currency") or "").lower(),
                created=_opt_int(btd.get("created")),
            )
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            currency=str(d.get("currency") or "").lower(),
            status=str(d.get("status") or ""),
            paid=bool(d.get("paid")),
            created=_opt_int(d.get("created")),
            amount_refunded=_int(d.get("amount_refunded")),
            disputed=bool(d.get("disputed")),
            order_id=str((d.get("metadata") or {}).get("order_id") or ""),
            payment_intent_id=_ref(d.get("payment_intent")),
            transfer_id=_ref(d.get("transfer")),
            destination_id=_ref((d.get("transfer_data") or {}).get("destination"))
            or _ref(d.get("destination")),
            application_fee_id=_ref(d.get("application_fee")),
            processing_fee=processing,
            transfer_group=str(d.get("transfer_group") or ""),
        )


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    amount_reversed: int
    destination_id: str
    created: int | None
    # Separate charges and transfers (a several-seller purchase): the charge it is paid from,
    # its group (the purchase) and metadata.order_id ("" when absent).
    source_transaction_id: str = ""
    transfer_group: str = ""
    order_id: str = ""

    @classmethod
    def from_stripe(cls, obj: object) -> Transfer:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            amount_reversed=_int(d.get("amount_reversed")),
            destination_id=_ref(d.get("destination")),
            created=_opt_int(d.get("created")),
            source_transaction_id=_ref(d.get("source_transaction")),
            transfer_group=str(d.get("transfer_group") or ""),
            order_id=str((d.get("metadata") or {}).get("order_id") or ""),
        )


@dataclass(frozen=True)
class ApplicationFee:
    id: str
    amount: int
    amount_refunded: int
    created: int | None

    @classmethod
    def from_stripe(cls, obj: object) -> ApplicationFee:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            amount_refunded=_int(d.get("amount_refunded")),
            created=_opt_int(d.get("created")),
        )


@dataclass(frozen=True)
class Movement:
    """A refund, a transfer reversal or an application-fee refund: money moved back."""

    id: str
    amount: int
    status: str  # refunds: pending, succeeded, failed...; "succeeded" for the others
    created: int | None
    order_id: str = ""  # metadata.order_id ("" when absent): which order a refund was for

    @classmethod
    def from_stripe(cls, obj: object) -> Movement:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            status=str(d.get("status") or "succeeded"),
            created=_opt_int(d.get("created")),
            order_id=str((d.get("metadata") or {}).get("order_id") or ""),
        )


@dataclass(frozen=True)
class DisputeFunds:
    """One balance transaction of a dispute: funds withdrawn (< 0) or reinstated (> 0)."""

    amount: int
    fee: int
    currency: str
    created: int | None


@dataclass(frozen=True)
class Dispute:
    id: str
    currency: str
    status: str
    funds: tuple[DisputeFunds, ...]

    @classmethod
    def from_stripe(cls, obj: object) -> Dispute:
        d = _as_dict(obj)
        currency = str(d.get("currency") or "").lower()
        funds = tuple(
            DisputeFunds(
                amount=_int(bt.get("amount")),
                fee=_int(bt.get("fee")),
                currency=str(bt.get("currency") or currency).lower(),
                created=_opt_int(bt.get("created")),
            )
            for bt in (_as_dict(item) for item in d.get("balance_transactions") or [])
        )
        return cls(
            id=str(d["id"]), currency=currency, status=str(d.get("status") or ""), funds=funds
        )


@dataclass(frozen=True)
class Amount:
    amount: int
    currency: str


@dataclass(frozen=True)
class Balance:
    """Stripe's balance of an account: available and pending amounts, one per currency."""

    available: tuple[Amount, ...]
    pending: tuple[Amount, ...]

    @classmethod
    def from_stripe(cls, obj: object) -> Balance:
        d = _as_dict(obj)

        def summed(items: object) -> tuple[Amount, ...]:
            totals: dict[str, int] = {}
            for item in cast(list[Any], items or []):
                row = _as_dict(item)
                currency = str(row["currency"]).lower()
                totals[currency] = totals.get(currency, 0) + _int(row.get("amount"))
            return tuple(Amount(amount, currency) for currency, amount in sorted(totals.items()))

        return cls(available=summed(d.get("available")), pending=summed(d.get("pending")))

    def by_currency(self, which: str = "available") -> dict[str, int]:
        return {a.currency: a.amount for a in getattr(self, which)}


# --- Typed results of the checkout calls (buyers) -------------------------------------------------


@dataclass(frozen=True)
class ShippingDetails:
    name: str
    address: dict[str, str]  # line1, line2, postal_code, city, state, country: the non-empty ones


SHIPPING_ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "state", "country")


@dataclass(frozen=True)
class CheckoutSession:
    """What our checkout reads of a Checkout Session; with ``payment_intent.latest_charge``
    expanded, also the ids of the payment's charge, transfer and application fee."""

    id: str
    url: str
    mode: str
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    amount_total: int | None
    currency: str
    client_reference_id: str
    metadata: dict[str, str]
    customer_email: str
    expires_at: int | None
    success_url: str
    payment_intent_id: str
    charge_id: str
    transfer_id: str
    application_fee_id: str
    receipt_url: str
    shipping: ShippingDetails | None

    @property
    def order_id(self) -> int | None:
        """Our order's id: the session's metadata, else its client_reference_id."""
        raw = self.metadata.get("order_id") or self.client_reference_id
        return int(raw) if raw.isdigit() else None

    @property
    def purchase_id(self) -> int | None:
        """Our purchase's id: the session's metadata, else its ``purchase-N`` reference."""
        raw = self.metadata.get("purchase_id") or self.client_reference_id.removeprefix("purchase-")
        return int(raw) if raw.isdigit() else None

    @classmethod
    def from_stripe(cls, obj: object) -> CheckoutSession:
        d = _as_dict(obj)
        intent = d.get("payment_intent")
        intent_d = _as_dict(intent) if intent and not isinstance(intent, str) else {}
        charge = intent_d.get("latest_charge")
        charge_d = _as_dict(charge) if charge and not isinstance(charge, str) else {}
        collected = _as_dict(d.get("collected_information"))
        details = _as_dict(collected.get("shipping_details"))
        shipping = None
        if details:
            address = _as_dict(details.get("address"))
            fields = {k: str(address.get(k) or "") for k in SHIPPING_ADDRESS_FIELDS}
            shipping = ShippingDetails(
                name=str(details.get("name") or ""),
                address={k: v for k, v in fields.items() if v},
            )
        return cls(
            id=str(d["id"]),
            url=str(d.get("url") or ""),
            mode=str(d.get("mode") or ""),
            status=str(d.get("status") or ""),
            payment_status=str(d.get("payment_status") or ""),
            amount_total=_opt_int(d.get("amount_total")),
            currency=str(d.get("currency") or ""),
            client_reference_id=str(d.get("client_reference_id") or ""),
            metadata={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
            customer_email=str(d.get("customer_email") or ""),
            expires_at=_opt_int(d.get("expires_at")),
            success_url=str(d.get("success_url") or ""),
            payment_intent_id=_ref(intent),
            charge_id=_ref(charge),
            transfer_id=_ref(charge_d.get("transfer")),
            application_fee_id=_ref(charge_d.get("application_fee")),
            receipt_url=str(charge_d.get("receipt_url") or ""),
            shipping=shipping,
        )


# --- Typed results of the subscription calls (subscriptions) -------------------------------------


@dataclass(frozen=True)
class SubscriptionItem:
    id: str
    price_id: str
    usage_type: str  # licensed | metered
    unit_amount: int
    quantity: int  # 0 for a metered item (no quantity)
    interval: str  # month, year...
    current_period_start: int | None
    current_period_end: int | None


@dataclass(frozen=True)
class Subscription:
    """What our subscriptions read of a Stripe subscription (the period lives on its items
    since API 2025-03-31; the first item's is the subscription's)."""

    id: str
    status: str
    customer_id: str
    created: int | None
    cancel_at_period_end: bool
    cancel_at: int | None
    canceled_at: int | None
    ended_at: int | None
    trial_start: int | None
    trial_end: int | None
    latest_invoice_id: str
    paused: bool  # pause_collection is set
    metadata: dict[str, str]
    items: tuple[SubscriptionItem, ...]

    @property
    def current_period_start(self) -> int | None:
        return self.items[0].current_period_start if self.items else None

    @property
    def current_period_end(self) -> int | None:
        return self.items[0].current_period_end if self.items else None

    @classmethod
    def from_stripe(cls, obj: object) -> Subscription:
        d = _as_dict(obj)
        items = []
        for raw in _as_dict(d.get("items")).get("data") or []:
            item = _as_dict(raw)
            price = _as_dict(item.get("price"))
            recurring = _as_dict(price.get("recurring"))
            items.append(
                SubscriptionItem(
                    id=str(item.get("id") or ""),
                    price_id=str(price.get("id") or ""),
                    usage_type=str(recurring.get("usage_type") or "licensed"),
                    unit_amount=_int(price.get("unit_amount")),
                    quantity=_int(item.get("quantity")),
                    interval=str(recurring.get("interval") or ""),
                    current_period_start=_opt_int(item.get("current_period_start")),
                    current_period_end=_opt_int(item.get("current_period_end")),
                )
            )
        return cls(
            id=str(d["id"]),
            status=str(d.get("status") or ""),
            customer_id=_ref(d.get("customer")),
            created=_opt_int(d.get("created")),
            cancel_at_period_end=bool(d.get("cancel_at_period_end")),
            cancel_at=_opt_int(d.get("cancel_at")),
            canceled_at=_opt_int(d.get("canceled_at")),
            ended_at=_opt_int(d.get("ended_at")),
            trial_start=_opt_int(d.get("trial_start")),
            trial_end=_opt_int(d.get("trial_end")),
            latest_invoice_id=_ref(d.get("latest_invoice")),
            paused=bool(d.get("pause_collection")),
            metadata={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
            items=tuple(items),
        )


@dataclass(frozen=True)
class InvoiceLine:
    amount: int
    description: str
    proration: bool
    price_id: str
    quantity: int | None


@dataclass(frozen=True)
class Invoice:
    """An invoice (or an invoice preview: ``id`` is then empty): its amounts, its subscription
    (``parent.subscription_details``), where to pay it and when Stripe retries."""

    id: str
    status: str  # draft, open, paid, uncollectible, void
    subscription_id: str
    subscription_metadata: dict[str, str]
    customer_id: str
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    total: int
    billing_reason: str
    hosted_invoice_url: str
    attempt_count: int
    next_payment_attempt: int | None
    period_start: int | None
    period_end: int | None
    created: int | None
    paid_at: int | None
    lines: tuple[InvoiceLine, ...]

    @classmethod
    def from_stripe(cls, obj: object) -> Invoice:
        d = _as_dict(obj)
        parent = _as_dict(d.get("parent"))
        details = _as_dict(parent.get("subscription_details"))
        lines = []
        for raw in _as_dict(d.get("lines")).get("data") or []:
            line = _as_dict(raw)
            pricing = _as_dict(line.get("pricing"))
            price_details = _as_dict(pricing.get("price_details"))
            line_parent = _as_dict(line.get("parent"))
            item_details = _as_dict(
                line_parent.get("subscription_item_details")
                or line_parent.get("invoice_item_details")
            )
            lines.append(
                InvoiceLine(
                    amount=_int(line.get("amount")),
                    description=str(line.get("description") or ""),
                    proration=bool(item_details.get("proration")),
                    price_id=_ref(price_details.get("price")),
                    quantity=_opt_int(line.get("quantity")),
                )
            )
        transitions = _as_dict(d.get("status_transitions"))
        return cls(
            id=str(d.get("id") or ""),
            status=str(d.get("status") or ""),
            subscription_id=_ref(details.get("subscription")),
            subscription_metadata={
                str(k): str(v) for k, v in (details.get("metadata") or {}).items()
            },
            customer_id=_ref(d.get("customer")),
            currency=str(d.get("currency") or "").lower(),
            amount_due=_int(d.get("amount_due")),
            amount_paid=_int(d.get("amount_paid")),
            amount_remaining=_int(d.get("amount_remaining")),
            total=_int(d.get("total")),
            billing_reason=str(d.get("billing_reason") or ""),
            hosted_invoice_url=str(d.get("hosted_invoice_url") or ""),
            attempt_count=_int(d.get("attempt_count")),
            next_payment_attempt=_opt_int(d.get("next_payment_attempt")),
            period_start=_opt_int(d.get("period_start")),
            period_end=_opt_int(d.get("period_end")),
            created=_opt_int(d.get("created")),
            paid_at=_opt_int(transitions.get("paid_at")),
            lines=tuple(lines),
        )
