"""Balances and balance transactions: ``GET /v1/balance``, ``GET /v1/balance_transactions``,
``GET /v1/balance_transactions/{id}`` (``Stripe-Account`` for a connected account).

Money rules (documented in docs/sandbox.md, "Payments in the sandbox"):
- Stripe's processing fee on a card charge: ``SANDBOX_CARD_FEE_BPS`` basis points (default 290
  = 2.9 %) of the amount, rounded half up to a minor unit, plus ``SANDBOX_CARD_FEE_FIXED``
  minor units (default 30). It is charged to the platform (destination charges).
- Funds become available ``SANDBOX_AVAILABLE_AFTER`` days (default 2) after the charge, at
  00:00 UTC of that day on the sandbox clock (``available_on``); a clock job moves pending
  transactions to available.
- A balance transaction is written once; corrections are new transactions.

``record(...)`` is the one writer; ``balance_of(account)`` the one reader of balances.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery, Sum
from stripe.params import (
    BalanceRetrieveParams,
    BalanceTransactionListParams,
    BalanceTransactionRetrieveParams,
)

from sandbox import clock, store
from sandbox.errors import StripeError, resource_missing
from sandbox.ledger_models import BalanceEntry
from sandbox.models import SandboxObject
from sandbox.router import Request, route

JSON = dict[str, Any]
DAY = 86400

REPORTING_CATEGORY = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "application_fee": "platform_earning",
    "application_fee_refund": "platform_earning_refund",
    "payout": "payout",
    "payout_failure": "payout_reversal",
    "payout_cancel": "payout_reversal",
    "adjustment": "dispute",
    "stripe_fee": "fee",
}


def card_fee_bps() -> int:
    return int(getattr(settings, "SANDBOX_CARD_FEE_BPS", 290))


def card_fee_fixed() -> int:
    return int(getattr(settings, "SANDBOX_CARD_FEE_FIXED", 30))


def available_after_days() -> int:
    return int(getattr(settings, "SANDBOX_AVAILABLE_AFTER", 2))


def round_half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up (away from zero for halves), integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def processing_fee(amount: int) -> int:
    """Stripe's card processing fee: bps of the amount rounded half up, plus the fixed part."""
    return round_half_up_div(amount * card_fee_bps(), 10000) + card_fee_fixed()


def available_on(now: int | None = None, *, immediately: bool = False) -> int:
    """When funds received now become available: 00:00 UTC, ``SANDBOX_AVAILABLE_AFTER`` days on."""
    now = clock.now() if now is None else now
    if immediately:
        return now
    return ((now + available_after_days() * DAY) // DAY) * DAY


def record(
    *,
    account: str,
    type: str,
    amount: int,
    currency: str,
    source: str | None,
    fee: int = 0,
    fee_details: list[JSON] | None = None,
    description: str | None = None,
    available: int | None = None,
) -> JSON:
    """Write one balance transaction on ``account`` ("" = platform) and return its JSON.
    ``available`` is ``available_on`` (default: now + the availability delay)."""
    now = clock.now()
    when = available_on(now) if available is None else available
    status = "available" if when <= now else "pending"
    data = store.create(
        "txn",
        "balance_transaction",
        {
            "amount": amount,
            "available_on": when,
            "balance_type": "payments",
            "created": now,
            "currency": currency,
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": list(fee_details or []),
            "net": amount - fee,
            "reporting_category": REPORTING_CATEGORY.get(type, "other_adjustment"),
            "source": source,
            "status": status,
            "type": type,
        },
        account=account,
    )
    BalanceEntry.objects.create(
        id=data["id"],
        account=account,
        currency=currency,
        type=type,
        amount=amount,
        fee=fee,
        net=amount - fee,
        created=now,
        available_on=when,
        status=status,
        source=source or "",
    )
    return data


def stripe_fee_detail(fee: int, currency: str) -> JSON:
    return {
        "amount": fee,
        "application": None,
        "currency": currency,
        "description": "Stripe processing fees",
        "type": "stripe_fee",
    }


def release_available() -> None:
    """Clock job: pending balance transactions whose ``available_on`` has come become available."""
    now = clock.now()
    due = list(
        BalanceEntry.objects.filter(status="pending", available_on__lte=now).values_list(
            "id", flat=True
        )[:5000]
    )
    touched: set[str] = set()
    while due:
        rows = list(SandboxObject.objects.filter(pk__in=due))
        for row in rows:
            row.data["status"] = "available"
            touched.add(row.account)
        SandboxObject.objects.bulk_update(rows, ["data"], batch_size=500)
        BalanceEntry.objects.filter(pk__in=due).update(status="available")
        due = list(
            BalanceEntry.objects.filter(status="pending", available_on__lte=now).values_list(
                "id", flat=True
            )[:5000]
        )
    from sandbox.events import emit

    for account in sorted(touched):
        # Stripe's balance.available: the available balance of an account changed.
        emit("balance.available", balance_of(account), account=account or None)


clock.register_job(release_available, name="sandbox.balances.release_available")


def totals(account: str) -> dict[str, dict[str, int]]:
    """``{currency: {"available": n, "pending": n}}`` for ``account`` (after due releases)."""
    now = clock.now()
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"available": 0, "pending": 0})
    rows = (
        BalanceEntry.objects.filter(account=account)
        .values("currency")
        .annotate(
            available=Sum("net", filter=Q(available_on__lte=now)),
            pending=Sum("net", filter=Q(available_on__gt=now)),
        )
    )
    for row in rows:
        out[row["currency"]]["available"] += int(row["available"] or 0)
        out[row["currency"]]["pending"] += int(row["pending"] or 0)
    return dict(out)


