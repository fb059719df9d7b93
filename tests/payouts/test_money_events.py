from __future__ import annotations

import random

import pytest
from django.core import mail
from django.core.management import call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.stripe_gateway import GatewayError
from payouts.checks import ledger_violations
from payouts.models import Dispute, LedgerEntry, LedgerTransaction, SellerBalance
from tests.payouts.events import deliver, make_event
from tests.payouts.factories import SellerFactory
from tests.stripe_fake import UNREACHABLE, StripeFake, fake_id

pytestmark = pytest.mark.django_db


def kinds():
    return sorted(LedgerTransaction.objects.values_list("kind", flat=True))


def seller_ledger(seller):
    row = SellerBalance.objects.filter(seller=seller).first()
    return row.ledger if row else {}


def test_sale_records_charge_transfer_and_fee_once(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2500, fee=280, order_id=7)
    deliver("charge.succeeded", charge)
    deliver("charge.succeeded", charge)  # duplicate
    assert kinds() == ["application_fee", "charge", "transfer"]
    assert set(LedgerTransaction.objects.values_list("order_id", flat=True)) == {7}
    assert seller_ledger(seller) == {"eur": 2220}
    assert seller_ledger(seller) == fake_stripe.balances[seller.stripe_account_id]
    assert list(ledger_violations()) == []


def test_partial_then_full_refund_gives_back_pro_rata(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=1000, fee=133, order_id=3)
    deliver("charge.succeeded", charge)
    refund = fake_stripe.refund_create(
        charge_id=charge["id"], amount=333, order_id=3, reason="damaged", idempotency_key="k1"
    )
    deliver("refund.updated", fake_stripe.refunds[refund.id])
    deliver("charge.refunded", fake_stripe.charges[charge["id"]])
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert LedgerTransaction.objects.filter(kind="transfer_reversal").count() == 1
    assert LedgerTransaction.objects.filter(kind="fee_refund").count() == 1
    assert seller_ledger(seller) == fake_stripe.balances[seller.stripe_account_id]
    rest = fake_stripe.refund_create(
        charge_id=charge["id"], amount=667, order_id=3, reason="all", idempotency_key="k2"
    )
    deliver("charge.refunded", fake_stripe.charges[charge["id"]])
    deliver("refund.updated", fake_stripe.refunds[rest.id])
    # Everything given back: the seller and the platform fees are back to zero.
    assert seller_ledger(seller) == {"eur": 0}
    fees = LedgerEntry.objects.filter(account="platform:fees").values_list("amount", flat=True)
    assert sum(fees) == 0
    assert list(ledger_violations()) == []


def test_events_out_of_order_converge(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=5000, fee=500, order_id=9)
    fake_stripe.refund_create(
        charge_id=charge["id"], amount=5000, order_id=9, reason="x", idempotency_key="k"
    )
    transfer = fake_stripe.transfers[charge["transfer"]]
    deliver("transfer.reversed", transfer)  # arrives first
    deliver("application_fee.refunded", fake_stripe.fees[charge["application_fee"]])
    deliver("charge.succeeded", charge)
    assert seller_ledger(seller) == {"eur": 0}
    assert len(kinds()) == 6
    assert list(ledger_violations()) == []


def test_stripe_unreachable_raises_so_the_event_is_retried(fake_stripe):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=100, fee=10)
    fake_stripe.fail_once["transfer_retrieve"] = GatewayError(UNREACHABLE, retryable=True)
    with pytest.raises(GatewayError):
        deliver("charge.succeeded", charge)
    deliver("charge.succeeded", charge)
    assert len(kinds()) == 3


def test_dispute_flags_order_emails_and_recovers_share_when_lost(
    fake_stripe, django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = ["ops@example.com"]
    settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER = True
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2000, fee=200, order_id=11)
    deliver("charge.succeeded", charge)
    dispute = fake_stripe.dispute(charge["id"])
    with django_capture_on_commit_callbacks(execute=True):
        deliver("charge.dispute.created", dispute)
        deliver("charge.dispute.created", dispute)
    row = Dispute.objects.get()
    assert row.order_id == 11 and row.seller == seller and row.evidence_due_by is not None
    seller_mails = [m for m in mail.outbox if seller.user.email in m.to]
    assert len(seller_mails) == 1 and "order #11" in seller_mails[0].subject
    assert any("ops@example.com" in m.to for m in mail.outbox)

    deliver("charge.dispute.funds_withdrawn", fake_stripe.dispute_withdraw(dispute["id"]))
    assert "dispute_funds_withdrawn" in kinds()
    dispute["status"] = "lost"
    deliver("charge.dispute.closed", dispute)
    row.refresh_from_db()
    assert row.status == "lost" and row.seller_share_reversal_id
    deliver("transfer.reversed", fake_stripe.transfers[charge["transfer"]])
    assert seller_ledger(seller) == {"eur": 0}
    assert seller_ledger(seller) == fake_stripe.balances[seller.stripe_account_id]
    # A stale "needs_response" update never reopens it.
    dispute["status"] = "needs_response"
    deliver("charge.dispute.updated", dispute)
    row.refresh_from_db()
    assert row.status == "lost"
    assert list(ledger_violations()) == []


