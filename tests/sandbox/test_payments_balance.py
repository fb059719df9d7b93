"""Balance and balance transactions: shape, filters, cursor pagination through thousands of
rows with a constant number of queries per page."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from sandbox.ids import new_id
from sandbox.ledger_models import BalanceEntry
from sandbox.models import SandboxObject
from sandbox.resources import balances
from tests.sandbox.payhelpers import as_json, destination_intent, onboarded_account


def test_empty_balance_has_the_default_currency(sdk, web):
    found = sdk.v1.balance.retrieve()
    check_object(as_json(found))
    assert [(b.amount, b.currency) for b in found.available] == [(0, "usd")]
    seller = onboarded_account(sdk, web)
    found = sdk.v1.balance.retrieve(options={"stripe_account": seller.id})
    assert [(b.amount, b.currency) for b in found.pending] == [(0, "eur")]


def test_fee_rule_and_availability(settings):
    assert balances.processing_fee(2000) == 88
    assert balances.processing_fee(1500) == 74  # 43.5 rounds half up to 44
    assert balances.processing_fee(50) == 31  # 1.45 -> 1
    settings.SANDBOX_CARD_FEE_BPS = 140
    settings.SANDBOX_CARD_FEE_FIXED = 25
    assert balances.processing_fee(10000) == 165
    settings.SANDBOX_AVAILABLE_AFTER = 7
    now = 1_700_000_123
    assert balances.available_on(now) == (now + 7 * 86400) // 86400 * 86400


def test_filters_and_retrieve(sdk, web):
    seller = onboarded_account(sdk, web)
    pi = destination_intent(sdk, seller.id)
    charge = sdk.v1.charges.retrieve(pi.latest_charge)
    listed = sdk.v1.balance_transactions.list({"type": "charge"})
    check_list(as_json(listed))
    [txn] = listed.data
    assert txn.source == charge.id and txn.id == charge.balance_transaction
    assert sdk.v1.balance_transactions.list({"source": charge.id}).data[0].id == txn.id
    assert sdk.v1.balance_transactions.list({"currency": "usd"}).data == []
    fetched = sdk.v1.balance_transactions.retrieve(txn.id)
    check_object(as_json(fetched))
    created = sdk.v1.balance_transactions.list({"created": {"gte": txn.created}})
    assert len(created.data) == 3  # charge, transfer, application_fee
    connected = sdk.v1.balance_transactions.list(options={"stripe_account": seller.id})
    assert [t.type for t in connected.data] == ["payment"]
    with pytest.raises(stripe.InvalidRequestError):  # another account's
        sdk.v1.balance_transactions.retrieve(connected.data[0].id)


def _bulk(count: int, account: str = "") -> list[str]:
    now = testing.now()
    objects, entries, ids = [], [], []
    for index in range(count):
        txn_id = new_id("txn")
        kind = "charge" if index % 2 else "refund"
        amount = 100 if kind == "charge" else -10
        data = {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "available_on": now,
            "balance_type": "payments",
            "created": now + index,
            "currency": "eur",
            "description": None,
            "exchange_rate": None,
            "fee": 0,
            "fee_details": [],
            "net": amount,
            "reporting_category": kind,
            "source": None,
            "status": "available",
            "type": kind,
        }
        objects.append(
            SandboxObject(
                id=txn_id,
                object="balance_transaction",
                account=account,
                created=now + index,
                data=data,
            )
        )
        entries.append(
            BalanceEntry(
                id=txn_id,
                account=account,
                currency="eur",
                type=kind,
                amount=amount,
                net=amount,
                created=now + index,
                available_on=now,
                status="available",
            )
        )
        ids.append(txn_id)
    SandboxObject.objects.bulk_create(objects, batch_size=500)
    BalanceEntry.objects.bulk_create(entries, batch_size=500)
    return ids


def test_pages_through_thousands(sdk, django_assert_max_num_queries):
    ids = _bulk(3000)
    seen = [
        t.id
        for t in sdk.v1.balance_transactions.list(
            {"limit": 100, "type": "charge"}
        ).auto_paging_iter()
    ]
    assert seen == list(reversed([i for n, i in enumerate(ids) if n % 2]))
    assert sum(balances.totals("")["eur"].values()) == 1500 * 100 - 1500 * 10
    first = sdk.v1.balance_transactions.list({"limit": 100})
    with django_assert_max_num_queries(12):
        page = sdk.v1.balance_transactions.list({"limit": 100, "starting_after": first.data[-1].id})
    assert [t.id for t in page.data] == list(reversed(ids))[100:200]
    back = sdk.v1.balance_transactions.list({"limit": 5, "ending_before": page.data[0].id})
    assert [t.id for t in back.data] == list(reversed(ids))[95:100]
