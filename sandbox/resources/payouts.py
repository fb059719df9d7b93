"""Payouts (``/v1/payouts``: create, retrieve, update, list, cancel), automatic and manual.

Automatic payouts (clock job): once per sandbox-clock day (``daily``; ``weekly`` on the
``weekly_anchor`` day, ``monthly`` on the ``monthly_anchor`` day; never for ``manual``), every
connected account with payouts enabled gets a payout of its whole positive available balance
per currency (``payout.created``). The balance transactions it pays out get its id (so
``GET /v1/balance_transactions?payout=po_…`` lists them). A payout is ``pending``, goes
``in_transit`` at the next run, and on ``arrival_date`` (``SANDBOX_PAYOUT_ARRIVAL_DAYS`` days
later at 00:00 UTC, default 1) becomes ``paid`` (``payout.paid``) or, when the account's bank
account is one of Stripe's failing test numbers (``000111111116`` no_account,
``000111111113`` account_closed ...), ``failed`` (``payout.failed``, ``failure_code``) with the
funds returned to the balance (transaction ``payout_failure``). A pending payout can be
canceled (``payout.canceled``, transaction ``payout_cancel``). Events carry ``account``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from stripe.params import (
    PayoutCancelParams,
    PayoutCreateParams,
    PayoutListParams,
    PayoutRetrieveParams,
    PayoutUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import StripeError, invalid_request
from sandbox.events import emit
from sandbox.ids import new_id, random_token
from sandbox.ledger_models import BalanceEntry
from sandbox.models import SandboxObject
from sandbox.resources import accounts, balances
from sandbox.router import Request, route

JSON = dict[str, Any]
DAY = 86400

FAILURE_MESSAGES = {
    "no_account": "The bank account details on file are probably incorrect. No bank account "
    "could be located with those details.",
    "account_closed": "The bank account has been closed.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "debit_not_authorized": "Debit transactions are not approved on the bank account.",
    "invalid_currency": "The bank was unable to process this payout because of its currency.",
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def arrival_days() -> int:
    return int(getattr(settings, "SANDBOX_PAYOUT_ARRIVAL_DAYS", 1))


def _bank_for(account: str, currency: str) -> str | None:
    banks = store.queryset("bank_account", account=account).order_by("-created", "-seq")
    for row in banks:
        if row.data.get("currency") == currency:
            return row.id
    first = banks.first()
    return first.id if first else None


def payout_create(
    *,
    account: str,
    amount: int,
    currency: str,
    automatic: bool,
    description: str | None = None,
    metadata: JSON | None = None,
    statement_descriptor: str | None = None,
    method: str = "standard",
) -> JSON:
    """Store a payout and its ``payout`` balance transaction; emits ``payout.created``."""
    now = clock.now()
    payout_id = new_id("po")
    txn = balances.record(
        account=account,
        type="payout",
        amount=-amount,
        currency=currency,
        source=payout_id,
        description=description or "STRIPE PAYOUT",
        available=now,
    )
    arrival = now if method == "instant" else ((now + arrival_days() * DAY) // DAY) * DAY
    payout = store.create(
        "po",
        "payout",
        {
            "amount": amount,
            "application_fee": None,
            "application_fee_amount": None,
            "arrival_date": arrival,
            "automatic": automatic,
            "balance_transaction": txn["id"],
            "currency": currency,
            "description": description or "STRIPE PAYOUT",
            "destination": _bank_for(account, currency) if account else None,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(metadata or {}),
            "method": method,
            "original_payout": None,
            "payout_method": None,
            "reconciliation_status": "in_progress" if automatic else "not_applicable",
            "reversed_by": None,
            "source_type": "card",
            "statement_descriptor": statement_descriptor,
            "status": "pending",
            "trace_id": None,
            "type": "bank_account",
        },
        account=account,
        object_id=payout_id,
        private={"token": random_token(8)},
    )
    emit("payout.created", payout, account=account or None)
    return payout


def _due_today(account: JSON, now: int) -> bool:
    schedule = ((account.get("settings") or {}).get("payouts") or {}).get("schedule") or {}
    interval = schedule.get("interval") or "daily"
    today = datetime.fromtimestamp(now, tz=UTC)
    if interval == "manual":
        return False
    if interval == "weekly":
        return WEEKDAYS[today.weekday()] == (schedule.get("weekly_anchor") or "monday")
    if interval == "monthly":
        return today.day == int(schedule.get("monthly_anchor") or 1)
    return True


def run_automatic(*, force: bool = False) -> list[JSON]:
    """Automatic payouts due now (``force``: ignore the schedule and today's earlier payouts)."""
    now = clock.now()
    day_start = (now // DAY) * DAY
    created: list[JSON] = []
    accounts_with_money = (
        BalanceEntry.objects.exclude(account="")
        .filter(available_on__lte=now)
        .values_list("account", flat=True)
        .distinct()
    )
    for account_id in list(accounts_with_money):
        row = SandboxObject.objects.filter(pk=account_id, object="account").first()
        if row is None or row.deleted or row.private.get("deauthorized"):
            continue
        if not row.data.get("payouts_enabled"):
            continue
        if not force and not _due_today(row.data, now):
            continue
        for currency, amounts in balances.totals(account_id).items():
            amount = amounts["available"]
            if amount <= 0:
                continue
            bank_id = _bank_for(account_id, currency)
            bank = SandboxObject.objects.filter(pk=bank_id).first() if bank_id else None
            if bank is None or bank.data.get("status") == "errored":
                continue
            already = (
                store.queryset("payout", account=account_id)
                .filter(created__gte=day_start, data__automatic=True, data__currency=currency)
                .exists()
            )
            if already and not force:
                continue
            payout = payout_create(
                account=account_id, amount=amount, currency=currency, automatic=True
            )
            BalanceEntry.objects.filter(
                account=account_id, currency=currency, payout="", available_on__lte=now
            ).exclude(pk=payout["balance_transaction"]).update(payout=payout["id"])
            created.append(payout)
    return created


def advance_payouts() -> None:
    """Clock job: pending -> in_transit -> paid | failed on ``arrival_date``."""
    now = clock.now()
    for row in store.queryset("payout", account=None).filter(
        data__status__in=["pending", "in_transit"]
    ):
        payout = row.data
        before = {"status": payout["status"]}
        if payout["status"] == "pending":
            payout["status"] = "in_transit"
            store.save(row)
            emit("payout.updated", payout, account=row.account or None, previous_attributes=before)
            before = {"status": "in_transit"}
        if int(payout["arrival_date"]) > now:
            continue
        failure = (
            accounts.payout_failure_code(row.account, payout["currency"]) if row.account else None
        )
        if failure:
            txn = balances.record(
                account=row.account,
                type="payout_failure",
                amount=int(payout["amount"]),
                currency=payout["currency"],
                source=row.id,
                description="Payout failure",
                available=now,
            )
            BalanceEntry.objects.filter(account=row.account, payout=row.id).update(payout="")
            if payout.get("destination"):
                # Stripe marks the bank account errored: no more payouts until it is replaced.
                bank = SandboxObject.objects.filter(pk=payout["destination"]).first()
                if bank is not None:
                    bank.data["status"] = "errored"
                    store.save(bank)
            payout.update(
                status="failed",
                failure_code=failure,
                failure_message=FAILURE_MESSAGES.get(failure, "The payout failed."),
                failure_balance_transaction=txn["id"],
            )
            if payout["automatic"]:
                payout["reconciliation_status"] = "completed"
            store.save(row)
            emit("payout.failed", payout, account=row.account or None, previous_attributes=before)
        else:
            payout["status"] = "paid"
            if payout["automatic"]:
                payout["reconciliation_status"] = "completed"
            store.save(row)
            emit("payout.paid", payout, account=row.account or None, previous_attributes=before)


def automatic_job() -> None:
    run_automatic()


clock.register_job(automatic_job, name="sandbox.payouts.automatic")
clock.register_job(advance_payouts, name="sandbox.payouts.advance")


# --- routes ------------------------------------------------------------------------------------
@route("POST", "/v1/payouts", params=PayoutCreateParams)
def create(req: Request) -> JSON:
    p = req.params
    currency = str(p.get("currency") or "").lower()
    amount = int(p["amount"]) if p.get("amount") is not None else 0
    if amount <= 0:
        raise invalid_request("Invalid positive integer", param="amount")
    if req.account:
        account = store.get(req.account, object_type="account")
        if not account.get("payouts_enabled"):
            raise invalid_request(
                "Payouts are not enabled for this account: its requirements are due or it has "
                "no external account.",
                code="payouts_not_allowed",
            )
        if p.get("destination") and p["destination"] != _bank_for(req.account, currency):
            store.get(
                str(p["destination"]),
                object_type="bank_account",
                account=req.account,
                param="destination",
            )
    if balances.available_amount(req.account, currency) < amount:
        raise StripeError(
            "You have insufficient funds in your Stripe account for this transfer. Your card "
            "balance is too low.  You can use the /v1/balance endpoint to view your Stripe "
            "balance (for more details, see stripe.com/docs/api#balance).",
            code="balance_insufficient",
        )
    metadata = p.get("metadata")
    return payout_create(
        account=req.account,
        amount=amount,
        currency=currency,
        automatic=False,
        description=p.get("description"),
        metadata=metadata if isinstance(metadata, dict) else None,
        statement_descriptor=p.get("statement_descriptor"),
        method=p.get("method") or "standard",
    )


@route("GET", "/v1/payouts/{payout}", params=PayoutRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(req.args["payout"], object_type="payout", account=req.account, param="payout")


@route("POST", "/v1/payouts/{payout}", params=PayoutUpdateParams)
def update(req: Request) -> JSON:
    changes = {"metadata": req.params["metadata"]} if "metadata" in req.params else {}
    payout, previous = store.update(
        req.args["payout"], changes, object_type="payout", account=req.account
    )
    if previous:
        emit("payout.updated", payout, account=req.account or None, previous_attributes=previous)
    return payout


@route("POST", "/v1/payouts/{payout}/cancel", params=PayoutCancelParams)
def cancel(req: Request) -> JSON:
    row = store.get_row(
        req.args["payout"],
        object_type="payout",
        account=req.account,
        for_update=True,
        param="payout",
    )
    payout = row.data
    if payout["status"] != "pending":
        raise invalid_request(
            f"Payout {row.id} cannot be canceled because it has a status of {payout['status']}. "
            "Only pending payouts can be canceled.",
            param="payout",
        )
    balances.record(
        account=row.account,
        type="payout_cancel",
        amount=int(payout["amount"]),
        currency=payout["currency"],
        source=row.id,
        description="Payout cancellation",
        available=clock.now(),
    )
    BalanceEntry.objects.filter(account=row.account, payout=row.id).update(payout="")
    payout["status"] = "canceled"
    saved = store.save(row)
    emit(
        "payout.canceled",
        saved,
        account=row.account or None,
        previous_attributes={"status": "pending"},
    )
    return saved


@route("GET", "/v1/payouts", params=PayoutListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("payout", account=req.account)
    p = req.params
    if p.get("status"):
        qs = qs.filter(data__status=p["status"])
    if p.get("destination"):
        qs = qs.filter(data__destination=p["destination"])
    arrival = p.get("arrival_date")
    if isinstance(arrival, int):
        qs = qs.filter(data__arrival_date=arrival)
    elif isinstance(arrival, dict):
        for op in ("gt", "gte", "lt", "lte"):
            if op in arrival:
                qs = qs.filter(**{f"data__arrival_date__{op}": int(arrival[op])})
    return store.list_response(qs, p, url="/v1/payouts")
