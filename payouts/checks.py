"""The invariants of design section 4, asserted on the live database (``manage.py ledger_check``).

Each check yields one human-readable line per violation; nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from django.db import connection
from django.db.models import Count, F, Q, Sum

from payouts.models import LedgerEntry, LedgerTransaction, Payout, SellerBalance
from payouts.services.ledger import BUYER_REFUNDS, PLATFORM_BALANCE, PLATFORM_FEES
from sellers.models import Listing

K = LedgerTransaction.Kind


def unbalanced_transactions() -> Iterator[str]:
    """1. Every ledger transaction balances to zero per currency."""
    rows = (
        LedgerEntry.objects.values("transaction_id", "transaction__kind", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")
    )
    for row in rows:
        yield (
            f"unbalanced: transaction {row['transaction_id']} ({row['transaction__kind']}) "
            f"sums to {row['total']:+d} {row['currency'].upper()}"
        )


def immutability_guard() -> Iterator[str]:
    """2. Entries are immutable: on PostgreSQL the refusing triggers must be in place."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname IN "
            "('payouts_ledgerentry_immutable', 'payouts_ledgertransaction_immutable') "
            "AND tgenabled <> 'D'"
        )
        (count,) = cursor.fetchone() or (0,)
    if count != 2:
        yield "immutability: the ledger's UPDATE/DELETE-refusing triggers are missing or disabled"


