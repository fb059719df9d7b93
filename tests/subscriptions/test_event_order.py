"""Events in any order, any number of times: the final state is Stripe's.

The property test records real subscription flows on the sandbox (no event delivered while
they run): a free trial ending in a paid invoice, renewals failing through every retry to
``canceled``, and to ``unpaid`` then paid on the hosted invoice page, a plan change with
proration, cancel at period end / resume / cancel again, cancel now. Each example then
delivers all their events, signed, to our webhook endpoints in a random order with duplicate
deliveries, drains the event pipeline, replays a random part of what it processed (a handler
run again), and checks every subscription, invoice, dunning link and ledger entry against
Stripe's. ``tests/subscriptions/test_rules.py`` has the fixed-order case (newest first, then
every event again).
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace import stripe_gateway
from marketplace.events.models import StripeEvent
from marketplace.events.services import events_drain, events_replay
from payouts.checks import ledger_violations
from sandbox import testing
from sandbox.models import SandboxObject
from subscriptions.models import Subscription, SubscriptionInvoice
from tests.factories import UserFactory
from tests.subscriptions.conftest import make_plan, path_of, subscribe
from tests.subscriptions.stripe_state import assert_subscription_is_stripes, stripe_subscription_id

GOOD = "4242 4242 4242 4242"
# Each example delivers every event of the flows (a few hundred): a handful of examples.
settings_for_replay = settings(
    max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def new_subscriber(plan, email: str) -> Subscription:
    client = Client()
    buyer = UserFactory(email=email)
    client.force_login(buyer)
    assert subscribe(client, plan, email=email).status_code == 302
    return Subscription.objects.get(buyer=buyer)


def card_declines(sdk, stripe_id: str) -> None:
    """The buyer's card now declines every charge (it attaches; their bank refuses)."""
    current = sdk.v1.subscriptions.retrieve(stripe_id)
    pm = sdk.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": current.customer})
    sdk.v1.subscriptions.update(stripe_id, {"default_payment_method": pm.id})


def pay_on_the_hosted_page(url: str) -> None:
    response = Client().post(
        path_of(url), {"card_number": GOOD, "expiry": "12 / 34", "cvc": "123", "name": "Ada"}
    )
    assert response.status_code in (200, 302), response.content[:500]


def open_invoices(sdk, stripe_id: str) -> list:
    return sdk.v1.invoices.list({"subscription": stripe_id, "status": "open"}).data


def period_passes(sdk, stripe_id: str) -> None:
    """To the end of the subscription's period, past the hour its renewal stays a draft."""
    end = sdk.v1.subscriptions.retrieve(stripe_id)["items"]["data"][0]["current_period_end"]
    testing.advance(max(end - testing.now(), 0) + 7200)


def retries_run_out(sdk, stripe_id: str) -> None:
    """Each retry of the subscription's open invoice, until Stripe stops trying."""
    while due := [i.next_payment_attempt for i in open_invoices(sdk, stripe_id)]:
        if not any(due):
            return
        testing.advance(max(min(filter(None, due)) - testing.now(), 0) + 60)


def record_flows(sdk, settings, seller, listing) -> dict[str, str]:
    """Run the flows on the sandbox; returns our subscription's name -> Stripe's id."""
    basic = make_plan(seller, listing, name="Basic", amount=1000)
    pro = make_plan(seller, listing, name="Pro", amount=2500)
    trial = make_plan(seller, listing, name="Try", amount=1500, trial_days=14)
    subs = {
        "trial": new_subscriber(trial, "trial@example.com"),
        "fails": new_subscriber(basic, "fails@example.com"),
        "upgrades": new_subscriber(basic, "upgrades@example.com"),
        "cancels": new_subscriber(basic, "cancels@example.com"),
        "cancels now": new_subscriber(pro, "now@example.com"),
    }
    ids = {name: stripe_subscription_id(sdk, sub) for name, sub in subs.items()}
    card_declines(sdk, ids["fails"])
    testing.advance(days=10)
    subs["unpaid"] = new_subscriber(basic, "unpaid@example.com")
    ids["unpaid"] = stripe_subscription_id(sdk, subs["unpaid"])
    card_declines(sdk, ids["unpaid"])
    current = sdk.v1.subscriptions.retrieve(ids["upgrades"])
    sdk.v1.subscriptions.update(
        ids["upgrades"],
        {
            "items": [{"id": current["items"]["data"][0]["id"], "price": pro.stripe_price_id}],
            "proration_behavior": "create_prorations",
        },
    )
    sdk.v1.subscriptions.update(ids["cancels"], {"cancel_at_period_end": True})
    sdk.v1.subscriptions.cancel(ids["cancels now"])
    testing.advance(days=5)  # the trial ends: its first invoice is paid
    sdk.v1.subscriptions.update(ids["cancels"], {"cancel_at_period_end": False})
    sdk.v1.subscriptions.update(ids["cancels"], {"cancel_at_period_end": True})
    period_passes(sdk, ids["fails"])  # renewals: "fails" declined, "cancels" ends
    retries_run_out(sdk, ids["fails"])  # canceled (the setting's default)
    settings.SANDBOX_BILLING_AFTER_RETRIES = "unpaid"
    if not open_invoices(sdk, ids["unpaid"]):
        period_passes(sdk, ids["unpaid"])  # its renewal is declined
    retries_run_out(sdk, ids["unpaid"])
    assert sdk.v1.subscriptions.retrieve(ids["unpaid"]).status == "unpaid"
    for invoice in open_invoices(sdk, ids["unpaid"]):
        pay_on_the_hosted_page(invoice.hosted_invoice_url)  # active again
    return ids


