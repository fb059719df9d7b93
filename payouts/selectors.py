"""Reads of the payouts app: QuerySets and values scoped to the person asking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import models
from django.db.models import Case, F, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from payouts.models import (
    Dispute,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    ReconciliationRun,
    RefundRequest,
    SellerBalance,
)
from payouts.services.ledger import BUYER_REFUNDS, PLATFORM_BALANCE, PLATFORM_FEES
from sellers.models import FeeRule, Seller


def is_staff(user: Any) -> bool:
    """Whether ``user`` is platform staff (fees, simulator, transfer review, disputes, dashboard).

    The staff selectors below return nothing for anyone else; views answer 404."""
    return bool(user.is_authenticated and user.is_staff)


def transfers_waiting(*, user: Any) -> Any:
    """Transfers to sellers of several-seller purchases still to be made (staff only; nothing
    for anyone else): the ones whose last attempt failed, with the reason and the time of the
    next attempt, and the ones not tried yet. A transfer is made once: these become ledger
    transfers when it is."""
    from buyers.models import Order

    if not is_staff(user):
        return Order.objects.none()
    return (
        Order.objects.filter(
            transfer_status__in=[Order.TransferStatus.PENDING, Order.TransferStatus.FAILED]
        )
        .select_related("seller", "purchase")
        .order_by("transfer_next_attempt_at", "pk")
    )


def reversals_waiting(*, user: Any) -> QuerySet[RefundRequest]:
    """Sellers' shares of refunds (one seller's order of a several-seller purchase) still to be
    taken back by a transfer reversal: failed ones with the reason and the next attempt's time,
    and ones not tried yet (staff only; nothing for anyone else)."""
    if not is_staff(user):
        return RefundRequest.objects.none()
    R = RefundRequest.ReversalStatus
    return (
        RefundRequest.objects.filter(reversal_status__in=[R.PENDING, R.FAILED])
        .select_related("seller")
        .order_by("reversal_next_attempt_at", "pk")
    )


def seller_of(user: Any) -> Seller | None:
    """The seller profile of ``user``, or None for anyone who is not a seller."""
    if not user.is_authenticated:
        return None
    seller: Seller | None = Seller.objects.filter(user=user).select_related("money").first()
    return seller


@dataclass
class FeeRuleLineage:
    """One fee rule: its current version and the versions before it, newest first."""

    current: FeeRule
    history: list[FeeRule] = field(default_factory=list)


def fee_rule_lineages(*, user: Any) -> list[FeeRuleLineage]:
    """Every fee rule with its version history, most specific scope first (staff only)."""
    if not is_staff(user):
        return []
    rules = list(FeeRule.objects.select_related("seller", "category", "created_by", "supersedes"))
    by_id = {rule.pk: rule for rule in rules}
    superseded = {rule.supersedes_id for rule in rules if rule.supersedes_id}
    lineages = []
    for rule in rules:
        if rule.pk in superseded:
            continue
        lineage = FeeRuleLineage(current=rule)
        previous = rule.supersedes_id
        while previous is not None and previous in by_id:
            lineage.history.append(by_id[previous])
            previous = by_id[previous].supersedes_id
        lineages.append(lineage)
    lineages.sort(
        key=lambda lin: (
            not lin.current.is_active,
            -FeeRule.SPECIFICITY[lin.current.scope],
            lin.current.target_label,
            lin.current.starts_on,
        )
    )
    return lineages


def seller_ledger_entries(*, seller: Seller) -> QuerySet[LedgerEntry]:
    """The seller's own ledger entries (balance and payouts accounts), oldest first."""
    return LedgerEntry.objects.filter(seller=seller).select_related("transaction").order_by("id")


def seller_payouts(*, seller: Seller) -> QuerySet[Payout]:
    return Payout.objects.filter(seller=seller)


