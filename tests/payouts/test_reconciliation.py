from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketplace import stripe_gateway
from payouts.models import LedgerTransaction, ReconciliationRun, ReconciliationSeen
from payouts.reconciliation import reconcile
from payouts.services import ledger_record, movement_postings
from sandbox import testing
from tests.factories import log_in_with_totp
from tests.payouts.factories import SellerFactory
from tests.payouts.test_sandbox_money import feed_events
from tests.sandbox.payhelpers import destination_intent, onboarded_account

pytestmark = pytest.mark.django_db


def record_payout(seller, payout_id, occurred_at):
    """A 0.05 EUR payout of the seller in the ledger only (Stripe never made it)."""
    ledger_record(
        kind=LedgerTransaction.Kind.PAYOUT,
        stripe_object_id=payout_id,
        seller=seller,
        postings=movement_postings(
            kind=LedgerTransaction.Kind.PAYOUT, amount=5, currency="eur", seller_id=seller.pk
        ),
        occurred_at=occurred_at,
    )


def window():
    now = datetime.fromtimestamp(testing.now(), tz=UTC)
    return now - timedelta(days=1), now + timedelta(days=1)


def test_reconciliation_with_the_sandbox_finds_both_kinds_of_gap(sdk, client):
    account = onboarded_account(sdk, client)
    seller = SellerFactory(stripe_account_id=account.id)
    pi = destination_intent(sdk, account.id, amount=2000, fee=200)
    stripe_gateway.refund_create(
        charge_id=pi.latest_charge, amount=500, order_id=1, reason="r", idempotency_key="rk-1"
    )
    feed_events(set(), random.Random(1))
    start, end = window()
    clean = reconcile(start=start, end=end)
    assert clean.status == "clean", clean.issues
    assert clean.stripe_transactions >= 6 and clean.missing_in_ledger == 0
    # Stripe's processing fee is in the ledger, paid from the platform's balance.
    charge = sdk.v1.charges.retrieve(pi.latest_charge, {"expand": ["balance_transaction"]})
    assert charge.balance_transaction.fee > 0
    fee_txn = LedgerTransaction.objects.get(kind="stripe_fee")
    assert fee_txn.stripe_object_id == charge.balance_transaction.id
    assert {(e.account, e.amount) for e in fee_txn.entries.all()} == {
        ("platform:stripe_balance", -charge.balance_transaction.fee),
        ("stripe:fees", charge.balance_transaction.fee),
    }

    # A movement Stripe made that never reached the ledger (a lost event) ...
    destination_intent(sdk, account.id, amount=700, fee=70)
    # ... and a ledger entry Stripe never made.
    ledger_record(
        kind=LedgerTransaction.Kind.TRANSFER,
        stripe_object_id="tr_phantom",
        seller=seller,
        postings=movement_postings(
            kind=LedgerTransaction.Kind.TRANSFER, amount=5, currency="eur", seller_id=seller.pk
        ),
        occurred_at=start + timedelta(hours=1),
    )
    run = reconcile(start=start, end=end)
    assert run.status == "mismatches"
    # charge, Stripe's processing fee, transfer, application fee of the new sale
    assert run.missing_in_ledger == 4
    assert run.missing_in_stripe == 1
    text = "\n".join(run.issues)
    assert "tr_phantom" in text and "has no ledger charge transaction" in text
    assert not ReconciliationSeen.objects.exists()  # scratch rows cleaned up


def test_reconcile_command_exit_codes(sdk, client, capsys):
    day = datetime.fromtimestamp(testing.now(), tz=UTC).date().isoformat()
    call_command("reconcile", "--from", day, "--to", day)
    assert "reconciled:" in capsys.readouterr().out
    seller = SellerFactory()
    record_payout(seller, "po_ghost", datetime.fromisoformat(day + "T12:00:00+00:00"))
    with pytest.raises(CommandError, match="1 ledger entries without Stripe movement"):
        call_command("reconcile", "--from", day)
    out = capsys.readouterr().out
    assert "po_ghost" in out
    # The factory's seller has no account on the sandbox: reported, the rest still checked.
    assert f"could not read the balance transactions of {seller.stripe_account_id}" in out
    with pytest.raises(CommandError, match="not a date"):
        call_command("reconcile", "--from", "yesterday")


