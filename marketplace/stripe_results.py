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
    # An authorisation (capture_method=manual) is a succeeded charge with captured false until
    # captured; then amount_captured (possibly less than amount) is what the buyer paid.
    captured: bool = True
    amount_captured: int | None = None
    # What a charge states itself (its event's payload) beyond ids: the balance transaction
    # (Stripe's processing fee is on it), the application fee's amount, the amount of a
    # ``transfer_data[amount]`` (None: the whole charge is transferred), the receipt, and the
    # purchase it pays (``metadata.purchase_id``, "" when absent).
    balance_transaction_id: str = ""
    application_fee_amount: int | None = None
    transfer_amount: int | None = None
    receipt_url: str = ""
    purchase_id: str = ""

    @property
    def money_taken(self) -> int:
        """What the buyer was charged: 0 while only authorised, the captured amount after."""
        if not self.captured:
            return 0
        return self.amount if self.amount_captured is None else self.amount_captured

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
            captured=bool(d.get("captured", True)),
            amount_captured=_opt_int(d.get("amount_captured")),
            balance_transaction_id=_ref(bt),
            application_fee_amount=_opt_int(d.get("application_fee_amount")),
            transfer_amount=_opt_int((d.get("transfer_data") or {}).get("amount")),
            receipt_url=str(d.get("receipt_url") or ""),
            purchase_id=str((d.get("metadata") or {}).get("purchase_id") or ""),
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

    @classmethod
    def from_stripe(cls, obj: object) -> ShippingDetails | None:
        """A name and address as Stripe gives them (a Checkout Session's
        ``collected_information.shipping_details``, a PaymentIntent's ``shipping``); None when absent."""
        d = _as_dict(obj)
        if not d:
            return None
        address = _as_dict(d.get("address"))
        fields = {k: str(address.get(k) or "") for k in SHIPPING_ADDRESS_FIELDS}
        return cls(name=str(d.get("name") or ""), address={k: v for k, v in fields.items() if v})


SHIPPING_ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "state", "country")


@dataclass(frozen=True)
class CheckoutSession:
    """What our checkout reads of a Checkout Session; with ``payment_intent.latest_charge``
    expanded, also the ids of the payment's charge, transfer and application fee, and the charge
    itself (``charge``: what the ledger records, complete when its ``balance_transaction``,
    ``transfer`` and ``application_fee`` were expanded too)."""

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
    charge: Charge | None = None
    subscription_id: str = ""  # ``subscription`` mode, once complete

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
        shipping = ShippingDetails.from_stripe(collected.get("shipping_details"))
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
            charge=Charge.from_stripe(charge_d) if charge_d.get("id") else None,
            subscription_id=_ref(d.get("subscription")),
        )


# --- Typed results of the account calls (sellers) -------------------------------------------------


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in cast(Any, value or []))


@dataclass(frozen=True)
class AccountRequirements:
    """What Stripe still needs of a connected account (``requirements``)."""

    currently_due: tuple[str, ...] = ()
    past_due: tuple[str, ...] = ()
    eventually_due: tuple[str, ...] = ()
    current_deadline: int | None = None  # unix seconds
    disabled_reason: str = ""


@dataclass(frozen=True)
class Account:
    """What the sellers' mirror reads of a connected account."""

    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements: AccountRequirements
    seller_id: str = ""  # metadata.seller_id, "" when absent

    @classmethod
    def from_stripe(cls, obj: object) -> Account:
        d = _as_dict(obj)
        req = _as_dict(d.get("requirements"))
        return cls(
            id=str(d["id"]),
            charges_enabled=bool(d.get("charges_enabled")),
            payouts_enabled=bool(d.get("payouts_enabled")),
            details_submitted=bool(d.get("details_submitted")),
            requirements=AccountRequirements(
                currently_due=_strings(req.get("currently_due")),
                past_due=_strings(req.get("past_due")),
                eventually_due=_strings(req.get("eventually_due")),
                current_deadline=_opt_int(req.get("current_deadline")),
                disabled_reason=str(req.get("disabled_reason") or ""),
            ),
            seller_id=str((d.get("metadata") or {}).get("seller_id") or ""),
        )


