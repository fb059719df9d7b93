"""Stripe's processing fees recorded in batches (payouts/services/stripe_fees.py): a charge's
fee awaited from its event (no request), then one list of the platform's balance transactions
for up to 100 charges, on the sandbox."""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import stripe_gateway, stripe_traffic
from marketplace.events.models import StripeEvent
from marketplace.events.registry import handlers_replaced
from marketplace.events.services import processing
from payouts.checks import ledger_violations
from payouts.models import AwaitedStripeFee, LedgerTransaction
from payouts.reconciliation import reconcile
from payouts.services import (
    ledger_sync_charge,
    stripe_fee_expect,
    stripe_fees_awaited_count,
    stripe_fees_record,
)
from payouts.services import stripe_fees as stripe_fees_module
from tests.payouts.events import make_event
from tests.payouts.factories import SellerFactory
from tests.payouts.test_reconciliation import window
from tests.sandbox.payhelpers import destination_intent, onboarded_account

K = LedgerTransaction.Kind


@pytest.fixture
def seller(sdk, client):
    account = onboarded_account(sdk, client)
    return SellerFactory(stripe_account_id=account.id)


def sale(sdk, seller, amount: int) -> dict:
    """A real destination charge on the sandbox, as its ``charge.succeeded`` tells it (the
    balance transaction's id only, not its fee)."""
    pi = destination_intent(sdk, seller.stripe_account_id, amount=amount, fee=amount // 10)
    return sdk.v1.charges.retrieve(pi.latest_charge).to_dict()


def expect(charge: dict, seller, order_id: int | None = None) -> None:
    stripe_fee_expect(
        charge_id=charge["id"],
        balance_transaction_id=charge["balance_transaction"],
        currency=charge["currency"],
        created=charge["created"],
        seller_id=seller.pk,
        order_id=order_id,
    )


def sandbox_fee(sdk, charge: dict) -> int:
    return int(sdk.v1.balance_transactions.retrieve(charge["balance_transaction"]).fee)


def fee_legs(txn: LedgerTransaction) -> set[tuple[str, int, str]]:
    return {(e.account, e.amount, e.currency) for e in txn.entries.all()}


@pytest.mark.django_db
def test_fees_of_several_charges_are_recorded_with_one_list_request(sdk, seller):
    charges = [sale(sdk, seller, amount) for amount in (1000, 2000, 3550)]
    for i, charge in enumerate(charges, start=1):
        expect(charge, seller, order_id=i)
    expect(charges[0], seller, order_id=1)  # the same charge's event again: awaited once
    assert stripe_fees_awaited_count() == 3

    with stripe_traffic.recording() as sent:
        assert stripe_fees_record() == 3
    assert sent.endpoints() == ["GET /v1/balance_transactions"]

    for i, charge in enumerate(charges, start=1):
        txn = LedgerTransaction.objects.get(kind=K.STRIPE_FEE, charge_id=charge["id"])
        fee = sandbox_fee(sdk, charge)
        assert fee > 0
        assert txn.stripe_object_id == charge["balance_transaction"]
        assert (txn.seller_id, txn.order_id) == (seller.pk, i)
        assert txn.description == f"stripe_fee of charge {charge['id']}"
        assert fee_legs(txn) == {
            ("platform:stripe_balance", -fee, "eur"),
            ("stripe:fees", fee, "eur"),
        }
    assert stripe_fees_awaited_count() == 0
    assert list(ledger_violations()) == []

    # Nothing left: nothing recorded, no request.
    with stripe_traffic.recording() as sent:
        assert stripe_fees_record() == 0
    assert sent.count == 0
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 10])
def test_one_request_and_three_statements_for_1_or_10_charges(sdk, seller, n):
    charges = [sale(sdk, seller, 1000 + 100 * i) for i in range(n)]
    for charge in charges:
        expect(charge, seller)
    with stripe_traffic.recording() as sent, CaptureQueriesContext(connection) as queries:
        assert stripe_fees_record() == n
    assert sent.endpoints() == ["GET /v1/balance_transactions"]
    # Ours (the in-process sandbox's own statements and the savepoints aside): the awaited rows
    # read and locked, the ledger transactions with their entries (one statement on
    # PostgreSQL, two elsewhere), the rows deleted.
    ours = [
        q["sql"]
        for q in queries.captured_queries
        if "sandbox_" not in q["sql"] and not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    ledger = ["WITH"] if connection.vendor == "postgresql" else ["INSERT", "INSERT"]
    assert [sql.split(" ")[0] for sql in ours] == ["SELECT", *ledger, "DELETE"], ours


@pytest.mark.django_db
def test_a_fee_recorded_by_an_expanded_read_is_not_doubled(sdk, seller):
    charge = sale(sdk, seller, 2500)
    # The success page's read (balance transaction expanded) recorded the charge and its fee ...
    ledger_sync_charge(charge_id=charge["id"])
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).count() == 1
    # ... and the event's handler awaits it too.
    expect(charge, seller)
    with stripe_traffic.recording() as sent:
        assert stripe_fees_record() == 0
    assert sent.count == 0  # the ledger had it: not even read
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).count() == 1
    assert stripe_fees_awaited_count() == 0

    # Recorded here first, then the expanded read: still one.
    other = sale(sdk, seller, 1200)
    expect(other, seller)
    assert stripe_fees_record() == 1
    ledger_sync_charge(charge_id=other["id"])
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE, charge_id=other["id"]).count() == 1
    assert list(ledger_violations()) == []


