from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.management import call_command

from payouts.models import LedgerTransaction, Payout, SellerBalance
from tests.payouts.events import deliver
from tests.payouts.factories import SellerFactory

pytestmark = pytest.mark.django_db


def payout_obj(status="pending", **extra):
    obj = {
        "id": "po_1",
        "object": "payout",
        "amount": 1500,
        "currency": "eur",
        "status": status,
        "arrival_date": int(time.time()) + 86400 * 2,
        "created": int(time.time()),
        "failure_code": None,
        "failure_message": None,
    }
    obj.update(extra)
    return obj


def test_payout_lifecycle_forward_only_and_ledger(django_capture_on_commit_callbacks):
    seller = SellerFactory()
    acct = seller.stripe_account_id
    deliver("payout.created", payout_obj(), account=acct)
    deliver("payout.paid", payout_obj("paid"), account=acct)
    deliver("payout.updated", payout_obj("in_transit"), account=acct)  # stale, late
    payout = Payout.objects.get()
    assert payout.status == "paid" and payout.amount == 1500 and payout.arrival_date
    assert LedgerTransaction.objects.filter(kind="payout").count() == 1
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": -1500} and balance.paid_out == {"eur": 1500}


def test_a_paid_payout_emails_the_seller_once(django_capture_on_commit_callbacks):
    seller = SellerFactory()
    acct = seller.stripe_account_id
    with django_capture_on_commit_callbacks(execute=True):
        deliver("payout.created", payout_obj(), account=acct)
        deliver("payout.paid", payout_obj("paid"), account=acct)
        deliver("payout.updated", payout_obj("paid"), account=acct)  # the same news again
    (message,) = [m for m in mail.outbox if seller.user.email in m.to]
    assert message.subject == "Payout of €15.00 sent to your bank"
    assert "po_1" in message.body and "/money/balance/" in message.body


def test_failed_payout_returns_money_and_emails_seller_once(
    django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = ["ops@example.com"]
    seller = SellerFactory()
    acct = seller.stripe_account_id
    failed = payout_obj(
        "failed", failure_code="account_closed", failure_message="The bank account has been closed"
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver("payout.created", payout_obj(), account=acct)
        deliver("payout.failed", failed, account=acct)
        deliver("payout.failed", failed, account=acct)  # duplicate delivery
    payout = Payout.objects.get()
    assert payout.status == "failed" and payout.failure_code == "account_closed"
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": 0} and balance.paid_out == {"eur": 0}
    to_seller = [m for m in mail.outbox if seller.user.email in m.to]
    assert len(to_seller) == 1
    assert "The bank account has been closed" in to_seller[0].body
    assert "/sell/onboarding/update/" in to_seller[0].body
    assert any("ops@example.com" in m.to for m in mail.outbox)
    call_command("ledger_check")


def test_canceled_payout_first_seen_as_canceled(django_capture_on_commit_callbacks):
    seller = SellerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        deliver("payout.canceled", payout_obj("canceled"), account=seller.stripe_account_id)
    assert Payout.objects.get().status == "canceled"
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 0}
    assert not mail.outbox


def test_payout_of_unknown_account_is_ignored():
    deliver("payout.paid", payout_obj("paid"), account="acct_unknown")
    assert not Payout.objects.exists()


def test_a_payouts_events_in_one_batch_leave_the_state_of_all_of_them(
    django_capture_on_commit_callbacks,
):
    """created, paid and a late in_transit of one payout claimed in one batch are handled once,
    from the most advanced: paid, one ledger movement, one email, every event succeeded."""
    from marketplace.events.models import StripeEvent
    from marketplace.events.services import events_drain
    from tests.payouts.events import make_event

    seller = SellerFactory()
    acct = seller.stripe_account_id
    make_event("payout.updated", payout_obj("in_transit"), account=acct)
    make_event("payout.paid", payout_obj("paid"), account=acct)
    make_event("payout.created", payout_obj(), account=acct)
    with django_capture_on_commit_callbacks(execute=True):
        events_drain()
    payout = Payout.objects.get()
    assert payout.status == "paid" and payout.amount == 1500
    assert LedgerTransaction.objects.filter(kind="payout").count() == 1
    balance = SellerBalance.objects.get(seller=seller)
    assert balance.ledger == {"eur": -1500} and balance.paid_out == {"eur": 1500}
    assert len([m for m in mail.outbox if seller.user.email in m.to]) == 1
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_failed_payouts_events_in_one_batch_return_the_money(django_capture_on_commit_callbacks):
    from marketplace.events.services import events_drain
    from tests.payouts.events import make_event

    seller = SellerFactory()
    acct = seller.stripe_account_id
    failed = payout_obj("failed", failure_code="account_closed", failure_message="Closed")
    make_event("payout.failed", failed, account=acct)
    make_event("payout.created", payout_obj(), account=acct)
    make_event("payout.updated", payout_obj("in_transit"), account=acct)
    with django_capture_on_commit_callbacks(execute=True):
        events_drain()
    payout = Payout.objects.get()
    assert payout.status == "failed" and payout.failure_code == "account_closed"
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 0}
    assert len([m for m in mail.outbox if seller.user.email in m.to]) == 1
    call_command("ledger_check")