def test_dispute_won_reinstates_funds(fake_stripe, settings):
    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=2000, fee=200, order_id=12)
    deliver("charge.succeeded", charge)
    dispute = fake_stripe.dispute(charge["id"])
    deliver("charge.dispute.funds_withdrawn", fake_stripe.dispute_withdraw(dispute["id"]))
    deliver("charge.dispute.funds_reinstated", fake_stripe.dispute_reinstate(dispute["id"]))
    dispute["status"] = "won"
    deliver("charge.dispute.closed", dispute)
    assert Dispute.objects.get().status == "won"
    assert seller_ledger(seller) == {"eur": 1800}
    platform = LedgerEntry.objects.filter(account="platform:stripe_balance")
    assert sum(platform.values_list("amount", flat=True)) == -1500  # only the dispute fee lost
    assert list(ledger_violations()) == []


def test_event_for_unknown_account_is_an_error_not_silently_recorded(fake_stripe):
    charge = fake_stripe.sale(account="acct_stranger", amount=100, fee=10)
    with pytest.raises(ValueError, match="not one of our sellers"):
        deliver("charge.succeeded", charge)
    assert not LedgerTransaction.objects.exists()


# --- stateful property: random sales, partial refunds, disputes and payouts, events duplicated
# and shuffled; after every step the invariants hold and the ledger matches the fake Stripe's
# balances.

steps = st.lists(
    st.tuples(
        st.sampled_from(["sale", "refund", "dispute", "payout"]),
        st.integers(1, 10_000),
        st.integers(0, 1000),
    ),
    min_size=1,
    max_size=10,
)


@hsettings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=steps, seed=st.integers(0, 2**16))
def test_random_money_sequences_keep_the_invariants(db, script, seed):
    with pytest.MonkeyPatch.context() as mp:
        fake_stripe = StripeFake().install(mp)
        run_script(fake_stripe, script, seed)


def run_script(fake_stripe, script, seed):
    rng = random.Random(seed)
    seller = SellerFactory()
    acct = seller.stripe_account_id
    sales: list[dict] = []
    for action, amount, bps in script:
        pending = []
        if action == "sale" or not sales:
            fee = amount * bps // 10_000
            charge = fake_stripe.sale(account=acct, amount=amount, fee=fee, order_id=None)
            sales.append(charge)
            pending.append(("charge.succeeded", charge))
        elif action == "refund":
            charge = rng.choice(sales)
            left = charge["amount"] - charge["amount_refunded"]
            # Stay within what the seller still holds: a refund after a payout would take the
            # seller below zero, which the invariants allow only for disputes.
            held = fake_stripe.balances.get(acct, {}).get("eur", 0)
            if left and held > 0:
                part = rng.randint(1, left)
                while part > 1 and part > held:
                    part //= 2
                refund = fake_stripe.refund_create(
                    charge_id=charge["id"],
                    amount=part,
                    order_id=0,
                    reason="r",
                    idempotency_key=fake_id("key"),
                )
                pending += [
                    ("refund.updated", fake_stripe.refunds[refund.id]),
                    ("charge.refunded", charge),
                    ("transfer.reversed", fake_stripe.transfers[charge["transfer"]]),
                ]
        elif action == "dispute":
            charge = rng.choice(sales)
            if not charge["disputed"] and charge["amount"] > charge["amount_refunded"]:
                dispute = fake_stripe.dispute_withdraw(fake_stripe.dispute(charge["id"])["id"])
                pending.append(("charge.dispute.funds_withdrawn", dispute))
        elif action == "payout":
            available = fake_stripe.balances.get(acct, {}).get("eur", 0)
            if available > 0:
                payout = {
                    "id": fake_id("po"),
                    "object": "payout",
                    "amount": available,
                    "currency": "eur",
                    "status": "paid",
                    "created": 1_700_000_000,
                    "arrival_date": 1_700_100_000,
                }
                fake_stripe._move(acct, "eur", -available)
                pending.append(("payout.paid", payout))
        events = [*pending, rng.choice(pending)] if pending else []
        rng.shuffle(events)
        for event_type, obj in events:
            account = acct if event_type.startswith("payout") else ""
            event = make_event(event_type, obj, account=account)
            from marketplace.events.registry import handler_for

            handler_for(event_type)(event)
        violations = list(ledger_violations())
        assert violations == [], violations
        assert seller_ledger(seller).get("eur", 0) == fake_stripe.balances.get(acct, {}).get(
            "eur", 0
        )
    call_command("ledger_check")