@dataclass(frozen=True)
class TakenBack:
    """Money taken back from the seller's balance: when, how much, for which order and why."""

    occurred_at: Any
    amount: int  # minor units, positive: what left the balance
    currency: str
    order_id: int | None
    why: str


def seller_taken_back(*, seller: Seller, limit: int = 10) -> list[TakenBack]:
    """The latest movements that took money back from the seller's balance (transfer reversals
    for refunds and lost disputes, withdrawn dispute funds), newest first."""
    K = LedgerTransaction.Kind
    entries = (
        LedgerEntry.objects.filter(
            seller=seller,
            account=f"seller:{seller.pk}:balance",
            amount__lt=0,
            transaction__kind__in=[K.TRANSFER_REVERSAL, K.DISPUTE_FUNDS_WITHDRAWN, K.ADJUSTMENT],
        )
        .select_related("transaction")
        .order_by("-transaction__occurred_at", "-id")[:limit]
    )
    rows = list(entries)
    lost = set(
        Dispute.objects.filter(
            seller=seller,
            status="lost",
            order_id__in=[e.transaction.order_id for e in rows if e.transaction.order_id],
        ).values_list("order_id", flat=True)
    )
    result = []
    for entry in rows:
        txn = entry.transaction
        if txn.order_id in lost:
            why = "the buyer's bank won a dispute: the payment went back to the buyer"
        elif txn.kind == K.TRANSFER_REVERSAL:
            why = "the buyer was refunded: your share of the refund"
        elif txn.kind == K.DISPUTE_FUNDS_WITHDRAWN:
            why = "a dispute was opened: the amount is held until the bank decides"
        else:
            why = txn.description or "an adjustment by the platform"
        result.append(
            TakenBack(
                occurred_at=txn.occurred_at,
                amount=-int(entry.amount),
                currency=entry.currency,
                order_id=txn.order_id,
                why=why,
            )
        )
    return result


def seller_balance_row(*, seller: Seller) -> SellerBalance | None:
    try:
        return seller.money
    except SellerBalance.DoesNotExist:
        return None


# --- Transfer review (staff) --------------------------------------------------------------------


def _sum_of(entries: QuerySet[LedgerEntry]) -> Subquery:
    return Subquery(
        entries.order_by().values("currency").annotate(total=Sum("amount")).values("total")[:1],
        output_field=models.BigIntegerField(),
    )


TRANSFER_STATUSES = {
    "paid": "Paid",
    "partially_reversed": "Partially reversed",
    "reversed": "Fully reversed",
}