@pytest.mark.django_db
def test_a_balance_transaction_the_list_misses_is_retrieved_by_id(sdk, seller):
    charge = sale(sdk, seller, 1800)
    # Captured long after the charge was created (a manual capture): its balance transaction is
    # outside the window the list reads.
    stripe_fee_expect(
        charge_id=charge["id"],
        balance_transaction_id=charge["balance_transaction"],
        currency="eur",
        created=charge["created"] - 3 * 86400,
        seller_id=seller.pk,
        order_id=None,
    )
    with stripe_traffic.recording() as sent:
        assert stripe_fees_record() == 1
    assert sent.endpoints() == [
        "GET /v1/balance_transactions",
        "GET /v1/balance_transactions/{id}",
    ]
    txn = LedgerTransaction.objects.get(kind=K.STRIPE_FEE)
    assert txn.stripe_object_id == charge["balance_transaction"]
    assert stripe_fees_awaited_count() == 0


@pytest.mark.django_db
def test_stripe_unreachable_keeps_the_awaited_fees(sdk, seller, monkeypatch, caplog):
    charge = sale(sdk, seller, 2000)
    expect(charge, seller)

    def unreachable(**kwargs):
        raise stripe_gateway.GatewayError("Stripe is not reachable", retryable=True)

    with monkeypatch.context() as patched:
        patched.setattr(stripe_gateway, "balance_transactions_iter", unreachable)
        assert stripe_fees_record() == 0
    assert stripe_fees_awaited_count() == 1
    assert not LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).exists()
    assert "kept for the next run" in caplog.text

    # Stripe back: the periodic task records it.
    from payouts import tasks

    assert tasks.record_stripe_fees() == 1
    assert stripe_fees_awaited_count() == 0