@dataclass(frozen=True)
class Link:
    """A single-use Stripe-hosted link: an account link (onboarding) or a login link."""

    url: str
    expires_at: int | None = None

    @classmethod
    def from_stripe(cls, obj: object) -> Link:
        d = _as_dict(obj)
        return cls(url=str(d["url"]), expires_at=_opt_int(d.get("expires_at")))


# --- Typed results of the webhook endpoint calls (events) -----------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint registered with Stripe; ``secret`` only in the answer to its creation."""

    id: str
    url: str
    secret: str = ""
    status: str = ""  # enabled, disabled

    @classmethod
    def from_stripe(cls, obj: object) -> Endpoint:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            url=str(d.get("url") or ""),
            secret=str(d.get("secret") or ""),
            status=str(d.get("status") or ""),
        )


# --- On-site payments, customers and saved cards (buyers) ---------------------------------------


@dataclass(frozen=True)
class LastPaymentError:
    """A PaymentIntent's ``last_payment_error``: Stripe's code and its message for the buyer."""

    code: str
    decline_code: str
    message: str


@dataclass(frozen=True)
class PaymentIntent:
    """What our on-site checkout reads of a PaymentIntent; with ``latest_charge`` expanded, also
    the ids of its charge, transfer and application fee (as ``CheckoutSession`` gives them)."""

    id: str
    status: str  # requires_payment_method, requires_confirmation, requires_action, processing,
    # requires_capture, canceled, succeeded
    amount: int
    amount_capturable: int
    amount_received: int
    currency: str
    client_secret: str
    capture_method: str  # automatic, automatic_async, manual
    customer_id: str
    payment_method_id: str
    setup_future_usage: str
    cancellation_reason: str
    metadata: dict[str, str]
    application_fee_amount: int | None
    transfer_group: str
    destination_id: str
    charge_id: str
    transfer_id: str
    application_fee_id: str
    receipt_url: str
    last_error: LastPaymentError | None
    next_action_type: str
    shipping: ShippingDetails | None

    @property
    def purchase_id(self) -> int | None:
        raw = self.metadata.get("purchase_id", "")
        return int(raw) if raw.isdigit() else None

    @classmethod
    def from_stripe(cls, obj: object) -> PaymentIntent:
        d = _as_dict(obj)
        charge = d.get("latest_charge")
        charge_d = _as_dict(charge) if charge and not isinstance(charge, str) else {}
        err = _as_dict(d.get("last_payment_error"))
        last_error = None
        if err:
            last_error = LastPaymentError(
                code=str(err.get("code") or ""),
                decline_code=str(err.get("decline_code") or ""),
                message=str(err.get("message") or ""),
            )
        shipping = ShippingDetails.from_stripe(d.get("shipping"))
        return cls(
            id=str(d["id"]),
            status=str(d.get("status") or ""),
            amount=_int(d.get("amount")),
            amount_capturable=_int(d.get("amount_capturable")),
            amount_received=_int(d.get("amount_received")),
            currency=str(d.get("currency") or "").lower(),
            client_secret=str(d.get("client_secret") or ""),
            capture_method=str(d.get("capture_method") or "automatic"),
            customer_id=_ref(d.get("customer")),
            payment_method_id=_ref(d.get("payment_method")),
            setup_future_usage=str(d.get("setup_future_usage") or ""),
            cancellation_reason=str(d.get("cancellation_reason") or ""),
            metadata={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
            application_fee_amount=_opt_int(d.get("application_fee_amount")),
            transfer_group=str(d.get("transfer_group") or ""),
            destination_id=_ref((d.get("transfer_data") or {}).get("destination")),
            charge_id=_ref(charge),
            transfer_id=_ref(charge_d.get("transfer")),
            application_fee_id=_ref(charge_d.get("application_fee")),
            receipt_url=str(charge_d.get("receipt_url") or ""),
            last_error=last_error,
            next_action_type=str(_as_dict(d.get("next_action")).get("type") or ""),
            shipping=shipping,
        )


@dataclass(frozen=True)
class SetupIntent:
    id: str
    status: str
    client_secret: str
    customer_id: str
    payment_method_id: str

    @classmethod
    def from_stripe(cls, obj: object) -> SetupIntent:
        d = _as_dict(obj)
        return cls(
            id=str(d["id"]),
            status=str(d.get("status") or ""),
            client_secret=str(d.get("client_secret") or ""),
            customer_id=_ref(d.get("customer")),
            payment_method_id=_ref(d.get("payment_method")),
        )


@dataclass(frozen=True)
class Customer:
    id: str
    email: str
    default_payment_method_id: str  # invoice_settings.default_payment_method, "" when none
    deleted: bool

    @classmethod
    def from_stripe(cls, obj: object) -> Customer:
        d = _as_dict(obj)
        settings = _as_dict(d.get("invoice_settings"))
        return cls(
            id=str(d["id"]),
            email=str(d.get("email") or ""),
            default_payment_method_id=_ref(settings.get("default_payment_method")),
            deleted=bool(d.get("deleted")),
        )


@dataclass(frozen=True)
class SavedCard:
    """A card PaymentMethod attached to a customer: what the buyer sees of it."""

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    customer_id: str

    @classmethod
    def from_stripe(cls, obj: object) -> SavedCard:
        d = _as_dict(obj)
        card = _as_dict(d.get("card"))
        return cls(
            id=str(d["id"]),
            brand=str(card.get("brand") or d.get("type") or ""),
            last4=str(card.get("last4") or ""),
            exp_month=_int(card.get("exp_month")),
            exp_year=_int(card.get("exp_year")),
            customer_id=_ref(d.get("customer")),
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


@dataclass(frozen=True)
class SubscriptionPaymentStep:
    """What our own subscription page needs from a subscription read with
    ``latest_invoice.confirmation_secret`` and ``pending_setup_intent`` expanded: the open
    invoice's PaymentIntent client secret (``confirmPayment``), or the pending SetupIntent's
    (``confirmSetup``, a trial), or neither (nothing to collect)."""

    subscription: Subscription
    invoice_id: str
    invoice_status: str
    amount_due: int
    currency: str
    payment_client_secret: str  # latest_invoice.confirmation_secret.client_secret
    setup_intent_id: str
    setup_client_secret: str
    setup_status: str
    default_payment_method_id: str

    @property
    def payment_intent_id(self) -> str:
        """The invoice's PaymentIntent (its client secret is ``<id>_secret_<secret>``)."""
        return self.payment_client_secret.split("_secret_")[0]

    @classmethod
    def from_stripe(cls, obj: object) -> SubscriptionPaymentStep:
        d = _as_dict(obj)
        invoice = _expanded(d.get("latest_invoice")) or {}
        secret = _as_dict(invoice.get("confirmation_secret"))
        setup = _expanded(d.get("pending_setup_intent")) or {}
        return cls(
            subscription=Subscription.from_stripe(obj),
            invoice_id=_ref(d.get("latest_invoice")),
            invoice_status=str(invoice.get("status") or ""),
            amount_due=_int(invoice.get("amount_due")),
            currency=str(invoice.get("currency") or d.get("currency") or "").lower(),
            payment_client_secret=str(secret.get("client_secret") or ""),
            setup_intent_id=_ref(d.get("pending_setup_intent")),
            setup_client_secret=str(setup.get("client_secret") or ""),
            setup_status=str(setup.get("status") or ""),
            default_payment_method_id=_ref(d.get("default_payment_method")),
        )