def transfers_for_review(
    *,
    user: Any,
    seller_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str = "",
    currency: str = "",
) -> QuerySet[LedgerTransaction]:
    """Every transfer to a seller (staff only), with its amount, the application fee and the
    reversed amount of its charge, and a status; filtered as asked, newest first."""
    if not is_staff(user):
        return LedgerTransaction.objects.none()
    seller_leg = LedgerEntry.objects.filter(transaction=OuterRef("pk"), seller__isnull=False)
    fee_legs = LedgerEntry.objects.filter(
        transaction__kind=LedgerTransaction.Kind.APPLICATION_FEE,
        transaction__charge_id=OuterRef("charge_id"),
        account=PLATFORM_FEES,
    )
    reversal_legs = LedgerEntry.objects.filter(
        transaction__kind=LedgerTransaction.Kind.TRANSFER_REVERSAL,
        transaction__charge_id=OuterRef("charge_id"),
        account=PLATFORM_BALANCE,
    )
    qs = (
        LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.TRANSFER)
        .select_related("seller")
        .annotate(
            amount=_sum_of(seller_leg),
            currency=Subquery(seller_leg.values("currency")[:1]),
            fee=Coalesce(_sum_of(fee_legs), Value(0)),
            reversed_amount=Coalesce(_sum_of(reversal_legs), Value(0)),
        )
        .annotate(
            status=Case(
                When(reversed_amount__lte=0, then=Value("paid")),
                When(reversed_amount__lt=F("amount"), then=Value("partially_reversed")),
                default=Value("reversed"),
                output_field=models.CharField(),
            )
        )
        .order_by("-occurred_at", "-id")
    )
    if seller_id:
        qs = qs.filter(seller_id=seller_id)
    if date_from:
        qs = qs.filter(occurred_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(occurred_at__date__lte=date_to)
    if status in TRANSFER_STATUSES:
        qs = qs.filter(status=status)
    if currency:
        qs = qs.filter(currency=currency.lower())
    result: QuerySet[LedgerTransaction] = qs
    return result


def transfer_totals(transfers: Any) -> list[dict[str, Any]]:
    """Totals per currency of a transfer-review queryset: count, transferred, fees, reversed."""
    rows: dict[str, dict[str, Any]] = {}
    for t in transfers.values("currency", "amount", "fee", "reversed_amount").iterator():
        row = rows.setdefault(
            t["currency"],
            {"currency": t["currency"], "count": 0, "amount": 0, "fee": 0, "reversed": 0},
        )
        row["count"] += 1
        row["amount"] += t["amount"] or 0
        row["fee"] += t["fee"] or 0
        row["reversed"] += t["reversed_amount"] or 0
    return [rows[c] for c in sorted(rows)]


def charge_movements(*, user: Any, charge_id: str) -> QuerySet[LedgerTransaction]:
    """Every ledger transaction of one charge with its entries (staff only)."""
    if not is_staff(user):
        return LedgerTransaction.objects.none()
    return (
        LedgerTransaction.objects.filter(charge_id=charge_id)
        .prefetch_related("entries")
        .order_by("occurred_at", "id")
    )


def sale_dispute(*, user: Any, order_id: int) -> Dispute | None:
    """The latest dispute on one of ``user``'s own sales, or None (not a seller, not their sale,
    no dispute)."""
    seller = seller_of(user)
    if seller is None:
        return None
    return (
        Dispute.objects.filter(order_id=order_id, seller=seller).order_by("-stripe_created").first()
    )


def sale_to_refund(*, user: Any, order_id: int) -> Any:
    """One of ``user``'s own sales (an order, with its lines and purchase) for the sale page's
    refund form, or None: not a seller, not their order (another seller's order of the same
    purchase included), no such order."""
    from buyers.models import Order

    seller = seller_of(user)
    if seller is None:
        return None
    return (
        Order.objects.filter(pk=order_id, seller=seller)
        .select_related("seller", "purchase")
        .prefetch_related("lines")
        .first()
    )


def disputes_for_staff(*, user: Any) -> QuerySet[Dispute]:
    if not is_staff(user):
        return Dispute.objects.none()
    return Dispute.objects.select_related("seller").order_by("evidence_due_by", "-id")


def open_disputes_for_staff(*, user: Any) -> QuerySet[Dispute]:
    """Disputes still open (not won, lost, prevented or closed), the nearest deadline first."""
    return disputes_for_staff(user=user).exclude(status__in=sorted(Dispute.CLOSED))


def failed_payouts_for_staff(*, user: Any) -> QuerySet[Payout]:
    if not is_staff(user):
        return Payout.objects.none()
    return Payout.objects.filter(status=Payout.Status.FAILED).select_related("seller")


def sellers_in_debt(*, user: Any) -> list[tuple[Seller, str, int]]:
    """Staff: (seller, currency, balance) for every seller whose ledger balance is below zero in
    one of the marketplace's currencies: what a lost dispute or a late reversal left the seller
    owing, which Stripe recovers from their next sales or their bank."""
    from django.conf import settings
    from django.db.models import Q

    if not is_staff(user):
        return []
    currencies = list(settings.MARKETPLACE_CURRENCIES)
    owing = Q()
    for currency in currencies:
        owing |= Q(**{f"ledger__{currency}__lt": 0})
    rows = SellerBalance.objects.filter(owing).select_related("seller")[:100] if currencies else []
    return [
        (row.seller, currency, row.ledger_total(currency))
        for row in rows
        for currency in currencies
        if row.ledger_total(currency) < 0
    ]


def refundable_sales(*, user: Any) -> QuerySet[LedgerTransaction]:
    """Sales (ledger charges) the user may refund: a seller's own; everyone's for staff."""
    qs = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CHARGE).select_related(
        "seller"
    )
    if not is_staff(user):
        seller = seller_of(user)
        qs = qs.filter(seller=seller) if seller is not None else qs.none()
    result: QuerySet[LedgerTransaction] = qs.order_by("-occurred_at", "-id")
    return result