def test_fees_of_zero_or_converted_are_not_recorded(db, fake_stripe):
    seller = SellerFactory()
    fake_stripe.balance_transactions[""] = [
        {"id": "txn_zero", "type": "charge", "fee": 0, "currency": "eur", "created": 1000},
        {"id": "txn_usd", "type": "charge", "fee": 61, "currency": "usd", "created": 1001},
        {"id": "txn_ok", "type": "charge", "fee": 59, "currency": "eur", "created": 1002},
    ]
    for n, (txn, created) in enumerate([("txn_zero", 1000), ("txn_usd", 1001), ("txn_ok", 1002)]):
        stripe_fee_expect(
            charge_id=f"ch_{n}",
            balance_transaction_id=txn,
            currency="eur",
            created=created,
            seller_id=seller.pk,
            order_id=None,
        )
    assert stripe_fees_record() == 1
    assert fake_stripe.count("balance_transactions_iter") == 1
    assert fake_stripe.calls_of("balance_transactions_iter")[0]["type"] == "charge"
    assert fake_stripe.count("balance_transaction_retrieve") == 0
    assert list(
        LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).values_list("stripe_object_id")
    ) == [("txn_ok",)]
    assert stripe_fees_awaited_count() == 0  # all three done


def test_a_py_charge_is_looked_for_among_payments(db, fake_stripe):
    fake_stripe.balance_transactions[""] = [
        {"id": "txn_py", "type": "payment", "fee": 35, "currency": "eur", "created": 5000},
    ]
    stripe_fee_expect(
        charge_id="py_1",
        balance_transaction_id="txn_py",
        currency="eur",
        created=5000,
        seller_id=None,
        order_id=None,
    )
    assert stripe_fees_record() == 1
    assert [c["type"] for c in fake_stripe.calls_of("balance_transactions_iter")] == ["payment"]


def test_fees_far_apart_in_time_are_listed_in_two_small_windows(db, fake_stripe):
    # One awaited since an outage a day ago, two of now: not one list of a whole day.
    fake_stripe.balance_transactions[""] = [
        {"id": "txn_old", "type": "charge", "fee": 40, "currency": "eur", "created": 10_000},
        {"id": "txn_a", "type": "charge", "fee": 41, "currency": "eur", "created": 96_400},
        {"id": "txn_b", "type": "charge", "fee": 42, "currency": "eur", "created": 96_430},
    ]
    for txn in fake_stripe.balance_transactions[""]:
        stripe_fee_expect(
            charge_id=f"ch_{txn['id']}",
            balance_transaction_id=txn["id"],
            currency="eur",
            created=txn["created"],
            seller_id=None,
            order_id=None,
        )
    assert stripe_fees_record() == 3
    windows = [
        (c["created_gte"], c["created_lt"])
        for c in fake_stripe.calls_of("balance_transactions_iter")
    ]
    assert windows == [(10_000 - 60, 10_000 + 61), (96_400 - 60, 96_430 + 61)]
    assert fake_stripe.count("balance_transaction_retrieve") == 0


def test_a_balance_transaction_stripe_does_not_know_is_dropped(db, fake_stripe, caplog):
    stripe_fee_expect(
        charge_id="ch_gone",
        balance_transaction_id="txn_gone",
        currency="eur",
        created=5000,
        seller_id=None,
        order_id=None,
    )
    assert stripe_fees_record() == 0
    assert stripe_fees_awaited_count() == 0
    assert "no balance transaction txn_gone" in caplog.text


# --- The event drain's after-batch hook -------------------------------------------------------


@pytest.fixture
def expecting_handler(seller):
    """``charge.succeeded`` handled as the sale's handler will: the fee awaited from the event."""

    def on_charge(event: StripeEvent) -> None:
        charge = event.data_object
        expect(charge, seller)

    with handlers_replaced({"charge.succeeded": on_charge, "customer.updated": lambda e: None}):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_drain_records_the_fees_its_handlers_awaited(sdk, expecting_handler):
    stripe_fees_module._expected = False
    from sellers.models import Seller

    owner = Seller.objects.get()
    charges = [sale(sdk, owner, amount) for amount in (1500, 2600)]
    for charge in charges:
        make_event("charge.succeeded", charge)
    with stripe_traffic.recording() as sent:
        result = processing.events_drain()
    assert result.processed == 2
    assert sent.endpoints() == ["GET /v1/balance_transactions"]
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).count() == 2
    assert stripe_fees_awaited_count() == 0
    assert StripeEvent.objects.filter(status=StripeEvent.Status.SUCCEEDED).count() == 2


