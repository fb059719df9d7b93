"""Writes of the payouts app: fee rules, the ledger, seller balances.

Every function here is keyword-only and typed, states its contract and side effects, and is atomic
where it touches more than one row. Fee rules and ledger rows are never edited or deleted: changes
are new rows.
"""

from __future__ import annotations

import contextlib
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from marketplace.errors import UserFacingError
from marketplace.fees import MAX_BPS, FeeTerms
from marketplace.money import Money, normalize_currency, round_half_up
from payouts.models import (
    Dispute,
    FeeRule,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    SellerBalance,
)
from sellers.models import Category, Seller

logger = logging.getLogger(__name__)

# --- Fee rules --------------------------------------------------------------------------------


class FeeRuleError(UserFacingError):
    """A fee rule was refused; ``message`` says why, ``field`` which input."""


def _money_label(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


def _lock_scope(key: str) -> None:
    """Serialize writers of one fee-rule scope (PostgreSQL advisory lock; SQLite writes are
    serialized by its IMMEDIATE transactions already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(key.encode())])


def current_fee_rules() -> Any:
    """Current versions of all fee rules (those no newer version supersedes), retired included."""
    return FeeRule.objects.filter(superseded_by__isnull=True)


def _clean_amounts(
    values: Mapping[str, int | None], *, covered: set[str], label: str, field: str
) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for raw_currency, value in values.items():
        if value is None:
            continue
        try:
            currency = normalize_currency(raw_currency)
        except ValueError as exc:
            raise FeeRuleError(str(exc), field=field) from None
        if currency not in covered:
            raise FeeRuleError(
                f"The rule has a {label} in {currency.upper()} but does not cover "
                f"{currency.upper()}: add the currency or remove the {label}.",
                field=field,
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise FeeRuleError(f"The {label} must be a whole number of minor units.", field=field)
        if value < 0:
            raise FeeRuleError(
                f"The {label} in {currency.upper()} cannot be negative.", field=field
            )
        cleaned[currency] = value
    return cleaned


def fee_rule_create(
    *,
    actor: Any,
    scope: str,
    starts_on: date,
    bps: int,
    currencies: Iterable[str],
    fixed_fees: Mapping[str, int | None] | None = None,
    minimums: Mapping[str, int | None] | None = None,
    maximums: Mapping[str, int | None] | None = None,
    seller: Seller | None = None,
    category: Category | None = None,
    supersedes: FeeRule | None = None,
    is_active: bool = True,
    note: str = "",
) -> FeeRule:
    """Create a fee rule, or with ``supersedes`` a new version of an existing rule.

    Refuses (``FeeRuleError`` with a message naming the field): negative basis points, more than
    10,000 (100 %), no currency covered, a fixed fee / minimum / maximum in a currency the rule
    does not cover or below zero, a minimum above the maximum, a target that does not match the
    scope, a second current rule with the same scope, target and start date, and a version of a
    rule that has already been superseded (someone changed it meanwhile).
    Side effects: one new FeeRule row, recording ``actor`` and the time; nothing is edited.
    """
    if not getattr(actor, "is_staff", False):
        raise FeeRuleError("Only platform staff can change fee rules.")
    if scope not in FeeRule.Scope.values:
        raise FeeRuleError(f"Unknown scope {scope!r}.", field="scope")
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise FeeRuleError("Basis points must be a whole number.", field="bps")
    if bps < 0:
        raise FeeRuleError("Basis points cannot be negative.", field="bps")
    if bps > MAX_BPS:
        raise FeeRuleError("A fee above 100 % (10,000 basis points) is not allowed.", field="bps")
    try:
        covered = sorted({normalize_currency(c) for c in currencies})
    except ValueError as exc:
        raise FeeRuleError(str(exc), field="currencies") from None
    if not covered:
        raise FeeRuleError("Choose at least one currency the rule covers.", field="currencies")
    covered_set = set(covered)
    fixed = _clean_amounts(fixed_fees or {}, covered=covered_set, label="fixed fee", field="fixed")
    mins = _clean_amounts(minimums or {}, covered=covered_set, label="minimum", field="minimum")
    maxs = _clean_amounts(maximums or {}, covered=covered_set, label="maximum", field="maximum")
    for currency in covered:
        if currency in mins and currency in maxs and mins[currency] > maxs[currency]:
            raise FeeRuleError(
                f"The minimum ({_money_label(mins[currency], currency)}) is above the maximum "
                f"({_money_label(maxs[currency], currency)}).",
                field="minimum",
            )
    if scope == FeeRule.Scope.PLATFORM and (seller or category):
        raise FeeRuleError("A platform rule applies to everyone: no seller or category.")
    if scope == FeeRule.Scope.CATEGORY and (category is None or seller is not None):
        raise FeeRuleError("Choose the category this rule applies to.", field="category")
    if scope == FeeRule.Scope.SELLER and (seller is None or category is not None):
        raise FeeRuleError("Choose the seller this rule applies to.", field="seller")

    target_key = f"feerule:{scope}:{seller.pk if seller else ''}:{category.pk if category else ''}"
    with transaction.atomic():
        _lock_scope(target_key)
        if supersedes is not None:
            previous = FeeRule.objects.select_for_update().get(pk=supersedes.pk)
            if FeeRule.objects.filter(supersedes=previous).exists():
                raise FeeRuleError(
                    "This rule was changed by someone else meanwhile; reload and try again."
                )
            if (previous.scope, previous.seller_id, previous.category_id) != (
                scope,
                seller.pk if seller else None,
                category.pk if category else None,
            ):
                raise FeeRuleError(
                    "A new version keeps the rule's scope; create a separate rule instead."
                )
        clash = current_fee_rules().filter(
            scope=scope,
            seller=seller,
            category=category,
            starts_on=starts_on,
            is_active=True,
        )
        if supersedes is not None:
            clash = clash.exclude(pk=supersedes.pk)
        if is_active and clash.exists():
            target = (
                f"seller {seller.display_name}"
                if seller
                else f"category {category.name}"
                if category
                else "the platform"
            )
            raise FeeRuleError(
                f"A rule for {target} starting on {starts_on:%Y-%m-%d} already exists; "
                "change that rule (a new version) or pick another start date.",
                field="starts_on",
            )
        try:
            with transaction.atomic():
                return FeeRule.objects.create(
                    scope=scope,
                    seller=seller,
                    category=category,
                    starts_on=starts_on,
                    bps=bps,
                    currencies=covered,
                    fixed_fees=fixed,
                    minimums=mins,
                    maximums=maxs,
                    is_active=is_active,
                    supersedes=supersedes,
                    note=note[:200],
                    created_by=actor,
                )
        except IntegrityError:
            raise FeeRuleError(
                "This rule was changed by someone else meanwhile; reload and try again."
            ) from None


def fee_rule_retire(*, actor: Any, rule: FeeRule, note: str = "") -> FeeRule:
    """Retire ``rule``: a new version with the same terms and ``is_active`` False.

    Side effects: one new FeeRule row; quotes fall back to the next most specific rule.
    """
    return fee_rule_create(
        actor=actor,
        scope=rule.scope,
        seller=rule.seller,
        category=rule.category,
        starts_on=rule.starts_on,
        bps=rule.bps,
        currencies=rule.currencies,
        fixed_fees=rule.fixed_fees,
        minimums=rule.minimums,
        maximums=rule.maximums,
        supersedes=rule,
        is_active=False,
        note=note or "retired",
    )


def _pk(value: Any) -> int | None:
    if value is None:
        return None
    pk = getattr(value, "pk", value)
    return int(pk) if pk is not None else None


def applicable_fee_rule(
    *, currency: str, seller: Any = None, category: Any = None, on: date | None = None
) -> FeeRule | None:
    """The rule that prices a sale in ``currency`` by ``seller`` in ``category`` on day ``on``.

    The most specific (seller > category > platform) current, active rule covering the currency
    whose start is not after ``on`` (today, UTC, by default); among equals, the newest start.
    One query.
    """
    on = on or timezone.now().date()
    seller_id, category_id = _pk(seller), _pk(category)
    scopes = Q(scope=FeeRule.Scope.PLATFORM)
    if category_id is not None:
        scopes |= Q(scope=FeeRule.Scope.CATEGORY, category_id=category_id)
    if seller_id is not None:
        scopes |= Q(scope=FeeRule.Scope.SELLER, seller_id=seller_id)
    candidates: list[FeeRule] = [
        rule
        for rule in current_fee_rules()
        .filter(scopes, is_active=True, starts_on__lte=on)
        .select_related("seller", "category")
        if currency in rule.currencies
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (FeeRule.SPECIFICITY[r.scope], r.starts_on, r.pk))


def fee_terms_of(rule: FeeRule, currency: str) -> FeeTerms:
    return FeeTerms(
        bps=rule.bps,
        fixed=int(rule.fixed_fees.get(currency, 0)),
        minimum=rule.minimums.get(currency),
        maximum=rule.maximums.get(currency),
        rule_id=rule.pk,
        label=f"{rule.target_label} rule #{rule.pk} (from {rule.starts_on:%Y-%m-%d})",
    )


def fee_rule_provider(amount: Money, seller: Any, category: Any) -> FeeTerms | None:
    """The provider registered with ``marketplace.fees`` at start-up (see PayoutsConfig.ready)."""
    rule = applicable_fee_rule(currency=amount.currency, seller=seller, category=category)
    return fee_terms_of(rule, amount.currency) if rule is not None else None


# --- Ledger ----------------------------------------------------------------------------------

PLATFORM_BALANCE = "platform:stripe_balance"
PLATFORM_FEES = "platform:fees"
STRIPE_FEES = "stripe:fees"
BUYER_PAYMENTS = "buyer:payments"
BUYER_REFUNDS = "buyer:refunds"
BUYER_DISPUTES = "buyer:disputes"

_ACCOUNT_RE = re.compile(
    r"^(platform:(stripe_balance|fees)|stripe:fees|buyer:(payments|refunds|disputes)"
    r"|seller:(?P<seller>\d+):(?P<kind>balance|payouts))$"
)
# Kinds that move money between a seller's balance and their bank, not earnings.
PAYOUT_KINDS = frozenset({LedgerTransaction.Kind.PAYOUT, LedgerTransaction.Kind.PAYOUT_FAILED})
EARNINGS_DAYS_KEPT = 400


class LedgerError(ValueError):
    """A ledger transaction was refused (unbalanced, unknown account or kind...)."""


@dataclass(frozen=True)
class Posting:
    """One leg of a transaction to record: ``amount`` (signed minor units) on ``account``."""

    account: str
    amount: int
    currency: str


def seller_balance_account(seller_id: int) -> str:
    return f"seller:{seller_id}:balance"


def seller_payouts_account(seller_id: int) -> str:
    return f"seller:{seller_id}:payouts"


def _validate_postings(postings: Sequence[Posting]) -> list[Posting]:
    cleaned: list[Posting] = []
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if not _ACCOUNT_RE.match(posting.account):
            raise LedgerError(f"unknown ledger account {posting.account!r}")
        if isinstance(posting.amount, bool) or not isinstance(posting.amount, int):
            raise LedgerError(f"amount must be an int of minor units, not {posting.amount!r}")
        currency = normalize_currency(posting.currency)
        totals[currency] += posting.amount
        if posting.amount:
            cleaned.append(Posting(posting.account, posting.amount, currency))
    unbalanced = {c: t for c, t in totals.items() if t}
    if unbalanced:
        detail = ", ".join(f"{t:+d} {c.upper()}" for c, t in sorted(unbalanced.items()))
        raise LedgerError(f"unbalanced ledger transaction (entries sum to {detail})")
    return cleaned


def ledger_record(
    *,
    kind: str,
    stripe_object_id: str,
    postings: Sequence[Posting],
    occurred_at: datetime | None = None,
    seller: Seller | None = None,
    order_id: int | None = None,
    charge_id: str = "",
    description: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Record one money movement as a balanced transaction; idempotent on the Stripe object.

    Contract: the postings must sum to zero per currency (``LedgerError`` otherwise, nothing
    written); accounts must be known ledger accounts; zero-amount postings are dropped. If a
    transaction of ``kind`` for ``stripe_object_id`` exists, nothing is written and it is returned
    with ``created`` False (a duplicate or replayed event records nothing new).
    Side effects: one LedgerTransaction and its LedgerEntry rows, and the SellerBalance
    aggregates of every seller account touched, all in one database transaction.
    """
    if kind not in LedgerTransaction.Kind.values:
        raise LedgerError(f"unknown ledger transaction kind {kind!r}")
    if not stripe_object_id:
        raise LedgerError("a ledger transaction needs the Stripe object id it comes from")
    cleaned = _validate_postings(postings)
    occurred_at = occurred_at or timezone.now()
    lookup = {"kind": kind, "stripe_object_id": stripe_object_id}
    with transaction.atomic():
        existing = LedgerTransaction.objects.filter(**lookup).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                txn = LedgerTransaction.objects.create(
                    **lookup,
                    seller=seller,
                    order_id=order_id,
                    charge_id=charge_id,
                    description=description[:255],
                    occurred_at=occurred_at,
                )
        except IntegrityError:
            return LedgerTransaction.objects.get(**lookup), False
        entries = []
        per_seller: dict[int, list[tuple[str, Posting]]] = defaultdict(list)
        for posting in cleaned:
            match = _ACCOUNT_RE.match(posting.account)
            assert match is not None
            seller_id = int(match["seller"]) if match["seller"] else None
            entries.append(
                LedgerEntry(
                    transaction=txn,
                    account=posting.account,
                    seller_id=seller_id,
                    amount=posting.amount,
                    currency=posting.currency,
                )
            )
            if seller_id is not None:
                per_seller[seller_id].append((match["kind"], posting))
        LedgerEntry.objects.bulk_create(entries)
        for seller_id, legs in sorted(per_seller.items()):
            _apply_to_seller_balance(seller_id=seller_id, kind=kind, legs=legs, day=occurred_at)
    return txn, True


def _apply_to_seller_balance(
    *, seller_id: int, kind: str, legs: list[tuple[str, Posting]], day: datetime
) -> None:
    SellerBalance.objects.get_or_create(seller_id=seller_id)
    balance = SellerBalance.objects.select_for_update().get(seller_id=seller_id)
    day_key = day.astimezone(UTC).date().isoformat()
    for account_kind, posting in legs:
        balance.entry_count += 1
        if account_kind == "payouts":
            balance.paid_out[posting.currency] = (
                int(balance.paid_out.get(posting.currency, 0)) + posting.amount
            )
            continue
        balance.ledger[posting.currency] = (
            int(balance.ledger.get(posting.currency, 0)) + posting.amount
        )
        if kind not in PAYOUT_KINDS:
            days = balance.earnings_by_day.setdefault(posting.currency, {})
            days[day_key] = int(days.get(day_key, 0)) + posting.amount
    cutoff = (timezone.now() - timedelta(days=EARNINGS_DAYS_KEPT)).date().isoformat()
    for days in balance.earnings_by_day.values():
        for key in [k for k in days if k < cutoff]:
            del days[key]
    balance.save(
        update_fields=["ledger", "paid_out", "earnings_by_day", "entry_count", "updated_at"]
    )


def pro_rata_part(*, share: int, refunded_before: int, refunded_now: int, captured: int) -> int:
    """The part of ``share`` (a fee or a transfer) given back for a refund of ``refunded_now``
    after ``refunded_before`` was already refunded of ``captured``.

    One rounding rule (``round_half_up``) applied to the cumulative amounts, so a series of
    partial refunds adding up to the captured amount gives back exactly ``share``, never more,
    and each part is within one minor unit of its exact pro-rata value.
    """
    if captured <= 0:
        raise ValueError("captured must be positive")
    if refunded_before < 0 or refunded_now < 0 or refunded_before + refunded_now > captured:
        raise ValueError("refunds must be non-negative and at most the captured amount")
    after = round_half_up(share * (refunded_before + refunded_now), captured)
    before = round_half_up(share * refunded_before, captured)
    return after - before


def seller_balance_for(*, seller: Seller) -> SellerBalance:
    """The seller's pre-aggregated balance row, created empty if missing."""
    balance, _ = SellerBalance.objects.get_or_create(seller=seller)
    return balance


def default_currencies() -> list[str]:
    return list(settings.MARKETPLACE_CURRENCIES)


_FLOWS: dict[str, tuple[str, str]] = {
    # kind: (account the money leaves, account it reaches); "seller" = seller:<id>:balance.
    LedgerTransaction.Kind.CHARGE: (BUYER_PAYMENTS, PLATFORM_BALANCE),
    LedgerTransaction.Kind.TRANSFER: (PLATFORM_BALANCE, "seller"),
    LedgerTransaction.Kind.APPLICATION_FEE: ("seller", PLATFORM_FEES),
    LedgerTransaction.Kind.REFUND: (PLATFORM_BALANCE, BUYER_REFUNDS),
    LedgerTransaction.Kind.TRANSFER_REVERSAL: ("seller", PLATFORM_BALANCE),
    LedgerTransaction.Kind.FEE_REFUND: (PLATFORM_FEES, "seller"),
    LedgerTransaction.Kind.DISPUTE_FUNDS_WITHDRAWN: (PLATFORM_BALANCE, BUYER_DISPUTES),
    LedgerTransaction.Kind.DISPUTE_FUNDS_REINSTATED: (BUYER_DISPUTES, PLATFORM_BALANCE),
    LedgerTransaction.Kind.PAYOUT: ("seller", "payouts"),
    LedgerTransaction.Kind.PAYOUT_FAILED: ("payouts", "seller"),
}


def movement_postings(
    *, kind: str, amount: int, currency: str, seller_id: int | None = None
) -> list[Posting]:
    """The two legs of a simple movement of ``amount`` (>= 0) for ``kind`` (see ``_FLOWS``).

    A destination charge is recorded as: charge (buyer -> platform balance), transfer of the
    full amount (platform -> seller), application fee (seller -> platform fees), as Stripe
    moves it; so the seller's net is transfer - fee and amount = fee + seller's net.
    """
    if amount < 0:
        raise LedgerError("a movement amount is never negative; the kind gives the direction")
    source, target = _FLOWS[kind]

    def resolve(account: str) -> str:
        if account in ("seller", "payouts"):
            if seller_id is None:
                raise LedgerError(f"{kind} needs a seller")
            return (
                seller_balance_account(seller_id)
                if account == "seller"
                else seller_payouts_account(seller_id)
            )
        return account

    return [
        Posting(resolve(source), -amount, currency),
        Posting(resolve(target), amount, currency),
    ]


def dispute_withdrawal_postings(*, amount: int, dispute_fee: int, currency: str) -> list[Posting]:
    """Funds withdrawn for a dispute: the disputed amount to the buyer's side and Stripe's
    dispute fee, both from the platform's balance (destination charges: the platform is liable)."""
    return [
        Posting(PLATFORM_BALANCE, -(amount + dispute_fee), currency),
        Posting(BUYER_DISPUTES, amount, currency),
        Posting(STRIPE_FEES, dispute_fee, currency),
    ]


# --- Seller balances from Stripe ---------------------------------------------------------------


def _sum_by_currency(items: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in items or []:
        currency = str(item["currency"]).lower()
        totals[currency] = totals.get(currency, 0) + int(item["amount"])
    return totals


def seller_balance_refresh(*, seller_id: int) -> SellerBalance:
    """Fetch Stripe's balance of the seller's connected account and store it as the snapshot.

    Raises ``UserFacingError`` when the seller has no connected account, and when Stripe cannot be
    reached (the error is kept on the row, the previous snapshot stays). Side effects: updates the
    seller's SellerBalance stripe_* fields.
    """
    from marketplace import stripe_gateway

    seller = Seller.objects.get(pk=seller_id)
    if not seller.stripe_account_id:
        raise UserFacingError("Connect your Stripe account first to see its balance.")
    SellerBalance.objects.get_or_create(seller=seller)
    try:
        stripe_balance = stripe_gateway.balance_retrieve(stripe_account=seller.stripe_account_id)
    except stripe_gateway.GatewayError as exc:
        SellerBalance.objects.filter(seller=seller).update(stripe_refresh_error=exc.message[:255])
        raise UserFacingError(f"Could not refresh the balance from Stripe: {exc.message}") from exc
    with transaction.atomic():
        row = SellerBalance.objects.select_for_update().get(seller=seller)
        row.stripe_available = _sum_by_currency(stripe_balance["available"])
        row.stripe_pending = _sum_by_currency(stripe_balance["pending"])
        row.stripe_refreshed_at = timezone.now()
        row.stripe_refresh_error = ""
        row.save(
            update_fields=[
                "stripe_available",
                "stripe_pending",
                "stripe_refreshed_at",
                "stripe_refresh_error",
                "updated_at",
            ]
        )
    return row


# --- Payouts ------------------------------------------------------------------------------------


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def payout_sync(*, seller: Seller, data: Mapping[str, Any]) -> Payout:
    """Mirror a Stripe payout of ``seller``'s connected account (``data`` = the payout object).

    Status moves only forward (pending -> in_transit -> paid | failed | canceled), so a stale
    event never moves it back. Ledger: the payout is recorded when first seen (the money left the
    balance when Stripe created it); a failed or canceled payout records the money's return.
    A newly failed payout emails the seller (after commit) with the reason and a link to update
    their bank details, once. Idempotent.
    """
    payout_id = str(data["id"])
    status = str(data.get("status") or "pending")
    if status not in Payout.Status.values:
        status = Payout.Status.PENDING
    with transaction.atomic():
        payout, created = Payout.objects.select_for_update().get_or_create(
            stripe_id=payout_id,
            defaults={
                "seller": seller,
                "amount": int(data["amount"]),
                "currency": str(data["currency"]).lower(),
                "status": status,
                "arrival_date": _ts(data.get("arrival_date")),
                "stripe_created": _ts(data.get("created")) or timezone.now(),
            },
        )
        if not created and Payout.RANK[status] > Payout.RANK[payout.status]:
            payout.status = status
            payout.arrival_date = _ts(data.get("arrival_date")) or payout.arrival_date
        if payout.status == Payout.Status.FAILED:
            payout.failure_code = str(data.get("failure_code") or payout.failure_code or "")[:64]
            payout.failure_message = str(
                data.get("failure_message") or payout.failure_message or ""
            )[:500]
        payout.save()
        occurred = payout.stripe_created
        ledger_record(
            kind=LedgerTransaction.Kind.PAYOUT,
            stripe_object_id=payout_id,
            seller=seller,
            occurred_at=occurred,
            description=f"payout {payout_id}",
            postings=movement_postings(
                kind=LedgerTransaction.Kind.PAYOUT,
                amount=payout.amount,
                currency=payout.currency,
                seller_id=seller.pk,
            ),
        )
        if payout.status in (Payout.Status.FAILED, Payout.Status.CANCELED):
            ledger_record(
                kind=LedgerTransaction.Kind.PAYOUT_FAILED,
                stripe_object_id=payout_id,
                seller=seller,
                occurred_at=timezone.now(),
                description=f"payout {payout_id} {payout.status}: returned to the balance",
                postings=movement_postings(
                    kind=LedgerTransaction.Kind.PAYOUT_FAILED,
                    amount=payout.amount,
                    currency=payout.currency,
                    seller_id=seller.pk,
                ),
            )
        if payout.status == Payout.Status.FAILED and payout.failure_notified_at is None:
            payout.failure_notified_at = timezone.now()
            payout.save(update_fields=["failure_notified_at", "updated_at"])
            from payouts import tasks

            payout_pk = payout.pk
            transaction.on_commit(lambda: tasks.send_payout_failed_email.delay(payout_pk))
    return payout


# --- Money movements from Stripe -----------------------------------------------------------------


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object (or a payload dict) as a plain dict."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if to_dict else dict(obj)


def _id(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return str(_plain(value).get("id") or "")


def _order_id_of(charge: Mapping[str, Any]) -> int | None:
    raw = (charge.get("metadata") or {}).get("order_id")
    if raw and str(raw).isdigit():
        return int(raw)
    return order_id_for_charge(
        charge_id=str(charge["id"]), payment_intent_id=_id(charge.get("payment_intent"))
    )


def order_id_for_charge(*, charge_id: str, payment_intent_id: str) -> int | None:
    """The order paid by this charge, from buyers' Order (charge or payment intent id)."""
    from buyers.models import Order

    lookup = Q(charge_id=charge_id)
    if payment_intent_id:
        lookup |= Q(payment_intent_id=payment_intent_id)
    found = Order.objects.filter(lookup).values_list("id", flat=True).first()
    return int(found) if found is not None else None


def _sync_order_refund(
    *, order_id: int, refund_id: str, refunded_total: int, charge_id: str
) -> None:
    """Tell buyers' order how much of its charge is refunded (it moves to refunded when all is)."""
    from buyers import services as buyer_services
    from buyers.models import Order

    try:
        buyer_services.order_record_refund(
            order_id=order_id,
            refund_id=refund_id,
            refunded_total=refunded_total,
            charge_id=charge_id,
        )
    except Order.DoesNotExist:
        logger.warning("refund of unknown order %s", order_id)
    except buyer_services.InvalidTransition as exc:
        logger.warning("order %s: refund not recorded on the order: %s", order_id, exc)


def _sync_order_dispute(dispute: Dispute) -> None:
    """Show the dispute on buyers' order (the seller's sale page and the buyer's order page)."""
    from buyers import services as buyer_services
    from buyers.models import Order

    assert dispute.order_id is not None
    try:
        buyer_services.order_record_dispute(
            order_id=dispute.order_id,
            status=dispute.status,
            evidence_due_by=dispute.evidence_due_by,
        )
    except Order.DoesNotExist:
        logger.warning("dispute %s of unknown order %s", dispute.stripe_id, dispute.order_id)


@dataclass
class ChargeSyncResult:
    charge_id: str
    recorded: list[str]


def ledger_sync_charge(*, charge_id: str) -> ChargeSyncResult:
    """Bring the ledger in line with everything Stripe did with one destination charge.

    Re-reads from Stripe (never trusting a possibly stale event payload) the charge (with its
    balance transaction, for Stripe's processing fee), its transfer,
    its application fee and the fee's refunds, its refunds, the transfer's reversals and its
    disputes, and records every movement not yet in the ledger (``ledger_record`` is idempotent
    on the Stripe object, so running this again, or for duplicated or shuffled events, records
    nothing new). Only succeeded movements are recorded: a pending refund waits for its
    ``refund.updated``. Raises ``GatewayError`` when Stripe cannot be reached (the event is
    retried). Returns what was newly recorded.
    """
    from marketplace import stripe_gateway as gw

    K = LedgerTransaction.Kind
    charge = _plain(gw.charge_retrieve(charge_id=charge_id))
    recorded: list[str] = []
    if charge.get("status") != "succeeded" and not charge.get("paid"):
        return ChargeSyncResult(charge_id, recorded)
    currency = str(charge["currency"]).lower()
    amount = int(charge["amount"])
    order_id = _order_id_of(charge)
    transfer_id = _id(charge.get("transfer"))
    destination = _id((charge.get("transfer_data") or {}).get("destination")) or _id(
        charge.get("destination")
    )
    transfer = _plain(gw.transfer_retrieve(transfer_id=transfer_id)) if transfer_id else {}
    destination = destination or _id(transfer.get("destination"))
    seller = Seller.objects.filter(stripe_account_id=destination).first() if destination else None
    if destination and seller is None:
        raise LedgerError(f"charge {charge_id} pays account {destination}, not one of our sellers")
    when = _ts(charge.get("created")) or timezone.now()

    def record(kind: str, object_id: str, postings: list[Posting], at: Any = None) -> None:
        _, created = ledger_record(
            kind=kind,
            stripe_object_id=object_id,
            postings=postings,
            seller=seller,
            order_id=order_id,
            charge_id=charge_id,
            occurred_at=_ts(at) or when,
            description=f"{kind} of charge {charge_id}",
        )
        if created:
            recorded.append(f"{kind}:{object_id}")

    sid = seller.pk if seller else None
    record(K.CHARGE, charge_id, movement_postings(kind=K.CHARGE, amount=amount, currency=currency))
    # Stripe's processing fee, paid by the platform (destination charges). Only when Stripe
    # settled the charge in its own currency: a converted fee is in another currency than the
    # order, and stays with reconciliation's "converted, not compared".
    processing = charge.get("balance_transaction")
    if (
        isinstance(processing, dict)
        and int(processing.get("fee") or 0) > 0
        and str(processing.get("currency") or "").lower() == currency
    ):
        fee_paid = int(processing["fee"])
        record(
            K.STRIPE_FEE,
            str(processing["id"]),
            [
                Posting(PLATFORM_BALANCE, -fee_paid, currency),
                Posting(STRIPE_FEES, fee_paid, currency),
            ],
            processing.get("created"),
        )
    transferred = 0
    if transfer and seller is not None:
        transferred = int(transfer["amount"])
        record(
            K.TRANSFER,
            transfer_id,
            movement_postings(
                kind=K.TRANSFER, amount=transferred, currency=currency, seller_id=sid
            ),
            transfer.get("created"),
        )
    fee_id = _id(charge.get("application_fee"))
    fee_from_seller = transferred == amount  # Stripe: full transfer, then the fee comes back
    if fee_id:
        fee = _plain(gw.application_fee_retrieve(fee_id=fee_id))
        fee_amount = int(fee["amount"])
        if fee_from_seller and seller is not None:
            postings = movement_postings(
                kind=K.APPLICATION_FEE, amount=fee_amount, currency=currency, seller_id=sid
            )
        else:  # the transfer was already net of the fee: the fee never left the platform
            postings = [
                Posting(PLATFORM_BALANCE, -fee_amount, currency),
                Posting(PLATFORM_FEES, fee_amount, currency),
            ]
        record(K.APPLICATION_FEE, fee_id, postings, fee.get("created"))
        if int(fee.get("amount_refunded") or 0):
            for fee_refund in gw.application_fee_refunds_list(fee_id=fee_id):
                fr = _plain(fee_refund)
                back = int(fr["amount"])
                if fee_from_seller and seller is not None:
                    postings = movement_postings(
                        kind=K.FEE_REFUND, amount=back, currency=currency, seller_id=sid
                    )
                else:
                    postings = [
                        Posting(PLATFORM_FEES, -back, currency),
                        Posting(PLATFORM_BALANCE, back, currency),
                    ]
                record(K.FEE_REFUND, str(fr["id"]), postings, fr.get("created"))
    if int(charge.get("amount_refunded") or 0):
        last_refund_id = ""
        for refund in gw.refunds_list(charge_id=charge_id):
            re_ = _plain(refund)
            if re_.get("status") != "succeeded":
                continue
            last_refund_id = last_refund_id or str(re_["id"])
            record(
                K.REFUND,
                str(re_["id"]),
                movement_postings(kind=K.REFUND, amount=int(re_["amount"]), currency=currency),
                re_.get("created"),
            )
        if order_id is not None:
            _sync_order_refund(
                order_id=order_id,
                refund_id=last_refund_id,
                charge_id=str(charge["id"]),
                refunded_total=int(charge["amount_refunded"]),
            )
    if transfer and seller is not None and int(transfer.get("amount_reversed") or 0):
        for reversal in gw.transfer_reversals_list(transfer_id=transfer_id):
            trr = _plain(reversal)
            record(
                K.TRANSFER_REVERSAL,
                str(trr["id"]),
                movement_postings(
                    kind=K.TRANSFER_REVERSAL,
                    amount=int(trr["amount"]),
                    currency=currency,
                    seller_id=sid,
                ),
                trr.get("created"),
            )
    if charge.get("disputed"):
        for dispute in gw.disputes_list(charge_id=charge_id):
            recorded += _record_dispute_funds(
                dispute=_plain(dispute), seller=seller, order_id=order_id, charge_id=charge_id
            )
    return ChargeSyncResult(charge_id, recorded)


def _record_dispute_funds(
    *, dispute: Mapping[str, Any], seller: Seller | None, order_id: int | None, charge_id: str
) -> list[str]:
    """Dispute withdrawals and reinstatements from the dispute's balance transactions."""
    K = LedgerTransaction.Kind
    recorded = []
    dispute_id = str(dispute["id"])
    for bt in dispute.get("balance_transactions") or []:
        bt = _plain(bt)
        currency = str(bt.get("currency") or dispute["currency"]).lower()
        moved, fee = int(bt.get("amount") or 0), int(bt.get("fee") or 0)
        if moved < 0:
            kind = K.DISPUTE_FUNDS_WITHDRAWN
            postings = dispute_withdrawal_postings(
                amount=-moved, dispute_fee=fee, currency=currency
            )
        elif moved > 0:
            kind = K.DISPUTE_FUNDS_REINSTATED
            postings = [
                Posting(BUYER_DISPUTES, -moved, currency),
                Posting(STRIPE_FEES, fee, currency),
                Posting(PLATFORM_BALANCE, moved - fee, currency),
            ]
        else:
            continue
        _, created = ledger_record(
            kind=kind,
            stripe_object_id=dispute_id,
            postings=postings,
            seller=seller,
            order_id=order_id,
            charge_id=charge_id,
            occurred_at=_ts(bt.get("created")) or timezone.now(),
            description=f"{kind} {dispute_id}",
        )
        if created:
            recorded.append(f"{kind}:{dispute_id}")
    return recorded


# --- Disputes -----------------------------------------------------------------------------------

_DISPUTE_RANK = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "warning_closed": 2,
    "won": 2,
    "lost": 2,
    "prevented": 2,
}


def dispute_sync(*, data: Mapping[str, Any]) -> Dispute:
    """Mirror a Stripe dispute (``data`` = the dispute object); status only moves forward.

    A new dispute flags its order and emails the seller and the admins once (after commit) with
    the evidence deadline. A lost dispute, when ``MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER`` is on,
    takes the seller's remaining share back with a transfer reversal (idempotency key per
    dispute); the ledger records it from Stripe's objects (``ledger_sync_charge``).
    """
    dispute_id = str(data["id"])
    charge_id = _id(data.get("charge"))
    status = str(data.get("status") or "needs_response")
    if status not in _DISPUTE_RANK:
        status = "needs_response"
    evidence_due = _ts((data.get("evidence_details") or {}).get("due_by"))
    with transaction.atomic():
        existing = Dispute.objects.select_for_update().filter(stripe_id=dispute_id).first()
        if existing is None:
            ledger_charge = (
                LedgerTransaction.objects.filter(
                    kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id
                )
                .only("order_id", "seller_id")
                .first()
            )
            try:
                with transaction.atomic():
                    existing = Dispute.objects.create(
                        stripe_id=dispute_id,
                        charge_id=charge_id,
                        order_id=ledger_charge.order_id if ledger_charge else None,
                        seller_id=ledger_charge.seller_id if ledger_charge else None,
                        amount=int(data["amount"]),
                        currency=str(data["currency"]).lower(),
                        reason=str(data.get("reason") or "")[:64],
                        status=status,
                        evidence_due_by=evidence_due,
                        stripe_created=_ts(data.get("created")) or timezone.now(),
                    )
            except IntegrityError:
                existing = Dispute.objects.select_for_update().get(stripe_id=dispute_id)
        dispute = existing
        if _DISPUTE_RANK[status] > _DISPUTE_RANK.get(dispute.status, 0) or (
            _DISPUTE_RANK[status] == _DISPUTE_RANK.get(dispute.status, 0)
            and status != dispute.status
            and _DISPUTE_RANK[status] < 2
        ):
            dispute.status = status
        dispute.evidence_due_by = evidence_due or dispute.evidence_due_by
        if dispute.notified_at is None:
            dispute.notified_at = timezone.now()
            from payouts import tasks

            pk = dispute.pk
            transaction.on_commit(lambda: tasks.send_dispute_opened_email.delay(pk))
        dispute.save()
        if dispute.order_id is not None:
            _sync_order_dispute(dispute)
        if (
            dispute.status == "lost"
            and settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER
            and not dispute.seller_share_reversal_id
        ):
            _recover_seller_share(dispute)
    return dispute


def _recover_seller_share(dispute: Dispute) -> None:
    """Reverse the seller's remaining net share of a lost dispute's charge (locked row)."""
    from marketplace import stripe_gateway as gw

    charge = _plain(gw.charge_retrieve(charge_id=dispute.charge_id))
    transfer_id = _id(charge.get("transfer"))
    if not transfer_id or dispute.seller_id is None:
        return
    transfer = _plain(gw.transfer_retrieve(transfer_id=transfer_id))
    remaining_transfer = int(transfer["amount"]) - int(transfer.get("amount_reversed") or 0)
    net = (
        LedgerEntry.objects.filter(
            seller_id=dispute.seller_id,
            account=seller_balance_account(dispute.seller_id),
            transaction__order_id=dispute.order_id,
        ).aggregate(total=Sum("amount"))["total"]
        if dispute.order_id
        else None
    )
    share = remaining_transfer if net is None else min(int(net), remaining_transfer)
    share = min(share, dispute.amount)
    if share <= 0:
        return
    from marketplace.stripe_gateway import idempotency_key

    reversal = gw.transfer_reversal_create(
        transfer_id=transfer_id,
        amount=share,
        reason=f"dispute {dispute.stripe_id} lost",
        idempotency_key=idempotency_key("dispute", dispute.stripe_id, "reversal"),
    )
    dispute.seller_share_reversal_id = str(_plain(reversal)["id"])
    dispute.save(update_fields=["seller_share_reversal_id", "updated_at"])


def dispute_submit_evidence(*, actor: Any, dispute_id: int, text: str) -> Dispute:
    """Staff send evidence text for an open dispute to the bank through Stripe.

    Refuses (``UserFacingError``) non-staff, empty text, closed disputes and a passed deadline.
    Side effects: the Stripe dispute's evidence is submitted; the text, who and when are kept.
    """
    from marketplace import stripe_gateway as gw

    if not getattr(actor, "is_staff", False):
        raise UserFacingError("Only platform staff can answer disputes.")
    text = (text or "").strip()
    if not text:
        raise UserFacingError("Write the evidence to send.", field="text")
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().get(pk=dispute_id)
        if not dispute.is_open or dispute.status.endswith("under_review"):
            raise UserFacingError("This dispute no longer takes evidence.")
        if dispute.evidence_due_by and dispute.evidence_due_by < timezone.now():
            raise UserFacingError("The evidence deadline has passed.")
        try:
            gw.dispute_submit_evidence(
                dispute_id=dispute.stripe_id,
                text=text,
                idempotency_key=gw.idempotency_key(
                    "dispute", dispute.stripe_id, "evidence", zlib.crc32(text.encode())
                ),
            )
        except gw.GatewayError as exc:
            raise UserFacingError(f"Stripe refused the evidence: {exc.message}") from exc
        dispute.evidence_text = text
        dispute.evidence_submitted_at = timezone.now()
        dispute.evidence_submitted_by = actor
        dispute.status = (
            "under_review" if not dispute.status.startswith("warning") else "warning_under_review"
        )
        dispute.save()
    return dispute


# --- Refunds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refundable:
    captured: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        return max(self.captured - self.refunded, 0)


def refundable_of(*, charge_id: str) -> Refundable | None:
    """What has been captured and refunded for a charge, as far as we know: the ledger's
    refunds plus refunds Stripe accepted whose events have not arrived yet."""
    from payouts.models import RefundRequest

    charge = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id
    ).first()
    if charge is None:
        return None
    legs = LedgerEntry.objects.filter(transaction=charge, account=PLATFORM_BALANCE)
    captured_leg = legs.first()
    if captured_leg is None:
        return None
    refunds = LedgerTransaction.objects.filter(
        kind=LedgerTransaction.Kind.REFUND, charge_id=charge_id
    )
    in_ledger = set(refunds.values_list("stripe_object_id", flat=True))
    refunded = (
        LedgerEntry.objects.filter(transaction__in=refunds, account=BUYER_REFUNDS).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    refunded += sum(
        RefundRequest.objects.filter(charge_id=charge_id, status=RefundRequest.Status.SUCCEEDED)
        .exclude(stripe_refund_id__in=in_ledger)
        .values_list("amount", flat=True)
    )
    return Refundable(
        captured=int(captured_leg.amount), refunded=int(refunded), currency=captured_leg.currency
    )


def seller_share_of_refund(
    *, charge_id: str, seller_id: int, amount: int, refundable: Refundable | None = None
) -> int:
    """What a refund of ``amount`` on a sale takes back from the seller's balance, from the
    ledger, as Stripe computes it: the transfer is reversed and the application fee refunded
    (back to the seller) pro rata to the refund, ``round_half_up(share * amount / captured)``
    each; the refund of all that remains also sweeps the rounding residue of earlier refunds.
    ``refundable``: the sale's ``refundable_of`` when the caller has it already."""
    refundable = refundable or refundable_of(charge_id=charge_id)
    if refundable is None or refundable.captured <= 0:
        return 0
    rows = (
        LedgerEntry.objects.filter(
            transaction__charge_id=charge_id, account=seller_balance_account(seller_id)
        )
        .values("transaction__kind")
        .annotate(total=Sum("amount"))
    )
    by_kind = {row["transaction__kind"]: int(row["total"]) for row in rows}
    K = LedgerTransaction.Kind
    earlier = LedgerTransaction.objects.filter(kind=K.REFUND, charge_id=charge_id).count()
    takes_all = amount >= refundable.remaining

    def back(share: int, left: int) -> int:
        part = min(round_half_up(share * amount, refundable.captured), left)
        return left if takes_all and left - part <= earlier else max(part, 0)

    transferred = by_kind.get(K.TRANSFER, 0)
    reversed_part = back(transferred, transferred + by_kind.get(K.TRANSFER_REVERSAL, 0))
    fee = -by_kind.get(K.APPLICATION_FEE, 0)  # taken from the seller (full transfer)
    fee_part = back(fee, fee - by_kind.get(K.FEE_REFUND, 0))
    return max(reversed_part - fee_part, 0)


def refund_request_create(
    *,
    actor: Any,
    charge_id: str,
    amount: int,
    reason: str,
    client_token: Any,
    note: str = "",
    platform_covers: bool = False,
) -> Any:
    """Refund ``amount`` (minor units) of a paid sale, in full or in part, through Stripe.

    Who: staff for any sale; the seller for their own sales within
    ``MARKETPLACE_REFUND_WINDOW`` of the payment (anyone else: ``PermissionDenied``).
    Refused with a message (``UserFacingError``): an unpaid or unknown sale, zero or a negative
    amount, more than remains refundable, a second refund while one is being sent (the sale is
    locked; the second waits and then sees the first), the same form submitted twice
    (``client_token``). Stripe reverses the seller's transfer and refunds the platform's fee pro
    rata (``reverse_transfer``, ``refund_application_fee``); the idempotency key is the request's.

    A seller's balance never goes negative through a refund (design section 4, invariant 5):
    when the seller's share of the refund is more than their balance holds (it has been paid
    out), the seller is refused and told to ask the platform team, and staff are refused unless
    they choose ``platform_covers``: then nothing is reversed or refunded from the seller, and
    the platform pays the refund from its own balance. Only staff may choose it.
    Side effects: a RefundRequest row with Stripe's answer; the ledger records the refund at once
    (and again, harmlessly, from Stripe's events).
    """
    from django.core.exceptions import PermissionDenied

    from marketplace import stripe_gateway as gw
    from payouts.models import RefundRequest

    if reason not in RefundRequest.Reason.values:
        raise UserFacingError("Choose a reason for the refund.", field="reason")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise UserFacingError("Enter an amount above zero.", field="amount")
    if platform_covers and not getattr(actor, "is_staff", False):
        raise PermissionDenied("only staff refund from the platform's balance")
    with transaction.atomic():
        sale = (
            LedgerTransaction.objects.select_for_update(of=("self",))
            .filter(kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id)
            .select_related("seller__user")
            .first()
        )
        is_staff = bool(getattr(actor, "is_staff", False))
        is_owner = sale is not None and sale.seller is not None and sale.seller.user_id == actor.pk
        if not (is_staff or is_owner):
            raise PermissionDenied("not your sale")
        if sale is None:
            raise UserFacingError("This order is not paid (yet): there is nothing to refund.")
        if not is_staff and sale.occurred_at + settings.MARKETPLACE_REFUND_WINDOW < timezone.now():
            days = settings.MARKETPLACE_REFUND_WINDOW.days
            raise UserFacingError(
                f"The {days}-day refund window has passed; ask the platform team to refund."
            )
        existing = RefundRequest.objects.filter(client_token=client_token).first()
        if existing is not None:
            raise UserFacingError("This refund was already submitted.")
        if RefundRequest.objects.filter(
            charge_id=charge_id, status=RefundRequest.Status.PENDING
        ).exists():
            raise UserFacingError(
                "Another refund of this order is being sent to Stripe; reload in a moment."
            )
        refundable = refundable_of(charge_id=charge_id)
        assert refundable is not None
        if amount > refundable.remaining:
            left = Money(refundable.remaining, refundable.currency)
            raise UserFacingError(
                f"At most {left} can still be refunded on this order."
                if refundable.remaining
                else "This order is already fully refunded.",
                field="amount",
            )
        if sale.seller is not None and not platform_covers:
            _refuse_refund_beyond_balance(
                seller=sale.seller,
                charge_id=charge_id,
                amount=amount,
                refundable=refundable,
                is_staff=is_staff,
            )
        request = RefundRequest.objects.create(
            client_token=client_token,
            charge_id=charge_id,
            order_id=sale.order_id,
            seller=sale.seller,
            amount=amount,
            currency=refundable.currency,
            reason=reason,
            note=note[:500],
            requested_by=actor,
            platform_covers=platform_covers,
        )
        try:
            refund = gw.refund_create(
                charge_id=charge_id,
                amount=amount,
                order_id=sale.order_id or 0,
                reason=reason,
                idempotency_key=gw.idempotency_key("refund-request", request.pk),
                take_back_seller_share=not platform_covers,
            )
        except gw.GatewayError as exc:
            request.status = RefundRequest.Status.FAILED
            request.error = exc.message[:500]
        else:
            request.status = RefundRequest.Status.SUCCEEDED
            request.stripe_refund_id = str(_plain(refund)["id"])
        request.save(update_fields=["status", "error", "stripe_refund_id", "updated_at"])
    if request.status == RefundRequest.Status.FAILED:
        raise UserFacingError(f"Stripe refused the refund: {request.error}")
    # Record it now so the balance moves at once; if Stripe is slow, the events will.
    with contextlib.suppress(gw.GatewayError, LedgerError):
        ledger_sync_charge(charge_id=charge_id)
    return request


def _refuse_refund_beyond_balance(
    *, seller: Seller, charge_id: str, amount: int, refundable: Refundable, is_staff: bool
) -> None:
    """Raise ``UserFacingError`` when the seller's share of this refund is more than the
    seller's ledger balance in the sale's currency holds."""
    share = seller_share_of_refund(
        charge_id=charge_id, seller_id=seller.pk, amount=amount, refundable=refundable
    )
    if share <= 0:
        return
    currency = refundable.currency
    row = SellerBalance.objects.filter(seller=seller).first()
    held = row.ledger_total(currency) if row else 0
    if share <= held:
        return
    share_label, held_label = _money_label(share, currency), _money_label(max(held, 0), currency)
    if is_staff:
        raise UserFacingError(
            f"This refund takes {share_label} back from the seller, whose balance holds "
            f"{held_label} (the rest has been paid out). Refund from the platform's balance "
            "instead, or refund less.",
            field="platform_covers",
        )
    raise UserFacingError(
        f"This refund takes {share_label} of your share back, and your balance holds "
        f"{held_label} (the rest has been paid out to your bank). Ask the platform team to "
        "refund this order, or refund less."
    )
