"""Listing a connected account's balance transactions of one type through the sandbox API.

Workload: N balance transactions (half ``payment``, half ``payout``) on one account plus as many
on other accounts, in PostgreSQL (``DATABASE_URL`` + ``_bench``). Measured: paging through every
``payment`` transaction of the account with ``limit=100`` and cursors, through the SDK and the
sandbox dispatcher (indexed ``BalanceEntry`` columns). Baseline, same run, same rows: the generic
sandbox list path (``store.list_response`` over ``SandboxObject`` rows filtered on the JSON
``data->type``), which is how the other list endpoints page.

    python -m bench sandbox_balance -- --rows 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _setup() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return "skipped: set DATABASE_URL to a PostgreSQL server (the benchmark uses <name>_bench)"
    from bench._events_common import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url()
    os.environ.setdefault("DEBUG", "1")
    os.environ.pop("STRIPE_SECRET_KEY", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return None


def _populate(rows: int, target: str) -> str:
    from sandbox.ids import new_id
    from sandbox.ledger_models import BalanceEntry
    from sandbox.models import SandboxObject

    SandboxObject.objects.filter(object="balance_transaction").delete()
    BalanceEntry.objects.all().delete()
    now = int(time.time())
    for account in (target, "acct_benchother"):
        objects, entries = [], []
        for index in range(rows):
            txn_id = new_id("txn")
            kind = "payment" if index % 2 else "payout"
            amount = 1000 if kind == "payment" else -900
            data = {
                "id": txn_id, "object": "balance_transaction", "amount": amount,
                "available_on": now, "balance_type": "payments", "created": now - rows + index,
                "currency": "eur", "description": None, "exchange_rate": None, "fee": 0,
                "fee_details": [], "net": amount, "reporting_category": "charge",
                "source": None, "status": "available", "type": kind,
            }  # fmt: skip
            objects.append(SandboxObject(id=txn_id, object="balance_transaction", account=account,
                                         created=data["created"], data=data))  # fmt: skip
            entries.append(BalanceEntry(id=txn_id, account=account, currency="eur", type=kind,
                                        amount=amount, net=amount, created=data["created"],
                                        available_on=now, status="available"))  # fmt: skip
        SandboxObject.objects.bulk_create(objects, batch_size=2000)
        BalanceEntry.objects.bulk_create(entries, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sandbox_sandboxobject")
        cursor.execute("ANALYZE sandbox_balanceentry")
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sandbox_balance")
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args(argv)
    reason = _setup()
    if reason:
        print(reason)
        return 0
    from sandbox import store, testing

    sdk = testing.stripe_client()
    created = sdk.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    account = _populate(args.rows, created.id)

    from sandbox.resources import balances
    from sandbox.router import Request

    def indexed_pages() -> int:
        count, params = 0, {"limit": 100, "type": "payment"}
        while True:
            page = balances.list_transactions(
                Request(
                    method="GET", path="/v1/balance_transactions", params=params, account=account
                )
            )
            count += len(page["data"])
            if not page["has_more"]:
                return count
            params = {"limit": 100, "type": "payment", "starting_after": page["data"][-1]["id"]}

    def generic_pages() -> int:
        count, params = 0, {"limit": 100}
        while True:
            qs = store.queryset("balance_transaction", account=account).filter(data__type="payment")
            page = store.list_response(qs, params, url="/v1/balance_transactions")
            count += len(page["data"])
            if not page["has_more"]:
                return count
            params = {"limit": 100, "starting_after": page["data"][-1]["id"]}

    def timed(fn):  # best of 3
        best, result = float("inf"), 0
        for _ in range(3):
            start = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - start)
        return best, result

    baseline, baseline_seen = timed(generic_pages)
    indexed, seen = timed(indexed_pages)
    start = time.perf_counter()
    sdk_seen = sum(
        1
        for _ in sdk.v1.balance_transactions.list(
            {"limit": 100, "type": "payment"}, options={"stripe_account": account}
        ).auto_paging_iter()
    )
    through_sdk = time.perf_counter() - start
    assert seen == baseline_seen == sdk_seen == args.rows // 2, (seen, baseline_seen, sdk_seen)
    print(
        f"workload: {args.rows} transactions on the account ({seen} payments, 100 a page) "
        f"+ {args.rows} on another account; best of 3"
    )
    print(f"baseline, generic list (JSON filter on data->type): {baseline:.2f} s")
    print(f"indexed list (BalanceEntry columns):               {indexed:.2f} s")
    print(f"ratio baseline / indexed: {baseline / indexed:.2f}x")
    print(f"(end to end through the SDK, dispatcher and request log: {through_sdk:.2f} s)")
    return 0