def test_failure_to_reach_stripe_is_kept_on_the_run(fake_stripe):
    fake_stripe.fail["balance_transactions_iter"] = stripe_gateway.GatewayError(
        "Stripe is not reachable"
    )
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    run = reconcile(start=start, end=end, accounts=[])
    assert run.status == ReconciliationRun.Status.FAILED and "not reachable" in run.error


def test_staff_see_the_report_others_get_404(client, staff, fake_stripe):
    seller = SellerFactory()
    record_payout(seller, "po_orphan", datetime(2026, 1, 1, 12, tzinfo=UTC))
    reconcile(
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 2, tzinfo=UTC),
        accounts=[seller.stripe_account_id],
    )
    log_in_with_totp(client, staff)
    html = client.get("/money/reconciliation/").content.decode()
    assert "po_orphan" in html and "Mismatches found" in html
    client.force_login(seller.user)
    assert client.get("/money/reconciliation/").status_code == 404


def test_balance_transactions_are_streamed_page_by_page_per_account(sdk, client):
    from sandbox.resources import balances

    account = onboarded_account(sdk, client)
    before = testing.now()
    for i in range(230):
        balances.record(
            account=account.id,
            type="payout",
            amount=-i - 1,
            currency="eur",
            source=f"po_stream{i:03d}",
        )
        if i % 50 == 49:
            testing.advance(seconds=1)  # several rows per second, as in real traffic
    balances.record(account="", type="charge", amount=999, currency="eur", source="ch_platform")

    got = list(
        stripe_gateway.balance_transactions_iter(
            created_gte=before, created_lt=testing.now() + 1, stripe_account=account.id
        )
    )
    stream = [bt for bt in got if str(bt["source"]).startswith("po_stream")]
    assert [bt["source"] for bt in stream] == [f"po_stream{i:03d}" for i in reversed(range(230))]
    assert all(isinstance(bt, dict) for bt in got) and "ch_platform" not in str(got)
    pages = testing.requests(path="/v1/balance_transactions", method="GET")
    assert len(pages) == 3 and all(r.account == account.id for r in pages)

    # Stripe failing mid-stream surfaces as the project's error, not the SDK's.
    stream = stripe_gateway.balance_transactions_iter(
        created_gte=before, created_lt=testing.now() + 1, stripe_account=account.id
    )
    next(stream)
    testing.fail_next(5, "500", path_prefix="/v1/balance_transactions")
    with pytest.raises(stripe_gateway.GatewayError):
        list(stream)


def test_amounts_that_differ_are_reported(sdk, client):
    account = onboarded_account(sdk, client)
    seller = SellerFactory(stripe_account_id=account.id)
    pi = destination_intent(sdk, account.id, amount=2000, fee=200)
    # The ledger learnt of the charge with the wrong amount (a bug in a handler, say) ...
    ledger_record(
        kind=LedgerTransaction.Kind.CHARGE,
        stripe_object_id=pi.latest_charge,
        seller=seller,
        charge_id=pi.latest_charge,
        postings=movement_postings(kind=LedgerTransaction.Kind.CHARGE, amount=1990, currency="eur"),
        occurred_at=datetime.fromtimestamp(testing.now(), tz=UTC),
    )
    feed_events(set(), random.Random(2))  # ... and everything else right.
    start, end = window()
    run = reconcile(start=start, end=end)
    assert run.status == "mismatches"
    assert (run.missing_in_ledger, run.missing_in_stripe, run.amount_mismatches) == (0, 0, 1)
    assert f"charge {pi.latest_charge}" in run.issues[0]
    assert "amount 2000 but the ledger moved 1990" in run.issues[0]