def sign(event: dict, secrets: dict[bool, str]) -> tuple[str, bytes, str]:
    body = json.dumps(event)
    connect = bool(event.get("account"))
    path = "/stripe/webhook/connect/" if connect else "/stripe/webhook/"
    return path, body.encode(), testing.sign(body, secrets[connect])


def endpoint_secrets() -> dict[bool, str]:
    secrets = {}
    for row in SandboxObject.objects.filter(object="webhook_endpoint"):
        url = row.data["url"]
        if url.endswith("/stripe/webhook/connect/"):
            secrets[True] = testing.endpoint_secret(row.id)
        elif url.endswith("/stripe/webhook/"):
            secrets[False] = testing.endpoint_secret(row.id)
    return secrets


@pytest.mark.django_db
def test_any_order_and_duplicates_end_in_stripes_state(sandbox, seller, listing, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"  # the sandbox keeps the events to itself
    sdk = stripe_gateway.client()
    ids = record_flows(sdk, settings, seller, listing)
    expected = {name: sdk.v1.subscriptions.retrieve(sid).status for name, sid in ids.items()}
    # The flows reached what they are about.
    assert expected == {
        "trial": "active",
        "fails": "canceled",
        "upgrades": "active",
        "cancels": "canceled",
        "cancels now": "canceled",
        "unpaid": "active",
    }
    # Nothing of them was delivered while they ran (only the seller's onboarding before).
    assert not StripeEvent.objects.filter(type__startswith="invoice.").exists()
    assert not StripeEvent.objects.filter(type__startswith="customer.subscription.").exists()
    events = testing.events()
    secrets = endpoint_secrets()
    by_stripe_id = {stripe_subscription_id(sdk, sub): sub.pk for sub in Subscription.objects.all()}
    types = {e["type"] for e in events}
    assert {"invoice.paid", "invoice.payment_failed", "customer.subscription.deleted"} <= types

    @settings_for_replay
    @given(
        order=st.permutations(range(len(events))),
        again=st.lists(
            st.tuples(st.integers(0, len(events) - 1), st.integers(0, 10**6)),
            max_size=len(events) // 2,
        ),
        replayed=st.lists(st.integers(0, len(events) - 1), max_size=len(events) // 4),
    )
    def deliver(order, again, replayed):
        example = transaction.atomic()
        example.__enter__()
        try:
            webhook = Client()
            # Duplicates: some events delivered twice, the second time at a random place.
            sequence = list(order)
            for index, where in again:
                sequence.insert(where % (len(sequence) + 1), index)
            for index in sequence:
                path, body, signature = sign(events[index], secrets)
                response = webhook.post(
                    path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
                )
                assert response.status_code == 200, response.content
            events_drain()
            # An operator replays some events: their handlers run a second time.
            chosen = StripeEvent.objects.filter(
                stripe_id__in=[events[i]["id"] for i in replayed]
            ).values_list("id", flat=True)
            events_replay(event_ids=list(chosen))
            events_drain()
            failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
            assert list(failed.values_list("type", "last_error")) == []
            assert StripeEvent.objects.count() == len(events)
            for stripe_id, pk in by_stripe_id.items():
                sub = Subscription.objects.select_related("plan").get(pk=pk)
                assert_subscription_is_stripes(sdk, sub, stripe_id)
            assert list(ledger_violations()) == []
        finally:
            transaction.set_rollback(True)
            example.__exit__(None, None, None)

    deliver()


@pytest.mark.django_db(transaction=True)
def test_a_renewal_failing_while_an_earlier_one_is_still_retried(
    sandbox, seller, listing, settings
):
    """Two open invoices (Stripe retries the older one when the next renewal fails too): the
    buyer's link is the older one, then, once it is paid, the other one; never a paid one."""
    settings.SANDBOX_BILLING_RETRY_DAYS = [20, 20]
    sdk = stripe_gateway.client()
    sub = new_subscriber(make_plan(seller, listing), "buyer@example.com")
    card_declines(sdk, sub.stripe_subscription_id)
    testing.advance(days=31, hours=2)  # the first renewal fails: Stripe retries in 20 days
    sub.refresh_from_db()
    first = SubscriptionInvoice.objects.get(subscription=sub, status="open")
    assert sub.status == Subscription.Status.PAST_DUE and sub.pay_url == first.hosted_invoice_url
    testing.advance(int(sub.current_period_end.timestamp()) - testing.now() + 7200)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE
    assert SubscriptionInvoice.objects.filter(subscription=sub, status="open").count() == 2
    first.refresh_from_db()
    assert sub.pay_url == first.hosted_invoice_url  # the older one, whatever came last
    second = SubscriptionInvoice.objects.exclude(pk=first.pk).get(subscription=sub, status="open")
    assert sub.next_payment_attempt == min(first.next_payment_attempt, second.next_payment_attempt)

    pay_on_the_hosted_page(sub.pay_url)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.PAST_DUE  # the other invoice is still open
    assert sub.pay_url == second.hosted_invoice_url
    assert sub.next_payment_attempt == second.next_payment_attempt
    pay_on_the_hosted_page(sub.pay_url)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert (sub.pay_url, sub.next_payment_attempt) == ("", None)
    assert list(ledger_violations()) == []
    assert_subscription_is_stripes(sdk, sub, sub.stripe_subscription_id)