@pytest.mark.celery_worker
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs a Redis broker: set REDIS_URL to run a real Celery worker",
)
@pytest.mark.django_db(transaction=True)
def test_with_a_broker_the_drain_queues_the_fees_and_a_worker_records_them(sdk, expecting_handler):
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app
    from sellers.models import Seller

    stripe_fees_module._expected = False
    charge = sale(sdk, Seller.objects.get(), 2100)
    make_event("charge.succeeded", charge)
    with stripe_traffic.recording() as sent:
        assert processing.events_drain().processed == 1
    # The drain asked Stripe nothing: it queued the fee's recording and went on.
    assert sent.count == 0
    assert StripeEvent.objects.get().status == StripeEvent.Status.SUCCEEDED
    assert stripe_fees_awaited_count() == 1
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 20
        while stripe_fees_awaited_count() and time.monotonic() < deadline:
            time.sleep(0.05)
    txn = LedgerTransaction.objects.get(kind=K.STRIPE_FEE, charge_id=charge["id"])
    fee = sandbox_fee(sdk, charge)
    assert fee > 0
    assert fee_legs(txn) == {("platform:stripe_balance", -fee, "eur"), ("stripe:fees", fee, "eur")}
    assert stripe_fees_awaited_count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_drain_that_awaited_no_fee_makes_no_query_for_fees(expecting_handler):
    stripe_fees_module._expected = False
    make_event("customer.updated", {"id": "cus_1", "object": "customer"})
    with CaptureQueriesContext(connection) as queries, stripe_traffic.recording() as sent:
        assert processing.events_drain().processed == 1
    table = AwaitedStripeFee._meta.db_table
    assert not [q for q in queries.captured_queries if table in q["sql"]]
    assert sent.count == 0


@pytest.mark.django_db(transaction=True)
def test_stripe_unreachable_fails_no_event_and_no_drain(sdk, expecting_handler, monkeypatch):
    stripe_fees_module._expected = False
    from sellers.models import Seller

    charge = sale(sdk, Seller.objects.get(), 1999)
    make_event("charge.succeeded", charge)

    def unreachable(**kwargs):
        raise stripe_gateway.GatewayError("Stripe is not reachable", retryable=True)

    monkeypatch.setattr(stripe_gateway, "balance_transactions_iter", unreachable)
    assert processing.events_drain().processed == 1
    assert StripeEvent.objects.get().status == StripeEvent.Status.SUCCEEDED
    assert stripe_fees_awaited_count() == 1
    assert stripe_fees_module._expected is False  # cleared: the beat task takes the rest


@pytest.mark.django_db(transaction=True)
def test_a_hook_that_raises_is_logged_and_the_drain_goes_on(expecting_handler, caplog):
    from marketplace.events.registry import after_batch_replaced

    def broken() -> None:
        raise RuntimeError("boom")

    make_event("customer.updated", {"id": "cus_1", "object": "customer"})
    with after_batch_replaced([broken]):
        assert processing.events_drain().processed == 1
    assert StripeEvent.objects.get().status == StripeEvent.Status.SUCCEEDED
    assert "after-batch hook" in caplog.text and "boom" in caplog.text


# --- Reconciliation and the beat schedule --------------------------------------------------------