def test_amount_mismatch_rules():
    from payouts.reconciliation import amount_mismatch

    ledger = {"currency": "eur", "moved": 500, "platform": -500}
    refund = {"type": "refund", "amount": -500, "net": -500, "currency": "eur"}
    assert amount_mismatch(refund, "refund", ledger) is None
    assert "currency USD" in amount_mismatch({**refund, "currency": "usd"}, "refund", ledger)
    # Converted from another currency: matched, not compared.
    assert (
        amount_mismatch({**refund, "amount": -470, "exchange_rate": 0.94}, "refund", ledger) is None
    )
    # A dispute's balance transaction carries the dispute fee: the platform's leg is its net.
    withdrawal = {"amount": -2000, "fee": 1500, "net": -3500, "currency": "eur"}
    disputed = {"currency": "eur", "moved": 3500, "platform": -3500}
    assert amount_mismatch(withdrawal, "dispute_funds_withdrawn", disputed) is None
    assert "3500" in amount_mismatch(
        {**withdrawal, "net": -2000}, "dispute_funds_withdrawn", disputed
    )


def test_payouts_of_accounts_not_read_are_not_called_missing(fake_stripe):
    seller = SellerFactory()
    record_payout(seller, "po_elsewhere", datetime(2026, 1, 1, 12, tzinfo=UTC))
    day = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 1, 2, tzinfo=UTC)}
    assert reconcile(**day, accounts=[]).status == "clean"  # the platform only
    assert reconcile(**day, accounts=[seller.stripe_account_id]).missing_in_stripe == 1


