from __future__ import annotations

import pytest
from django.conf import settings

from marketplace.stripe_gateway import GatewayError
from sellers import tasks
from sellers.models import Seller
from tests.sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def test_periodic_sync_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["sellers-sync-accounts"]
    assert entry["task"] == "sellers.tasks.sync_all_seller_accounts"


def test_sync_all_rereads_every_connected_seller(
    fake_stripe, eager_tasks, django_capture_on_commit_callbacks
):
    a = SellerFactory(charges_enabled=False)
    b = SellerFactory(charges_enabled=False)
    SellerFactory(stripe_account_id=None)
    gone = SellerFactory(status=Seller.Status.DISCONNECTED)
    fake_stripe.add(a.stripe_account_id)
    fake_stripe.add(b.stripe_account_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sync_all_seller_accounts() == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.charges_enabled and b.charges_enabled
    retrieved = {c[1]["account_id"] for c in fake_stripe.calls}
    assert gone.stripe_account_id not in retrieved


def test_sync_one_survives_stripe_errors(fake_stripe, caplog):
    seller = SellerFactory(charges_enabled=False)
    fake_stripe.fail["account_retrieve"] = GatewayError("down", retryable=True)
    tasks.sync_seller_account(seller.pk)  # logged, not raised
    assert fake_stripe.count("account_retrieve") == 1
    assert f"could not sync account of seller {seller.pk}: down" in caplog.text
    seller.refresh_from_db()
    assert not seller.charges_enabled  # the mirror keeps what it had
    tasks.sync_seller_account(999_999)  # unknown id: nothing to do
    assert fake_stripe.count("account_retrieve") == 1