def refundable_sales_listed(*, user: Any) -> QuerySet[LedgerTransaction]:
    """``refundable_sales`` for the refunds list: each with the order's item (``title``; a
    subscription invoice's listing, with ``invoice_id``), the
    amount captured (``captured``) and refunded so far (``refunded``: the ledger's refunds or the
    refunds Stripe accepted whose events are still on their way, whichever is more)."""
    from buyers.models import Order

    K = LedgerTransaction.Kind
    in_ledger = _sum_of(
        LedgerEntry.objects.filter(
            transaction__kind=K.REFUND,
            transaction__charge_id=OuterRef("stripe_object_id"),
            account=BUYER_REFUNDS,
        )
    )
    accepted = Subquery(
        RefundRequest.objects.filter(
            charge_id=OuterRef("stripe_object_id"), status=RefundRequest.Status.SUCCEEDED
        )
        .order_by()
        .values("charge_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1],
        output_field=models.BigIntegerField(),
    )
    from subscriptions.models import SubscriptionInvoice

    invoice = SubscriptionInvoice.objects.filter(charge_id=OuterRef("stripe_object_id")).order_by()
    return refundable_sales(user=user).annotate(
        title=Coalesce(
            Subquery(Order.objects.filter(pk=OuterRef("order_id")).values("title")[:1]),
            Subquery(invoice.values("subscription__plan__listing__title")[:1]),
        ),
        # A subscription invoice's charge: refunded through the invoice's refund page.
        invoice_id=Subquery(invoice.values("pk")[:1]),
        captured=Coalesce(
            _sum_of(
                LedgerEntry.objects.filter(transaction=OuterRef("pk"), account=PLATFORM_BALANCE)
            ),
            Value(0),
        ),
        refunded=Greatest(Coalesce(in_ledger, Value(0)), Coalesce(accepted, Value(0))),
        currency=Subquery(
            LedgerEntry.objects.filter(transaction=OuterRef("pk"), account=PLATFORM_BALANCE)
            .order_by()
            .values("currency")[:1]
        ),
    )


def problem_reports_for(*, user: Any) -> Any:
    """The buyers' problem reports staff (all) or a seller (on their sales) answer, the ones
    waiting for an answer first, then the newest."""
    from django.db.models import Case, IntegerField, Value, When

    from buyers.aftersale import selectors as aftersale

    if is_staff(user):
        qs = aftersale.problems_for_staff(user=user)
    else:
        qs = aftersale.seller_problems(seller=seller_of(user))
    waiting = Case(
        When(status__in=["escalated", "open"], then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return qs.order_by(waiting, "-created_at")


def refund_requests_for(*, user: Any) -> QuerySet[RefundRequest]:
    qs = RefundRequest.objects.select_related("requested_by", "seller")
    if not is_staff(user):
        seller = seller_of(user)
        qs = qs.filter(seller=seller) if seller is not None else qs.none()
    return qs


DASHBOARD_SERIES = {
    # name: (ledger kind, account, sign): each a daily sum of those entries.
    "Gross volume": ("charge", "platform:stripe_balance", 1),
    "Platform fees (net)": (None, "platform:fees", 1),
    "Refunds": ("refund", "buyer:refunds", 1),
    "Disputes (net)": (None, "buyer:disputes", 1),
    "Stripe fees": (None, "stripe:fees", 1),
}


def dashboard_daily(*, user: Any, days: int = 30) -> dict[str, dict[str, dict[str, int]]]:
    """{currency: {series: {"YYYY-MM-DD": minor units}}} for the last ``days`` days (staff).

    One aggregate query over the period's entries."""
    if not is_staff(user):
        return {}
    since = timezone.now() - timedelta(days=days)
    rows = (
        LedgerEntry.objects.filter(
            transaction__occurred_at__gte=since,
            account__in=[account for _, account, _ in DASHBOARD_SERIES.values()],
        )
        .annotate(day=TruncDate("transaction__occurred_at"))
        .values("day", "account", "currency", "transaction__kind")
        .annotate(total=Sum("amount"))
    )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        for name, (kind, account, sign) in DASHBOARD_SERIES.items():
            if row["account"] != account or (kind and row["transaction__kind"] != kind):
                continue
            series = out.setdefault(row["currency"], {n: {} for n in DASHBOARD_SERIES})[name]
            key = row["day"].isoformat()
            series[key] = series.get(key, 0) + sign * int(row["total"])
    return out


def reconciliation_runs(*, user: Any) -> QuerySet[ReconciliationRun]:
    """Reconciliation runs, newest first (staff only)."""
    if not is_staff(user):
        return ReconciliationRun.objects.none()
    return ReconciliationRun.objects.all()


def failed_events_count(*, user: Any) -> int:
    """How many Stripe events failed or wait as dead letters (staff; 0 for anyone else)."""
    from marketplace.events.models import StripeEvent

    if not is_staff(user):
        return 0
    return StripeEvent.objects.filter(
        status__in=[StripeEvent.Status.FAILED, StripeEvent.Status.DEAD]
    ).count()


def fee_rule_for_staff(*, user: Any, rule_id: int) -> FeeRule | None:
    """One fee rule version, or None (unknown, or ``user`` is not staff)."""
    if not is_staff(user):
        return None
    rule: FeeRule | None = FeeRule.objects.filter(pk=rule_id).first()
    return rule


def invoice_to_refund(*, user: Any, invoice_id: int) -> Any:
    """A paid or refunded subscription invoice ``user`` may refund, or None: staff any invoice;
    a seller their own subscribers' invoices (another seller's invoice, or anyone else: None)."""
    from subscriptions.models import SubscriptionInvoice

    qs = SubscriptionInvoice.objects.select_related(
        "subscription__seller__user", "subscription__buyer", "subscription__plan__listing"
    ).filter(pk=invoice_id)
    if not is_staff(user):
        seller = seller_of(user)
        if seller is None:
            return None
        qs = qs.filter(subscription__seller=seller)
    return qs.first()


def orders_of_separate_charge(*, user: Any, charge_id: str) -> list[Any]:
    """Staff: the sellers' orders paid by one several-seller charge (each refunded on its own,
    ``order_for_staff_refund``); nothing for anyone else."""
    from buyers.models import Order, Purchase

    if not is_staff(user) or not charge_id:
        return []
    return list(
        Order.objects.filter(
            charge_id=charge_id, purchase__charge_type=Purchase.ChargeType.SEPARATE
        )
        .select_related("seller")
        .order_by("pk")
    )


def order_for_staff_refund(*, user: Any, order_id: int) -> Any:
    """Staff: one seller's order of a several-seller purchase, with its lines, to refund that
    seller's part; None for anyone else, another kind of order or no such order."""
    from buyers.models import Order, Purchase

    if not is_staff(user):
        return None
    return (
        Order.objects.filter(pk=order_id, purchase__charge_type=Purchase.ChargeType.SEPARATE)
        .select_related("seller__user", "purchase")
        .prefetch_related("lines")
        .first()
    )