def test_staff_run_a_reconciliation_from_the_page_and_watch_it(
    sdk, client, log_in_staff, django_capture_on_commit_callbacks
):
    testing.advance(days=3)  # the sandbox's days are ahead of ours: the form follows Stripe's
    account = onboarded_account(sdk, client)
    SellerFactory(stripe_account_id=account.id)
    destination_intent(sdk, account.id, amount=2000, fee=200)
    feed_events(set(), random.Random(2))
    staff = log_in_staff()
    page = client.get("/money/reconciliation/").content.decode()
    stripe_day = datetime.fromtimestamp(testing.now(), tz=UTC).date()
    assert "Run reconciliation" in page and f'value="{stripe_day.isoformat()}"' in page
    days = {
        "start_day": (stripe_day - timedelta(days=1)).isoformat(),
        "end_day": stripe_day.isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/money/reconciliation/", days)
    assert response.status_code == 302
    run = ReconciliationRun.objects.get()
    assert run.requested_by == staff and run.status == ReconciliationRun.Status.CLEAN
    assert run.scopes_total == 2 and run.scopes_done == 2 and run.stripe_transactions >= 1
    # While one runs, the list refreshes itself and shows how far it got.
    ReconciliationRun.objects.filter(pk=run.pk).update(status="running", scopes_done=1)
    partial = client.get("/money/reconciliation/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'hx-trigger="every 2s"' in partial
    assert "1 of 2 Stripe balances read" in partial
    # A second one while one waits for a worker is refused.
    ReconciliationRun.objects.filter(pk=run.pk).update(status="queued")
    again = client.post("/money/reconciliation/", days)
    assert again.status_code == 400 and "already queued" in again.content.decode()
    assert ReconciliationRun.objects.count() == 1


def _many_charges(
    count: int, start: datetime, *, moved: dict[int, int], no_fee: set[int], converted: set[int]
) -> list[str]:
    """``count`` platform charges in the sandbox (1000 EUR, fee 59), each with its charge and
    Stripe fee transactions in the ledger (ledger rows are never updated, so the faults are
    written as such: ``moved`` {i: what the ledger's charge moved}, ``no_fee`` charges whose
    fee the ledger lacks, ``converted`` charges with an exchange rate); returns the charge ids,
    oldest first."""
    from django.utils import timezone

    from payouts.models import LedgerEntry
    from sandbox.ledger_models import BalanceEntry
    from sandbox.models import SandboxObject

    base = int(start.timestamp()) + 60
    objects, entries, txns = [], [], []
    for i in range(count):
        txn_id, charge_id, created = f"txn_many{i:06d}", f"ch_many{i:06d}", base + i
        data = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": 1000,
            "available_on": created,
            "created": created,
            "currency": "eur",
            "exchange_rate": 0.9 if i in converted else None,
            "fee": 59,
            "fee_details": [],
            "net": 941,
            "reporting_category": "charge",
            "source": charge_id,
            "status": "available",
            "type": "charge",
        }
        objects.append(
            SandboxObject(id=txn_id, object="balance_transaction", created=created, data=data)
        )
        entries.append(
            BalanceEntry(
                id=txn_id,
                currency="eur",
                type="charge",
                amount=1000,
                fee=59,
                net=941,
                created=created,
                seq=i,
                available_on=created,
                status="available",
                source=charge_id,
            )
        )
        at = start + timedelta(minutes=1)
        txns.append(
            LedgerTransaction(
                kind="charge", stripe_object_id=charge_id, charge_id=charge_id, occurred_at=at
            )
        )
        if i not in no_fee:
            txns.append(
                LedgerTransaction(
                    kind="stripe_fee", stripe_object_id=txn_id, charge_id=charge_id, occurred_at=at
                )
            )
    amounts = {f"ch_many{i:06d}": amount for i, amount in moved.items()}
    SandboxObject.objects.bulk_create(objects, batch_size=1000)
    BalanceEntry.objects.bulk_create(entries, batch_size=1000)
    LedgerTransaction.objects.bulk_create(txns, batch_size=1000)
    now = timezone.now()
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                transaction=t, account=account, amount=amount, currency="eur", created_at=now
            )
            for t in LedgerTransaction.objects.filter(stripe_object_id__contains="_many")
            for account, amount in (
                [
                    ("buyer:payments", -amounts.get(t.stripe_object_id, 1000)),
                    ("platform:stripe_balance", amounts.get(t.stripe_object_id, 1000)),
                ]
                if t.kind == "charge"
                else [("platform:stripe_balance", -59), ("stripe:fees", 59)]
            )
        ],
        batch_size=2000,
    )
    return [f"ch_many{i:06d}" for i in range(count)]


def test_problems_in_the_middle_of_a_long_run_are_reported_in_stream_order():
    """More balance transactions than one page, and scratch rows than one batch: the problems
    are found wherever they are, counted, and worded in the order Stripe listed them (newest
    first), the converted one matched but not compared."""
    from payouts.reconciliation import BATCH

    start = datetime(2026, 3, 1, tzinfo=UTC)
    count = BATCH // 2 + 1100  # > BATCH scratch rows (two per charge), > 10 pages
    # Charge 700: the ledger moved 990, not 1000. Charge 1500's fee: not in the ledger.
    # Charge 300: converted from another currency, its ledger amount differs (not compared).
    charges = _many_charges(
        count, start, moved={700: 990, 300: 1}, no_fee={1500, 300}, converted={300}
    )
    run = reconcile(start=start, end=start + timedelta(days=1), accounts=[])
    assert run.stripe_transactions == count
    assert (run.missing_in_ledger, run.amount_mismatches, run.missing_in_stripe) == (1, 1, 0)
    assert len(run.issues) == 2
    assert "txn_many001500) has no ledger stripe_fee transaction" in run.issues[0]
    assert f"charge {charges[700]} (1000 EUR, txn_many000700): amount 1000" in run.issues[1]
    assert "the ledger moved 990" in run.issues[1]
    assert not ReconciliationSeen.objects.exists()
