"""End to end on the sandbox's billing: a free trial ending in the first paid invoice, an
upgrade whose previewed proration is the next invoice, usage recorded (and corrected) billed
with the renewal."""

from __future__ import annotations

import pytest

from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, SellerBalance
from sandbox import testing
from subscriptions import services
from subscriptions.models import Subscription, SubscriptionInvoice, UsageRecord
from tests.subscriptions.conftest import make_plan, subscribe
from tests.subscriptions.test_e2e import no_failed_events

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_trial_then_first_invoice_paid_into_the_ledger(buyer_client, seller, listing, mailoutbox):
    plan = make_plan(seller, listing, name="Try it", amount=1200, trial_days=14)
    assert subscribe(buyer_client, plan).status_code == 302
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.TRIALING and sub.trial_end is not None
    assert sub.next_invoice_at == sub.trial_end
    assert not LedgerTransaction.objects.filter(seller=seller, kind="charge").exists()
    testing.advance(days=11, hours=1)  # 3 days before the trial ends: warned
    assert [m.to for m in mailoutbox if "free trial" in m.subject] == [["buyer@example.com"]]
    testing.advance(days=3)  # the trial ends: the first invoice is paid
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    paid = SubscriptionInvoice.objects.get(subscription=sub, status="paid", amount_paid__gt=0)
    assert paid.amount_paid == 1200
    charge = LedgerTransaction.objects.get(seller=seller, kind="charge")
    assert sum(e.amount for e in charge.entries.all() if e.amount > 0) == 1200
    fee = LedgerTransaction.objects.get(seller=seller, kind="application_fee")
    fee_amount = sum(e.amount for e in fee.entries.all() if e.amount > 0)
    assert SellerBalance.objects.get(seller=seller).ledger == {"eur": 1200 - fee_amount}
    assert list(ledger_violations()) == []
    no_failed_events()


def test_upgrade_mid_period_the_preview_is_the_next_invoice(buyer_client, buyer, seller, listing):
    basic = make_plan(seller, listing, name="Basic", amount=1000)
    pro = make_plan(seller, listing, name="Pro", amount=3000)
    subscribe(buyer_client, basic)
    sub = Subscription.objects.get()
    testing.advance(days=10)
    preview = services.subscription_change_preview(
        buyer=buyer, subscription_id=sub.pk, plan_id=pro.pk
    )
    assert preview.prorations.amount > 0  # more for the rest of the month, less the credit
    assert preview.amount_due.amount == 3000 + preview.prorations.amount
    services.subscription_change_plan(
        buyer=buyer,
        subscription_id=sub.pk,
        plan_id=pro.pk,
        proration_date=preview.proration_date,
    )
    sub.refresh_from_db()
    assert sub.plan_id == pro.pk and sub.amount == 3000
    testing.advance(days=21)  # the period ends: the next invoice
    renewal = SubscriptionInvoice.objects.filter(
        subscription=sub, billing_reason="subscription_cycle"
    )
    assert [i.amount_due for i in renewal] == [preview.amount_due.amount]
    assert renewal.get().status == "paid"
    assert list(ledger_violations()) == []
    no_failed_events()


def test_usage_recorded_corrected_and_billed(buyer_client, client, seller, listing):
    plan = make_plan(
        seller,
        listing,
        name="Lessons",
        amount=1000,
        meter_name="lessons taken",
        usage_unit_amount=300,
    )
    assert plan.stripe_meter_id and plan.stripe_usage_price_id
    subscribe(buyer_client, plan)
    sub = Subscription.objects.get()
    assert sub.stripe_usage_price_id == plan.stripe_usage_price_id
    client.force_login(seller.user)
    url = f"/subscriptions/seller/subscribers/{sub.pk}/"
    assert client.post(url, {"quantity": "2"}).status_code == 303
    assert client.post(url, {"quantity": "-1"}).status_code == 400
    first = UsageRecord.objects.get()
    assert first.status == UsageRecord.Status.SENT
    # A retry of the same record sends the same identifier: Stripe counts it once.
    UsageRecord.objects.filter(pk=first.pk).update(status=UsageRecord.Status.PENDING)
    services.usage_send(record_id=first.pk)
    # 5 more, then corrected to 4 (the event canceled, a new one recorded).
    services.usage_record(seller=seller, subscription_id=sub.pk, quantity=5)
    five = UsageRecord.objects.get(quantity=5)
    response = client.post(
        f"/subscriptions/seller/subscribers/{sub.pk}/usage/{five.pk}/correct/", {"quantity": "4"}
    )
    assert response.status_code == 303
    five.refresh_from_db()
    assert five.status == UsageRecord.Status.CANCELED
    assert UsageRecord.objects.filter(status="sent").count() == 2
    testing.advance(days=31)
    renewal = SubscriptionInvoice.objects.get(subscription=sub, billing_reason="subscription_cycle")
    assert renewal.amount_due == 1000 + (2 + 4) * 300
    assert renewal.status == "paid"
    no_failed_events()
