"""The ledger's few-statement SQL (PostgreSQL) and its portable path (SQLite, ``make demo``)
write the same rows: entries, SellerBalance sums per currency and per day, payouts."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payouts.models import LedgerEntry, LedgerTransaction, Payout, SellerBalance
from payouts.services import EARNINGS_DAYS_KEPT, ledger_record, movement_postings
from payouts.services import balances as balances_service
from payouts.services import ledger as ledger_service
from payouts.services.balances import payout_sync_from
from payouts.services.ledger import LedgerMovement, ledger_record_many
from tests.payouts.factories import SellerFactory

pytestmark = pytest.mark.django_db
K = LedgerTransaction.Kind
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the SQL path runs on PostgreSQL only"
)


@pytest.fixture(params=["sql", "portable"])
def path(request, monkeypatch):
    """Each test once per path (on SQLite both are the portable one)."""
    if request.param == "portable":
        monkeypatch.setattr(ledger_service, "upsert_sql", lambda connection: False)
        monkeypatch.setattr(balances_service, "upsert_sql", lambda connection: False)
    return request.param


def move(kind, object_id, *, seller, amount, currency="eur", day=None):
    return LedgerMovement(
        kind=kind,
        stripe_object_id=object_id,
        seller=seller,
        occurred_at=day,
        postings=movement_postings(
            kind=kind, amount=amount, currency=currency, seller_id=seller.pk
        ),
    )


def record_history(a, b):
    """Movements of two sellers over several currencies and days, some batched together, one
    listed twice, one replayed, one older than the days kept."""
    today = timezone.now().astimezone(UTC).replace(hour=12)
    d1, d2 = today - timedelta(days=3), today - timedelta(days=1)
    old = today - timedelta(days=EARNINGS_DAYS_KEPT + 5)
    assert ledger_record_many(
        [
            move(K.TRANSFER, "tr_1", seller=a, amount=2500, day=d1),
            move(K.APPLICATION_FEE, "fee_1", seller=a, amount=280, day=d1),
            move(K.TRANSFER, "tr_2", seller=b, amount=1000, currency="usd", day=d1),
            move(K.TRANSFER, "tr_1", seller=a, amount=2500, day=d1),  # listed twice: once
            move(K.TRANSFER, "tr_old", seller=a, amount=7, currency="gbp", day=old),
        ]
    ) == [True, True, True, False, True]
    ledger_record(
        kind=K.TRANSFER,
        stripe_object_id="tr_3",
        seller=a,
        occurred_at=d2,
        postings=movement_postings(kind=K.TRANSFER, amount=900, currency="usd", seller_id=a.pk),
    )
    assert ledger_record_many(
        [
            move(K.TRANSFER_REVERSAL, "trr_1", seller=a, amount=500, day=d2),
            move(K.PAYOUT, "po_1", seller=a, amount=1000, day=d2),
            move(K.TRANSFER, "tr_2", seller=b, amount=1000, currency="usd", day=d1),  # replay
            move(K.TRANSFER, "tr_4", seller=b, amount=300, currency="usd", day=d2),
        ]
    ) == [True, True, False, True]
    return d1.date().isoformat(), d2.date().isoformat()


def test_sums_per_currency_and_day_and_ledger_check_agrees(path, capsys):
    a, b = SellerFactory(), SellerFactory()
    d1, d2 = record_history(a, b)
    balance_a = SellerBalance.objects.get(seller=a)
    assert balance_a.ledger == {"eur": 2500 - 280 - 500 - 1000, "usd": 900, "gbp": 7}
    assert balance_a.paid_out == {"eur": 1000}
    # Payouts are not earnings; a day older than those kept is dropped, its currency kept.
    assert balance_a.earnings_by_day == {
        "eur": {d1: 2500 - 280, d2: -500},
        "usd": {d2: 900},
        "gbp": {},
    }
    assert balance_a.entry_count == 7  # the payout moves money between two of its accounts
    balance_b = SellerBalance.objects.get(seller=b)
    assert balance_b.ledger == {"usd": 1300} and balance_b.paid_out == {}
    assert balance_b.earnings_by_day == {"usd": {d1: 1000, d2: 300}}
    assert balance_b.entry_count == 2
    assert LedgerTransaction.objects.filter(stripe_object_id="tr_1").count() == 1
    assert LedgerEntry.objects.filter(transaction__stripe_object_id="tr_1").count() == 2
    call_command("ledger_check")
    assert "all invariants hold" in capsys.readouterr().out


def test_many_records_keep_ledger_check_in_agreement(path, capsys):
    sellers = [SellerFactory() for _ in range(3)]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(40):
        seller = sellers[i % 3]
        currency = ("eur", "usd", "gbp")[i % 3 if i % 2 else 0]
        ledger_record_many(
            [
                move(
                    K.TRANSFER,
                    f"tr_{i}",
                    seller=seller,
                    amount=1000 + i,
                    currency=currency,
                    day=base + timedelta(days=i % 5),
                ),
                move(
                    K.APPLICATION_FEE,
                    f"fee_{i}",
                    seller=seller,
                    amount=100,
                    currency=currency,
                    day=base + timedelta(days=i % 5),
                ),
                # The previous transfer again (the first time, this one's): recorded already.
                move(K.TRANSFER, f"tr_{max(i - 1, 0)}", seller=seller, amount=1, day=base),
            ]
        )
    call_command("ledger_check")
    assert "all invariants hold" in capsys.readouterr().out
    total = sum(sum(SellerBalance.objects.get(seller=s).ledger.values()) for s in sellers)
    assert total == sum(1000 + i - 100 for i in range(40))


@on_postgresql
def test_two_statements_whatever_the_number_of_movements_and_sellers():
    a, b = SellerFactory(), SellerFactory()
    movements = [
        move(K.TRANSFER, "tr_1", seller=a, amount=2500),
        move(K.APPLICATION_FEE, "fee_1", seller=a, amount=280),
        move(K.TRANSFER, "tr_2", seller=b, amount=1000, currency="usd"),
    ]
    with CaptureQueriesContext(connection) as queries:
        assert ledger_record_many(movements) == [True, True, True]
    assert len(queries) == 2  # transactions + entries, then both sellers' balances
    with CaptureQueriesContext(connection) as queries:
        assert ledger_record_many(movements) == [False, False, False]
    assert len(queries) == 1  # all recorded already: nothing to add to the balances


@on_postgresql  # SQLite's in-memory test database takes one writer at a time
@pytest.mark.django_db(transaction=True)
def test_balance_row_created_by_two_writers_at_once(path):
    """Two transactions record the first movements of a seller without a balance row: the
    second waits for the first's row and adds to it; neither fails, nothing is lost."""
    seller = SellerFactory()
    first_wrote, errors = threading.Event(), []

    def writer(object_id, amount, hold):
        try:
            with transaction.atomic():
                ledger_record_many([move(K.TRANSFER, object_id, seller=seller, amount=amount)])
                if hold:
                    first_wrote.set()
                    time.sleep(0.5)  # the other writer reaches the same row meanwhile
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            first_wrote.set()
            connections.close_all()

    first = threading.Thread(target=writer, args=("tr_a", 1000, True))
    first.start()
    first_wrote.wait(10)
    second = threading.Thread(target=writer, args=("tr_b", 250, False))
    second.start()
    first.join(20)
    second.join(20)
    assert errors == []
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 1250} and balance.entry_count == 2