def available_amount(account: str, currency: str) -> int:
    return totals(account).get(currency, {}).get("available", 0)


def default_currency_of(account: str) -> str:
    if not account:
        return "usd"
    row = SandboxObject.objects.filter(pk=account, object="account").first()
    return str((row.data.get("default_currency") if row else None) or "usd")


def balance_of(account: str) -> JSON:
    """The Balance object of ``account`` ("" = platform), as ``GET /v1/balance`` answers."""
    found = totals(account)
    if not found:
        found = {default_currency_of(account): {"available": 0, "pending": 0}}
    currencies = sorted(found)
    data: JSON = {
        "object": "balance",
        "available": [
            {
                "amount": found[c]["available"],
                "currency": c,
                "source_types": {"card": found[c]["available"]},
            }
            for c in currencies
        ],
        "livemode": False,
        "pending": [
            {
                "amount": found[c]["pending"],
                "currency": c,
                "source_types": {"card": found[c]["pending"]},
            }
            for c in currencies
        ],
    }
    if not account:
        data["connect_reserved"] = [{"amount": 0, "currency": c} for c in currencies]
    return data


@route("GET", "/v1/balance", params=BalanceRetrieveParams)
def retrieve_balance(req: Request) -> JSON:
    return balance_of(req.account)


@route("GET", "/v1/balance_transactions/{id}", params=BalanceTransactionRetrieveParams)
def retrieve_transaction(req: Request) -> JSON:
    return store.get(
        req.args["id"],
        object_type="balance_transaction",
        account=req.account,
        name="balance transaction",
    )


@route("GET", "/v1/balance_transactions", params=BalanceTransactionListParams)
def list_transactions(req: Request) -> JSON:
    """Newest first, cursor paginated on indexed columns (``type``, ``currency``, ``payout``,
    ``source``, ``created``).

    One query per page: the cursor's position is a subquery and each row's JSON is joined in,
    instead of reading the cursor, then the page's ids, then their objects (three round trips
    per page of a reconciliation's thousands, ``bench/reconciliation.py``). An unknown cursor
    is looked up only when the page comes back empty."""
    p = req.params
    limit = int(p.get("limit") or 10)
    if not 1 <= limit <= 100:
        raise StripeError(
            "Invalid limit: must be between 1 and 100",
            param="limit",
            code="parameter_invalid_integer",
        )
    qs = BalanceEntry.objects.filter(account=req.account)
    if p.get("type"):
        qs = qs.filter(type=p["type"])
    if p.get("currency"):
        qs = qs.filter(currency=str(p["currency"]).lower())
    if p.get("source"):
        qs = qs.filter(source=p["source"])
    if p.get("payout"):
        payout = str(p["payout"])
        qs = qs.filter(Q(payout=payout) | Q(source=payout))
    qs = store.apply_created_filter(qs, p.get("created"))  # type: ignore[arg-type,assignment]
    ascending = False
    cursor: tuple[str, str] | None = None
    if p.get("starting_after"):
        cursor = (str(p["starting_after"]), "starting_after")
    elif p.get("ending_before"):
        cursor = (str(p["ending_before"]), "ending_before")
        ascending = True
    if cursor is not None:
        at = BalanceEntry.objects.filter(pk=cursor[0], account=req.account)
        qs = qs.filter(
            store.after_cursor(
                Subquery(at.values("created")),  # type: ignore[arg-type]
                Subquery(at.values("seq")),  # type: ignore[arg-type]
                older=not ascending,
            )
        )
    order = ("created", "seq") if ascending else ("-created", "-seq")
    data = Subquery(SandboxObject.objects.filter(pk=OuterRef("pk")).values("data")[:1])
    page = list(qs.order_by(*order).annotate(json=data).values_list("json", flat=True)[: limit + 1])
    if not page and cursor is not None:
        _cursor(cursor[0], req.account, cursor[1])  # raises for an unknown cursor
    has_more = len(page) > limit
    page = page[:limit]
    if ascending:
        page.reverse()
    return {
        "object": "list",
        "data": [row for row in page if row is not None],
        "has_more": has_more,
        "url": "/v1/balance_transactions",
    }


def _cursor(txn_id: str, account: str, param: str) -> BalanceEntry:
    entry = BalanceEntry.objects.filter(pk=txn_id, account=account).first()
    if entry is None:
        raise resource_missing("balance transaction", txn_id, param)
    return entry
