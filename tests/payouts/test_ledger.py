from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from payouts.models import ImmutableRowError, LedgerEntry, LedgerTransaction, SellerBalance
from payouts.services import (
    LedgerError,
    Posting,
    ledger_record,
    movement_postings,
    pro_rata_part,
)
from tests.payouts.factories import SellerFactory

pytestmark = pytest.mark.django_db
K = LedgerTransaction.Kind


def sale(seller, *, order_id=1, amount=2500, fee=280, currency="eur", suffix="1"):
    """Record a destination charge as Stripe moves it: charge, transfer, application fee."""
    ledger_record(
        kind=K.CHARGE,
        stripe_object_id=f"ch_{suffix}",
        order_id=order_id,
        seller=seller,
        postings=movement_postings(kind=K.CHARGE, amount=amount, currency=currency),
    )
    ledger_record(
        kind=K.TRANSFER,
        stripe_object_id=f"tr_{suffix}",
        order_id=order_id,
        seller=seller,
        postings=movement_postings(
            kind=K.TRANSFER, amount=amount, currency=currency, seller_id=seller.pk
        ),
    )
    ledger_record(
        kind=K.APPLICATION_FEE,
        stripe_object_id=f"fee_{suffix}",
        order_id=order_id,
        seller=seller,
        postings=movement_postings(
            kind=K.APPLICATION_FEE, amount=fee, currency=currency, seller_id=seller.pk
        ),
    )


def test_unbalanced_transaction_is_refused_and_nothing_written():
    with pytest.raises(LedgerError, match=r"sum to \+1 EUR"):
        ledger_record(
            kind=K.CHARGE,
            stripe_object_id="ch_x",
            postings=[
                Posting("platform:stripe_balance", 101, "eur"),
                Posting("buyer:payments", -100, "eur"),
            ],
        )
    # Balanced overall but not per currency.
    with pytest.raises(LedgerError, match="unbalanced"):
        ledger_record(
            kind=K.CHARGE,
            stripe_object_id="ch_x",
            postings=[
                Posting("platform:stripe_balance", 100, "eur"),
                Posting("buyer:payments", -100, "usd"),
            ],
        )
    assert not LedgerTransaction.objects.exists() and not LedgerEntry.objects.exists()


def test_unknown_account_kind_and_float_refused():
    with pytest.raises(LedgerError, match="unknown ledger account"):
        ledger_record(kind=K.CHARGE, stripe_object_id="ch_x", postings=[Posting("cash", 0, "eur")])
    with pytest.raises(LedgerError, match="unknown ledger transaction kind"):
        ledger_record(kind="gift", stripe_object_id="x", postings=[])
    with pytest.raises(LedgerError, match="int of minor units"):
        ledger_record(
            kind=K.CHARGE,
            stripe_object_id="ch_x",
            postings=[Posting("buyer:payments", 1.5, "eur"), Posting("platform:fees", -1.5, "eur")],
        )


def test_duplicate_stripe_object_records_nothing_new():
    seller = SellerFactory()
    sale(seller)
    sale(seller)  # the same events delivered again
    assert LedgerTransaction.objects.count() == 3
    assert LedgerEntry.objects.count() == 6
    txn, created = ledger_record(
        kind=K.CHARGE,
        stripe_object_id="ch_1",
        postings=movement_postings(kind=K.CHARGE, amount=1, currency="eur"),
    )
    assert not created and txn.order_id == 1
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 2220} and balance.entry_count == 2


def test_same_id_different_kind_is_a_different_movement():
    seller = SellerFactory()
    for kind in (K.PAYOUT, K.PAYOUT_FAILED):
        ledger_record(
            kind=kind,
            stripe_object_id="po_1",
            postings=movement_postings(kind=kind, amount=500, currency="eur", seller_id=seller.pk),
        )
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 0} and balance.paid_out == {"eur": 0}


def test_seller_balance_aggregates_and_earnings_by_day():
    seller = SellerFactory()
    when = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    ledger_record(
        kind=K.TRANSFER,
        stripe_object_id="tr_a",
        occurred_at=when,
        postings=movement_postings(
            kind=K.TRANSFER, amount=1000, currency="eur", seller_id=seller.pk
        ),
    )
    ledger_record(
        kind=K.PAYOUT,
        stripe_object_id="po_a",
        occurred_at=when,
        postings=movement_postings(kind=K.PAYOUT, amount=400, currency="eur", seller_id=seller.pk),
    )
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 600}
    assert balance.paid_out == {"eur": 400}
    # Payouts are not earnings.
    assert balance.earnings_by_day == {"eur": {"2026-11-20": 1000}}


def test_entries_and_transactions_are_immutable():
    seller = SellerFactory()
    sale(seller)
    entry = LedgerEntry.objects.first()
    entry.amount = 1
    with pytest.raises(ImmutableRowError):
        entry.save()
    with pytest.raises(ImmutableRowError):
        entry.delete()
    with pytest.raises(ImmutableRowError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=5)
    with pytest.raises(ImmutableRowError):
        LedgerEntry.objects.all().delete()
    txn = LedgerTransaction.objects.first()
    with pytest.raises(ImmutableRowError):
        txn.save()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