def payout_data(status="pending", **extra):
    return {
        "id": "po_sql",
        "object": "payout",
        "amount": 1500,
        "currency": "eur",
        "status": status,
        "arrival_date": int(time.time()) + 86400,
        "created": int(time.time()),
        **extra,
    }


def test_payout_sync_reports_the_status_before_and_moves_forward_only(path):
    seller = SellerFactory()
    payout, prior = payout_sync_from(seller=seller, data=payout_data())
    assert prior is None and payout.status == "pending" and payout.seller == seller
    payout, prior = payout_sync_from(seller=seller, data=payout_data("paid"))
    assert prior == "pending" and payout.status == "paid"
    payout, prior = payout_sync_from(seller=seller, data=payout_data("in_transit"))  # stale
    assert prior == "paid" and payout.status == "paid"
    row = Payout.objects.get(stripe_id="po_sql")
    assert (row.status, row.amount, row.currency, row.seller_id) == ("paid", 1500, "eur", seller.pk)
    assert SellerBalance.objects.get(seller=seller).paid_out == {"eur": 1500}


def test_a_failed_payout_returns_the_money_once(path):
    seller = SellerFactory()
    payout_sync_from(seller=seller, data=payout_data())
    for _ in range(2):
        payout, prior = payout_sync_from(
            seller=seller,
            data=payout_data("failed", failure_code="account_closed", failure_message="closed"),
        )
    assert prior == "failed" and payout.failure_code == "account_closed"
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 0} and balance.paid_out == {"eur": 0}
    assert LedgerTransaction.objects.filter(kind=K.PAYOUT_FAILED).count() == 1


@on_postgresql
def test_a_new_payout_costs_three_statements_and_a_later_state_three():
    seller = SellerFactory()
    with CaptureQueriesContext(connection) as queries:
        payout_sync_from(seller=seller, data=payout_data())
    assert len(queries) == 3  # insert-or-lock, the ledger, the balance
    with CaptureQueriesContext(connection) as queries:
        payout_sync_from(seller=seller, data=payout_data("paid"))
    assert len(queries) == 3  # insert-or-lock, the status, the ledger (recorded already)
