"""Stripe requests per user action, counted at the gateway (``marketplace.stripe_traffic``) on
the sandbox with the real event pipeline: Stripe rate-limits an account (25 requests/s in test
mode, 100 live), so what one order costs is what limits how many orders we can take.

Bounds: a paid order 2 (the Checkout Session; then, from the events alone, the list of balance
transactions that tells Stripe's processing fee, one per batch of events: one per order here,
where each event is its own batch, one per up to 100 charges when events come in bursts)
whichever of the webhook and the success page comes first; a refund 3; a several-seller purchase
2 + one transfer per seller. The ledger stays complete (every movement recorded, Stripe's
processing fee included)."""

from __future__ import annotations

import uuid

import pytest

from buyers.models import Order, Purchase
from marketplace import stripe_traffic
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction
from payouts.services import refund_request_create
from sandbox import testing
from tests.buyers.test_sandbox_payments import (  # noqa: F401
    buy,
    buyer_client,
    path_of,
    pay,
    sandbox,
    shop,
)
from tests.payouts.test_e2e_cart import checkout_cart, two_shops  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

K = LedgerTransaction.Kind


def kinds(charge_id: str) -> list[str]:
    return sorted(
        LedgerTransaction.objects.filter(charge_id=charge_id).values_list("kind", flat=True)
    )


def test_paid_order_webhook_first_costs_two_requests(shop, buyer_client):  # noqa: F811
    with stripe_traffic.recording() as sent:
        checkout_path = buy(buyer_client, shop)
        response = pay(buyer_client, checkout_path, "4242424242424242")
        page = buyer_client.get(path_of(response["Location"]), follow=True)
    assert "Paid" in page.content.decode()
    assert sent.endpoints() == [
        "POST /v1/checkout/sessions",
        # Events come inline as the payment commits: charge.succeeded tells the purchase its
        # charge, charge.updated (the charge settled) records it with its transfer and
        # application fee, checkout.session.completed pays the order, all from what the signed
        # events state; after its batch, the fee is read from the balance transactions list.
        # The success page finds the order paid: no more requests.
        "GET /v1/balance_transactions",
    ]
    order = Order.objects.get()
    assert kinds(order.charge_id) == sorted([K.CHARGE, K.STRIPE_FEE, K.TRANSFER, K.APPLICATION_FEE])
    assert list(ledger_violations()) == []


def test_paid_order_success_page_first_costs_two_requests(
    shop,  # noqa: F811
    buyer_client,  # noqa: F811
    settings,
):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    with stripe_traffic.recording() as sent:
        checkout_path = buy(buyer_client, shop)
        response = pay(buyer_client, checkout_path, "4242424242424242")
        buyer_client.get(path_of(response["Location"]), follow=True)
        testing.deliver_pending()  # then the webhooks: the ledger finds the charge recorded
    # The success page's one read of the session (expanded down to the charge's balance
    # transaction) fulfils the order and hands the charge, with Stripe's fee, to the ledger.
    assert sent.endpoints() == ["POST /v1/checkout/sessions", "GET /v1/checkout/sessions/{id}"]
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert kinds(order.charge_id) == sorted([K.CHARGE, K.STRIPE_FEE, K.TRANSFER, K.APPLICATION_FEE])
    assert list(ledger_violations()) == []


def test_the_ledger_reads_the_charge_when_its_events_do_not_state_it(
    shop,  # noqa: F811
    buyer_client,  # noqa: F811
    monkeypatch,
):
    from payouts.services import charge_sync

    # Payloads that do not state all the ledger records (an older API version's, say): the
    # charge's event reads the charge, and the ledger is still complete from the events alone.
    monkeypatch.setattr(charge_sync, "_charge_from_event", lambda told: None)
    monkeypatch.setattr(charge_sync, "_settling", lambda told: False)
    with stripe_traffic.recording() as sent:
        response = pay(buyer_client, buy(buyer_client, shop), "4242424242424242")
        buyer_client.get(path_of(response["Location"]), follow=True)
    assert "GET /v1/charges/{id}" in sent.endpoints()
    assert "GET /v1/checkout/sessions/{id}" not in sent.endpoints()
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    assert kinds(order.charge_id) == sorted([K.CHARGE, K.STRIPE_FEE, K.TRANSFER, K.APPLICATION_FEE])
    assert list(ledger_violations()) == []


def test_a_sellers_refund_costs_three_requests(shop, buyer_client):  # noqa: F811
    response = pay(buyer_client, buy(buyer_client, shop), "4242424242424242")
    buyer_client.get(path_of(response["Location"]), follow=True)
    order = Order.objects.get()
    with stripe_traffic.recording() as sent:
        refund_request_create(
            actor=shop.seller.user,
            charge_id=order.charge_id,
            amount=order.amount,
            reason="damaged",
            client_token=uuid.uuid4(),
        )
    # The refund, then (its events, delivered as it commits) one read of the charge and one
    # list of its refunds; the reversal, fee refund and our own sync afterwards read nothing.
    assert sent.endpoints() == ["POST /v1/refunds", "GET /v1/charges/{id}", "GET /v1/refunds"]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert {K.REFUND, K.TRANSFER_REVERSAL, K.FEE_REFUND} <= set(kinds(order.charge_id))
    assert list(ledger_violations()) == []


def test_two_seller_purchase_costs_two_plus_one_transfer_each(
    two_shops,  # noqa: F811
    buyer_client,  # noqa: F811
):
    mug, vase = two_shops
    with stripe_traffic.recording() as sent:
        checkout_path = checkout_cart(buyer_client, [(mug, 1), (vase, 1)])
        response = pay(buyer_client, checkout_path, "4242424242424242")
        buyer_client.get(path_of(response["Location"]), follow=True)
    # The session's event pays the purchase (its charge told by the charge's own events), the
    # fee comes from the balance transactions list, the transfer job pays each seller.
    assert sorted(sent.endpoints()) == sorted(
        [
            "POST /v1/checkout/sessions",
            "GET /v1/balance_transactions",
            "POST /v1/transfers",
            "POST /v1/transfers",
        ]
    )
    purchase = Purchase.objects.get()
    assert kinds(purchase.charge_id).count(K.STRIPE_FEE) == 1  # from the batched list
    # Each transfer was recorded from its own transfer.created event, with the fee kept.
    assert kinds(purchase.charge_id).count(K.TRANSFER) == 2
    assert kinds(purchase.charge_id).count(K.SEPARATE_FEE) == 2
    assert list(ledger_violations()) == []


def test_a_replayed_money_event_reads_nothing(shop, buyer_client):  # noqa: F811
    from marketplace.events.models import StripeEvent
    from marketplace.events.services import events_drain, events_replay

    response = pay(buyer_client, buy(buyer_client, shop), "4242424242424242")
    buyer_client.get(path_of(response["Location"]), follow=True)
    events = StripeEvent.objects.filter(type__in=["charge.succeeded", "transfer.created"])
    assert events.count() == 2
    with stripe_traffic.recording() as sent:
        assert events_replay(event_ids=[e.pk for e in events]) == 2
        events_drain()
    assert sent.count == 0
    assert set(events.values_list("status", flat=True)) == {StripeEvent.Status.SUCCEEDED}