def test_database_refuses_raw_update_on_postgresql():
    sale(SellerFactory())
    with (
        pytest.raises(DatabaseError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE payouts_ledgerentry SET amount = 0")


def test_ledger_check_passes_on_a_consistent_ledger(capsys):
    seller = SellerFactory()
    sale(seller, order_id=1, suffix="1")
    sale(seller, order_id=2, suffix="2", amount=999, fee=100)
    call_command("ledger_check")
    assert "all invariants hold" in capsys.readouterr().out


def test_ledger_check_finds_a_planted_unbalanced_entry(capsys):
    seller = SellerFactory()
    sale(seller)
    txn = LedgerTransaction.objects.get(kind=K.CHARGE)
    LedgerEntry.objects.create(transaction=txn, account="platform:fees", amount=7, currency="eur")
    with pytest.raises(CommandError, match="violation"):
        call_command("ledger_check")
    out = capsys.readouterr().out
    assert f"transaction {txn.pk} (charge) sums to +7 EUR" in out


def test_ledger_check_finds_bad_split_refund_negative_balance_and_stale_aggregate(capsys):
    seller = SellerFactory()
    sale(seller, order_id=5, amount=1000, fee=100)
    # A transfer recorded with the wrong amount breaks amount = fee + seller's net.
    txn = LedgerTransaction.objects.get(kind=K.TRANSFER)
    LedgerEntry.objects.create(
        transaction=txn,
        account=f"seller:{seller.pk}:balance",
        amount=50,
        currency="eur",
        seller=seller,
    )
    LedgerEntry.objects.create(
        transaction=txn, account="platform:stripe_balance", amount=-50, currency="eur"
    )
    # A refund above the captured amount.
    ledger_record(
        kind=K.REFUND,
        stripe_object_id="re_big",
        order_id=5,
        postings=movement_postings(kind=K.REFUND, amount=1500, currency="eur"),
    )
    # Another seller paid out more than they have, with no dispute.
    other = SellerFactory()
    ledger_record(
        kind=K.PAYOUT,
        stripe_object_id="po_neg",
        postings=movement_postings(kind=K.PAYOUT, amount=10, currency="eur", seller_id=other.pk),
    )
    with pytest.raises(CommandError):
        call_command("ledger_check")
    out = capsys.readouterr().out
    assert "order 5: amount 1000 != application fee 100 + seller's net 950" in out
    assert "order 5: refunded 1500 > captured 1000" in out
    assert f"seller {other.pk}: balance -10 EUR is negative without a dispute" in out
    assert f"seller {seller.pk}: pre-aggregated balance 900 EUR != entries' sum 950" in out


def test_negative_balance_allowed_after_dispute(capsys):
    seller = SellerFactory()
    ledger_record(
        kind=K.DISPUTE_FUNDS_WITHDRAWN,
        stripe_object_id="du_1",
        seller=seller,
        postings=movement_postings(kind=K.DISPUTE_FUNDS_WITHDRAWN, amount=10, currency="eur"),
    )
    ledger_record(
        kind=K.TRANSFER_REVERSAL,
        stripe_object_id="trr_1",
        seller=seller,
        postings=movement_postings(
            kind=K.TRANSFER_REVERSAL, amount=10, currency="eur", seller_id=seller.pk
        ),
    )
    call_command("ledger_check")
    assert "all invariants hold" in capsys.readouterr().out


# --- pro rata ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "before", "now", "captured", "part"),
    [
        (280, 0, 2500, 2500, 280),  # full refund gives back the whole share
        (280, 0, 1250, 2500, 140),  # half
        (1, 0, 1, 2, 1),  # exactly half a cent rounds up
        (1, 1, 1, 2, 0),  # ...so the second half gives back nothing: total stays 1
        (100, 0, 1, 3, 33),
        (100, 1, 1, 3, 34),  # 66.67 -> 67 cumulative
        (100, 2, 1, 3, 33),  # 100 cumulative: exactly the share
        (0, 0, 500, 1000, 0),
        (2500, 0, 0, 2500, 0),  # a zero refund gives back nothing
    ],
)
def test_pro_rata_edge_cases(share, before, now, captured, part):
    assert (
        pro_rata_part(share=share, refunded_before=before, refunded_now=now, captured=captured)
        == part
    )


def test_pro_rata_refuses_over_refund():
    with pytest.raises(ValueError, match="at most the captured"):
        pro_rata_part(share=10, refunded_before=90, refunded_now=20, captured=100)
    with pytest.raises(ValueError):
        pro_rata_part(share=10, refunded_before=0, refunded_now=1, captured=0)


@hsettings(max_examples=300, deadline=None)
@given(
    captured=st.integers(1, 10**7),
    share_ratio=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 10**4), min_size=1, max_size=8),
)
def test_partial_refunds_give_back_exactly_the_share(captured, share_ratio, cuts):
    share = captured * share_ratio // 10_000
    # Split the captured amount into refunds proportional to the cuts, the last taking the rest.
    total_cut = sum(cuts)
    parts = [captured * c // total_cut for c in cuts[:-1]]
    parts.append(captured - sum(parts))
    given_back, before = 0, 0
    for refund in parts:
        piece = pro_rata_part(
            share=share, refunded_before=before, refunded_now=refund, captured=captured
        )
        exact = share * refund / captured
        assert piece >= 0 and abs(piece - exact) <= 1
        given_back += piece
        before += refund
    assert given_back == share
