"""A several-seller purchase's transfer job on a real Celery worker (a separate process against
Redis and this test's PostgreSQL database) whose pool process is killed with SIGKILL mid-way:
between one seller's transfer (committed) and the next (in flight, slowed down by the sandbox's
latency fault). ``acks_late`` + ``reject_on_worker_lost`` put the task back on the queue, a new
pool process runs it again, and every seller is transferred exactly once. Also Stripe failing
between the charge and the transfers (the sandbox's faults): a transfer made whose answer was
lost is found on the retry, not made again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from buyers import services
from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from payouts.checks import ledger_violations
from payouts.models import SellerBalance
from sandbox import faults
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.buyers.test_sandbox_payments import buyer_client, pay, sandbox  # noqa: F401
from tests.factories import UserFactory
from tests.payouts.test_e2e_cart import checkout_cart, sandbox_balance

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


@pytest.fixture
def three_shops(sandbox):  # noqa: F811
    listings = []
    for name, price in (("mugs", 2500), ("vases", 4000), ("lamps", 3000)):
        seller = SellerFactory(
            stripe_account_id=onboarded_account(), user=UserFactory(email=f"{name}@example.com")
        )
        listings.append(ListingFactory(seller=seller, title=name, price_amount=price, stock=5))
    return listings


@pytest.fixture
def worker(tmp_path):
    """A real worker process (prefork pool of one) on this test's database and Redis db."""
    from marketplace.celery import app

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
    }
    # Tasks go to Redis for the worker (another test may have left the app eager).
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "marketplace",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_for(lambda: b"ready." in log.read_bytes(), timeout=60), log.read_text()
        yield process, log
    finally:
        app.conf.task_always_eager = eager
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.celery_worker
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
    reason="needs Redis and PostgreSQL (REDIS_URL, DATABASE_URL) for a worker in its own process",
)
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_way_through_the_transfers_pays_every_seller_once(
    three_shops,
    buyer_client,  # noqa: F811
    worker,
):
    process, log = worker
    assert not django_settings.CELERY_TASK_ALWAYS_EAGER
    # Every transfer request takes 2.5 s in the sandbox: the kill lands inside the second one.
    faults.inject("latency", count=10, latency_ms=2500, method="POST", path_prefix="/v1/transfers")
    pay(
        buyer_client,
        checkout_cart(buyer_client, [(listing, 1) for listing in three_shops]),
        "4242 4242 4242 4242",
    )
    purchase = Purchase.objects.get()
    assert purchase.charge_type == Purchase.ChargeType.SEPARATE
    orders = list(purchase.orders.order_by("pk"))
    paid = Order.TransferStatus.PAID

    def done() -> list[int]:
        return list(
            Order.objects.filter(purchase=purchase, transfer_status=paid).values_list(
                "pk", flat=True
            )
        )

    # The worker processes the payment's events and starts the transfer job; the first seller's
    # transfer commits, the second is in flight when the pool process is killed.
    assert wait_for(lambda: len(done()) == 1, timeout=90), log.read_text()
    time.sleep(0.8)
    assert len(done()) == 1
    [child] = children_of(process.pid)
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: child not in children_of(process.pid), timeout=20)
    assert len(done()) == 1  # the killed transfer's transaction rolled back with it

    # Put back on the queue by the worker (reject_on_worker_lost) and run again by a new pool
    # process: the remaining sellers are paid, the first is not paid again.
    assert wait_for(lambda: len(done()) == 3, timeout=90), log.read_text()
    text = log.read_text()
    assert "WorkerLostError" in text or "SIGKILL" in text, text[-3000:]

    sdk = stripe_gateway.client()
    transfers = sdk.v1.transfers.list({"transfer_group": purchase.transfer_group}).data
    assert sorted(t.destination for t in transfers) == sorted(
        o.seller.stripe_account_id for o in orders
    )
    for order in orders:
        order.refresh_from_db()
        [transfer] = [t for t in transfers if t.destination == order.seller.stripe_account_id]
        assert transfer.id == order.transfer_id and transfer.amount == order.transfer_amount
        assert sum(sandbox_balance(order.seller.stripe_account_id)) == order.transfer_amount
    faults.clear()


@pytest.mark.django_db(transaction=True)
def test_stripe_failing_between_the_charge_and_the_transfers_pays_every_seller_once(
    three_shops,
    buyer_client,  # noqa: F811
):
    """The first transfer's answer is lost after Stripe made it (timeout after it ran), the
    others fail before they run (500s): the buyer's payment stands, the orders wait, and the
    retry after the backoff finds the transfer made and makes only the missing ones."""
    from payouts.services.charge_sync import ledger_sync_charge

    faults.inject("timeout_after", count=3, method="POST", path_prefix="/v1/transfers")
    faults.inject("500", count=20, method="POST", path_prefix="/v1/transfers")
    pay(
        buyer_client,
        checkout_cart(buyer_client, [(listing, 1) for listing in three_shops]),
        "4242 4242 4242 4242",
    )
    purchase = Purchase.objects.get()
    assert purchase.status == Purchase.Status.PAID
    orders = list(purchase.orders.order_by("pk"))
    assert {o.transfer_status for o in orders} == {Order.TransferStatus.FAILED}
    sdk = stripe_gateway.client()
    made = sdk.v1.transfers.list({"transfer_group": purchase.transfer_group}).data
    assert len(made) == 1  # Stripe made the first one; we did not hear it

    faults.clear()
    later = timezone.now() + timedelta(hours=2)
    assert services.transfers_retry_due(now=later) == 3
    assert services.transfers_retry_due(now=later) == 0
    transfers = sdk.v1.transfers.list({"transfer_group": purchase.transfer_group}).data
    assert len(transfers) == 3 and made[0].id in {t.id for t in transfers}
    ledger_sync_charge(charge_id=purchase.charge_id)
    for order in orders:
        order.refresh_from_db()
        assert order.transfer_status == Order.TransferStatus.PAID
        balance = SellerBalance.objects.get(seller=order.seller).ledger["eur"]
        assert balance == sum(sandbox_balance(order.seller.stripe_account_id))
        assert balance == order.transfer_amount
    assert list(ledger_violations()) == []
