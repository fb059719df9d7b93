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


def _embedded_movements(value: object) -> tuple[Movement, ...] | None:
    """A list object embedded in an object (a transfer's ``reversals``, a fee's ``refunds``, an
    expanded charge's ``refunds``) when it is complete; None when absent or paginated
    (``has_more``): the caller then lists it."""
    if value is None or isinstance(value, str):
        return None
    d = _as_dict(value)
    if d.get("object") != "list" or d.get("has_more"):
        return None
    return tuple(Movement.from_stripe(item) for item in d.get("data") or [])


def _expanded(value: object) -> dict[str, Any] | None:
    """An expanded object's JSON, or None when the field is an id (or empty)."""
    if not value or isinstance(value, str):
        return None
    return _as_dict(value)


def _maybe(cls: Any, value: object) -> Any:
    """``cls.from_stripe`` of an expanded object; None when the field is an id or empty."""
    expanded = _expanded(value)
    return None if expanded is None else cls.from_stripe(expanded)


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
    # Expanded in the same request (``charge_retrieve``), so one read tells the whole charge;
    # None when not expanded (or a list has more than one page): read them separately.
    transfer: Transfer | None = None
    application_fee: ApplicationFee | None = None
    refunds: tuple[Movement, ...] | None = None

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
            transfer=_maybe(Transfer, d.get("transfer")),
            application_fee=_maybe(ApplicationFee, d.get("application_fee")),
            refunds=_embedded_movements(d.get("refunds")),
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
    # The reversals embedded in the transfer (None when absent or more than one page).
    reversals: tuple[Movement, ...] | None = None

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
            reversals=_embedded_movements(d.get("reversals")),
        )


@dataclass(frozen=True)
class ApplicationFee:
    id: str
    amount: int
    amount_refunded: int
    created: int | None
    # The refunds embedded in the fee (None when absent or more than one page).
    refunds: tuple[Movement, ...] | None = None

    @classmethod
    def from_stripe(cls, obj: object) -> ApplicationFee:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            amount_refunded=_int(d.get("amount_refunded")),
            created=_opt_int(d.get("created")),
            refunds=_embedded_movements(d.get("refunds")),
        )


@dataclass(frozen=True)
class Movement:
    """A refund, a transfer reversal or an application-fee refund: money moved back."""

    id: str
    amount: int
    status: str  # refunds: pending, succeeded, failed...; "succeeded" for the others
    created: int | None
    order_id: str = ""  # metadata.order_id ("" when absent): which order a refund was for
    # metadata.refund_request_id of a transfer reversal made for one of our refund requests
    refund_request_id: str = ""

    @classmethod
    def from_stripe(cls, obj: object) -> Movement:
        d = _as_dict(obj)
        metadata = d.get("metadata") or {}
        return cls(
            id=str(d["id"]),
            amount=_int(d.get("amount")),
            status=str(d.get("status") or "succeeded"),
            created=_opt_int(d.get("created")),
            order_id=str(metadata.get("order_id") or ""),
            refund_request_id=str(metadata.get("refund_request_id") or ""),
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