def order_splits() -> Iterator[str]:
    """3. For every paid order: amount = application fee + seller's net; 0 <= fee <= amount.
    4. Refunded <= captured."""
    per_order: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    currencies: dict[int, set[str]] = defaultdict(set)
    rows = (
        LedgerEntry.objects.filter(transaction__order_id__isnull=False)
        .values("transaction__order_id", "transaction__kind", "account", "currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        order_id, kind, account = (
            row["transaction__order_id"],
            row["transaction__kind"],
            row["account"],
        )
        bucket = per_order[order_id]
        currencies[order_id].add(row["currency"])
        total = int(row["total"])
        if kind == K.CHARGE and account == PLATFORM_BALANCE:
            bucket["captured"] += total
        elif kind == K.APPLICATION_FEE and account == PLATFORM_FEES:
            bucket["fee"] += total
        elif (
            kind in (K.TRANSFER, K.APPLICATION_FEE)
            and account.endswith(":balance")
            and account.startswith("seller:")
        ):
            bucket["seller_net"] += total
        elif kind in (K.TRANSFER,) and account == PLATFORM_BALANCE:
            bucket["transferred"] -= total
        elif kind == K.REFUND and account == BUYER_REFUNDS:
            bucket["refunded"] += total
    for order_id, bucket in sorted(per_order.items()):
        if len(currencies[order_id]) > 1:
            yield f"order {order_id}: ledger entries in several currencies {sorted(currencies[order_id])}"
            continue
        captured, fee = bucket["captured"], bucket["fee"]
        if captured and (bucket["transferred"] or fee):
            if captured != fee + bucket["seller_net"]:
                yield (
                    f"order {order_id}: amount {captured} != application fee {fee} + "
                    f"seller's net {bucket['seller_net']}"
                )
            if not 0 <= fee <= captured:
                yield f"order {order_id}: application fee {fee} outside [0, amount {captured}]"
        if bucket["refunded"] > captured:
            yield f"order {order_id}: refunded {bucket['refunded']} > captured {captured}"


def orders_against_ledger() -> Iterator[str]:
    """3 and 7 with buyers' orders: a paid order's charge is in the ledger (an hour after payment,
    time for its events), for its amount, with the application fee stored on the order; the
    order's refunded amount is what the ledger refunded."""
    from datetime import timedelta

    from django.utils import timezone

    from buyers.models import Order

    paid = [
        Order.Status.PAID,
        Order.Status.FULFILLED,
        Order.Status.REFUNDED,
        Order.Status.DISPUTE_LOST,
    ]
    captured: dict[int, int] = {}
    fees: dict[int, int] = {}
    refunded: dict[int, int] = defaultdict(int)
    rows = (
        LedgerEntry.objects.filter(
            transaction__order_id__isnull=False,
            transaction__kind__in=[K.CHARGE, K.APPLICATION_FEE, K.REFUND],
            account__in=[PLATFORM_BALANCE, PLATFORM_FEES, BUYER_REFUNDS],
        )
        .values("transaction__order_id", "transaction__kind", "account")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        order_id, kind, account = (
            row["transaction__order_id"],
            row["transaction__kind"],
            row["account"],
        )
        if kind == K.CHARGE and account == PLATFORM_BALANCE:
            captured[order_id] = int(row["total"])
        elif kind == K.APPLICATION_FEE and account == PLATFORM_FEES:
            fees[order_id] = int(row["total"])
        elif kind == K.REFUND and account == BUYER_REFUNDS:
            refunded[order_id] += int(row["total"])
    settled = timezone.now() - timedelta(hours=1)
    for order in (
        Order.objects.filter(status__in=paid, charge_id__gt="")
        .only("id", "amount", "application_fee_amount", "refunded_amount", "paid_at", "status")
        .iterator(chunk_size=2000)
    ):
        if order.pk not in captured:
            if order.paid_at is not None and order.paid_at < settled:
                yield f"order {order.pk}: paid at Stripe but its charge is not in the ledger"
            continue
        if captured[order.pk] != order.amount:
            yield f"order {order.pk}: amount {order.amount} but the ledger captured {captured[order.pk]}"
        if order.pk in fees and fees[order.pk] != order.application_fee_amount:
            yield (
                f"order {order.pk}: application fee {order.application_fee_amount} stored on the "
                f"order but {fees[order.pk]} in the ledger"
            )
        if order.refunded_amount < refunded.get(order.pk, 0):
            yield (
                f"order {order.pk}: the ledger refunded {refunded[order.pk]} but the order says "
                f"{order.refunded_amount}"
            )


def seller_balances() -> Iterator[str]:
    """5. A seller's balance is never negative unless a dispute says so, and the pre-aggregated
    balance the seller page shows equals the sum of the seller's entries.

    Refunds keep to it by refusing to take back more than the seller holds (or being paid by the
    platform, ``refund_request_create``); a negative balance without a dispute means money left
    the seller some other way (two refunds of different sales at the same moment, a reversal
    made in Stripe's dashboard) and is for an admin to look at."""
    disputed = set(
        LedgerTransaction.objects.filter(kind=K.DISPUTE_FUNDS_WITHDRAWN, seller__isnull=False)
        .values_list("seller_id", flat=True)
        .distinct()
    )
    # A dispute on a several-seller purchase's charge is the platform's (its funds leave the
    # platform's balance); each seller's part is recovered by reversing their transfer.
    platform_disputed = LedgerTransaction.objects.filter(
        kind=K.DISPUTE_FUNDS_WITHDRAWN, seller__isnull=True
    ).values("charge_id")
    disputed |= set(
        LedgerTransaction.objects.filter(
            kind=K.TRANSFER_REVERSAL, seller__isnull=False, charge_id__in=platform_disputed
        )
        .values_list("seller_id", flat=True)
        .distinct()
    )
    sums: dict[tuple[int, str, str], int] = {}
    rows = (
        LedgerEntry.objects.filter(seller__isnull=False)
        .values("seller_id", "account", "currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        kind = row["account"].rsplit(":", 1)[1]
        sums[(row["seller_id"], kind, row["currency"])] = int(row["total"])
        if kind == "balance" and row["total"] < 0 and row["seller_id"] not in disputed:
            yield (
                f"seller {row['seller_id']}: balance {row['total']} {row['currency'].upper()} "
                "is negative without a dispute"
            )
    for balance in SellerBalance.objects.all():
        for kind, aggregate in (("balance", balance.ledger), ("payouts", balance.paid_out)):
            keys = set(aggregate) | {
                c for (s, k, c) in sums if s == balance.seller_id and k == kind
            }
            for currency in sorted(keys):
                expected = sums.get((balance.seller_id, kind, currency), 0)
                if int(aggregate.get(currency, 0)) != expected:
                    yield (
                        f"seller {balance.seller_id}: pre-aggregated {kind} "
                        f"{aggregate.get(currency, 0)} {currency.upper()} != entries' sum {expected}"
                    )


def unique_stripe_ids() -> Iterator[str]:
    """6. Exactly once: Stripe object ids are unique per kind; payout ids unique."""
    for row in (
        LedgerTransaction.objects.values("kind", "stripe_object_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    ):
        yield f"duplicate: {row['kind']} {row['stripe_object_id']} recorded {row['n']} times"
    for payout_row in Payout.objects.values("stripe_id").annotate(n=Count("id")).filter(n__gt=1):
        yield f"duplicate payout {payout_row['stripe_id']} ({payout_row['n']} rows)"


def stock() -> Iterator[str]:
    """8. Stock never below zero; sold + reserved <= stock ever added."""
    for listing in Listing.objects.filter(
        Q(stock__isnull=False) & Q(stock__lt=F("sold") + F("reserved"))
    ).only("id", "stock", "sold", "reserved"):
        yield (
            f"listing {listing.pk}: sold {listing.sold} + reserved {listing.reserved} "
            f"> stock {listing.stock}"
        )


def invoices_against_ledger() -> Iterator[str]:
    """3 and 7 with subscriptions' paid invoices (payouts/services/invoices.py)."""
    from payouts.services.invoices import invoices_against_ledger as check

    yield from check()


CHECKS = [
    unbalanced_transactions,
    immutability_guard,
    order_splits,
    orders_against_ledger,
    invoices_against_ledger,
    seller_balances,
    unique_stripe_ids,
    stock,
]


def ledger_violations() -> Iterator[str]:
    """Every violation of every check, in order."""
    for check in CHECKS:
        yield from check()