def test_connected_accounts_copies_of_money_events_are_ignored(fake_stripe):
    seller = SellerFactory()
    payment = {"id": "py_copy", "object": "charge", "amount": 100, "currency": "eur"}
    deliver("charge.succeeded", payment, account=seller.stripe_account_id)
    deliver("charge.refunded", payment, account=seller.stripe_account_id)
    assert not LedgerTransaction.objects.exists()
    assert fake_stripe.count("charge_retrieve") == 0


def test_dispute_is_shown_on_the_order(fake_stripe):
    from datetime import timedelta

    from django.utils import timezone

    from buyers.models import Order, Purchase
    from tests.buyers.factories import ListingFactory
    from tests.factories import UserFactory

    seller = SellerFactory()
    listing = ListingFactory(seller=seller)
    buyer = UserFactory()
    purchase = Purchase.objects.create(
        buyer=buyer,
        charge_type=Purchase.ChargeType.DESTINATION,
        currency="eur",
        amount=2000,
        application_fee_amount=200,
        buyer_email="b@example.com",
        status=Purchase.Status.PAID,
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    order = Order.objects.create(
        purchase=purchase,
        buyer=buyer,
        seller=seller,
        listing=listing,
        title=listing.title,
        unit_amount=2000,
        quantity=1,
        currency="eur",
        amount=2000,
        application_fee_amount=200,
        buyer_email="b@example.com",
        status=Order.Status.PAID,
        expires_at=timezone.now() + timedelta(minutes=30),
    )
    charge = fake_stripe.sale(
        account=seller.stripe_account_id, amount=2000, fee=200, order_id=order.pk
    )
    deliver("charge.succeeded", charge)
    deliver("charge.dispute.created", fake_stripe.dispute(charge["id"]))
    order.refresh_from_db()
    assert order.dispute_status == "needs_response"
    assert order.dispute_evidence_due_by is not None
    assert order.status == Order.Status.PAID  # the order itself stays paid


def test_a_charges_events_in_one_batch_are_synced_once_and_read_once(fake_stripe):
    """The events of one charge claimed in one batch (a refund's four, shuffled) are handled
    together: the same ledger as one by one, one read of the charge for all of them, and a
    batch of events that tell nothing new reads nothing."""
    from marketplace.events.models import StripeEvent
    from marketplace.events.services import events_drain

    seller = SellerFactory()
    charge = fake_stripe.sale(account=seller.stripe_account_id, amount=5000, fee=500, order_id=9)
    fake_stripe.refund_create(
        charge_id=charge["id"], amount=5000, order_id=9, reason="x", idempotency_key="k"
    )
    refund_id = next(iter(fake_stripe.refunds))
    for event_type, obj in [
        ("transfer.reversed", fake_stripe.transfers[charge["transfer"]]),
        ("refund.created", fake_stripe.refunds[refund_id]),
        ("application_fee.refunded", fake_stripe.fees[charge["application_fee"]]),
        ("charge.refunded", fake_stripe.charges[charge["id"]]),
        ("charge.succeeded", charge),
    ]:
        make_event(event_type, obj)
    events_drain()
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"succeeded"}
    assert fake_stripe.count("charge_retrieve") == 1
    assert seller_ledger(seller) == {"eur": 0}
    assert len(kinds()) == 6
    assert list(ledger_violations()) == []
    # The same news again (an operator's replay of all five, in one batch): nothing read.
    StripeEvent.objects.update(status="received", next_attempt_at=None)
    events_drain()
    assert fake_stripe.count("charge_retrieve") == 1
    assert len(kinds()) == 6