def record_without_fee(sdk, charge: dict, seller) -> None:
    """The sale's charge, transfer and application fee in the ledger, as the sale's handlers
    record them from the signed events: Stripe's processing fee only awaited."""
    from datetime import UTC, datetime

    from payouts.services import ledger_record, movement_postings

    when = datetime.fromtimestamp(charge["created"], tz=UTC)
    fee = sdk.v1.application_fees.retrieve(charge["application_fee"])
    for kind, object_id, amount in [
        (K.CHARGE, charge["id"], charge["amount"]),
        (K.TRANSFER, charge["transfer"], charge["amount"]),
        (K.APPLICATION_FEE, fee.id, fee.amount),
    ]:
        ledger_record(
            kind=kind,
            stripe_object_id=object_id,
            postings=movement_postings(
                kind=kind,
                amount=amount,
                currency="eur",
                seller_id=None if kind == K.CHARGE else seller.pk,
            ),
            seller=seller,
            charge_id=charge["id"],
            occurred_at=when,
        )
    expect(charge, seller)


@pytest.mark.django_db
def test_reconciliation_records_awaited_fees_first(sdk, seller):
    charge = sale(sdk, seller, 2000)
    record_without_fee(sdk, charge, seller)
    start, end = window()
    run = reconcile(start=start, end=end, accounts=[seller.stripe_account_id])
    assert run.status == "clean", run.issues
    assert stripe_fees_awaited_count() == 0
    assert LedgerTransaction.objects.filter(kind=K.STRIPE_FEE).count() == 1


@pytest.mark.django_db
def test_reconciliation_reports_a_fee_still_awaited(sdk, seller, monkeypatch):
    charge = sale(sdk, seller, 2000)
    record_without_fee(sdk, charge, seller)
    # The fee cannot be read before the run (the list answers, then Stripe fails the read).
    AwaitedStripeFee.objects.update(created=charge["created"] - 3 * 86400)

    def unreachable(**kwargs):
        raise stripe_gateway.GatewayError("Stripe is not reachable", retryable=True)

    monkeypatch.setattr(stripe_gateway, "balance_transaction_retrieve", unreachable)
    start, end = window()
    run = reconcile(start=start, end=end, accounts=[seller.stripe_account_id])
    assert run.status == "mismatches"
    assert run.missing_in_ledger == 1
    [line] = run.issues
    assert charge["balance_transaction"] in line
    assert "has no ledger stripe_fee transaction (awaited" in line
    assert stripe_fees_awaited_count() == 1


def test_the_periodic_task_is_scheduled(settings):
    from payouts import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["payouts-record-stripe-fees"]
    assert entry["task"] == tasks.record_stripe_fees.name == "payouts.record_stripe_fees"
    assert float(entry["schedule"]) <= 600


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_take_the_same_awaited_fees(fake_stripe):
    import threading

    from django.db import connections, transaction

    fake_stripe.balance_transactions[""] = [
        {"id": "txn_1", "type": "charge", "fee": 40, "currency": "eur", "created": 1_000},
    ]
    stripe_fee_expect(
        charge_id="ch_1",
        balance_transaction_id="txn_1",
        currency="eur",
        created=1_000,
        seller_id=None,
        order_id=None,
    )
    taken, release = threading.Event(), threading.Event()

    def other_worker() -> None:  # holds the row as a worker in the middle of its run would
        try:
            with transaction.atomic():
                list(AwaitedStripeFee.objects.select_for_update())
                taken.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert taken.wait(timeout=10)
        assert stripe_fees_record() == 0  # skipped, not waited for, not recorded twice
        assert fake_stripe.count("balance_transactions_iter") == 0
    finally:
        release.set()
        thread.join(timeout=10)
    assert stripe_fees_record() == 1
    assert stripe_fees_awaited_count() == 0


def test_staff_see_the_awaited_fees_in_the_admin(client, staff):
    from django.urls import reverse

    from tests.factories import log_in_with_totp

    stripe_fee_expect(
        charge_id="ch_late",
        balance_transaction_id="txn_late",
        currency="eur",
        created=1_000,
        seller_id=None,
        order_id=None,
    )
    log_in_with_totp(client, staff)
    page = client.get(reverse("admin:payouts_awaitedstripefee_changelist"))
    assert page.status_code == 200
    assert "txn_late" in page.content.decode() and "ch_late" in page.content.decode()
