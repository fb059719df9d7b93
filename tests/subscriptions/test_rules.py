"""Bad input is refused with a clear message and nothing in Stripe; events out of order or
twice end in Stripe's state; people see only their own subscriptions and subscribers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.errors import UserFacingError
from marketplace.events.models import StripeEvent
from sandbox import testing
from subscriptions import services
from subscriptions.models import Plan, Subscription, SubscriptionInvoice, UsageRecord
from tests.factories import UserFactory
from tests.subscriptions.conftest import make_plan, subscribe

pytestmark = [pytest.mark.django_db(transaction=True)]


def stripe_writes() -> list[str]:
    return [r.path for r in testing.requests(method="POST")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": 0}, "more than zero"),
        ({"amount": -500}, "more than zero"),
        ({"trial_days": 731}, "0 to 730 days"),
        ({"trial_days": -1}, "0 to 730 days"),
        ({"interval": "week"}, "monthly or yearly"),
        ({"interval": "fortnight"}, "monthly or yearly"),
        ({"meter_name": "lessons", "usage_unit_amount": None}, "price of one unit"),
        ({"meter_name": "lessons", "usage_unit_amount": 0}, "price of one unit"),
        ({"usage_unit_amount": 100}, "Name what is counted"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_plans_are_refused_and_nothing_reaches_stripe(seller, listing, fields, message):
    before = stripe_writes()
    with pytest.raises(UserFacingError) as caught:
        make_plan(seller, listing, **fields)
    assert message in caught.value.message
    assert Plan.objects.count() == 0
    assert stripe_writes() == before


def test_a_meter_name_reused_is_refused(seller, listing):
    make_plan(seller, listing, meter_name="Lessons taken", usage_unit_amount=500)
    before = stripe_writes()
    with pytest.raises(UserFacingError) as caught:
        make_plan(seller, listing, name="Other", meter_name="lessons  TAKEN", usage_unit_amount=9)
    assert "already count" in caught.value.message
    assert Plan.objects.count() == 1 and stripe_writes() == before


def test_plan_form_shows_the_message(client, seller, listing):
    client.force_login(seller.user)
    url = reverse("subscriptions:plan_new", args=[listing.pk])
    response = client.post(url, {"name": "Box", "price": "0", "interval": "month"})
    assert response.status_code == 400
    assert "more than zero" in response.content.decode()
    response = client.post(
        url, {"name": "Box", "price": "9.90", "interval": "month", "trial_days": "900"}
    )
    assert response.status_code == 400 and "0 to 730 days" in response.content.decode()
    response = client.post(url, {"name": "Box", "price": "abc", "interval": "month"})
    assert (
        response.status_code == 400 and "Enter the price as a number" in response.content.decode()
    )
    assert Plan.objects.count() == 0
    response = client.post(
        url, {"name": "Box", "price": "9.90", "interval": "month", "is_active": "on"}
    )
    assert response.status_code == 303
    plan = Plan.objects.get()
    assert plan.amount == 990 and plan.stripe_price_id.startswith("price_")


def test_a_price_change_is_a_new_stripe_price_and_subscribers_keep_theirs(
    buyer_client, seller, monthly
):
    subscribe(buyer_client, monthly)
    old_price = monthly.stripe_price_id
    updated = services.plan_update(
        seller=seller,
        plan_id=monthly.pk,
        data=services.PlanInput(name="Monthly", amount=1500, interval="month"),
    )
    assert updated.stripe_price_id and updated.stripe_price_id != old_price
    assert updated.price_version == 2
    sub = Subscription.objects.get()
    assert sub.stripe_price_id == old_price and sub.amount == 1000
    testing.advance(days=31)
    assert SubscriptionInvoice.objects.filter(amount_paid=1000).count() == 2


def test_usage_is_refused_for_bad_quantities_and_non_subscribers(buyer_client, seller, listing):
    plan = make_plan(seller, listing, meter_name="lessons", usage_unit_amount=300)
    other_plan = make_plan(seller, listing, name="Flat", amount=2000)
    subscribe(buyer_client, other_plan)
    flat_sub = Subscription.objects.get()
    with pytest.raises(UserFacingError, match="no usage-based part"):
        services.usage_record(seller=seller, subscription_id=flat_sub.pk, quantity=3)
    # A subscription that ended (canceled) takes no usage.
    sub = Subscription.objects.create(
        buyer=UserFactory(),
        plan=plan,
        seller=seller,
        currency="eur",
        application_fee_percent=10,
        stripe_customer_id="cus_x",
        stripe_usage_price_id=plan.stripe_usage_price_id,
        status=Subscription.Status.CANCELED,
    )
    with pytest.raises(UserFacingError, match="not subscribed"):
        services.usage_record(seller=seller, subscription_id=sub.pk, quantity=3)
    Subscription.objects.filter(pk=sub.pk).update(status=Subscription.Status.ACTIVE)
    for bad, message in [
        ("-2", "cannot be negative"),
        ("0", "at least 1"),
        ("2.5", "whole number"),
    ]:
        with pytest.raises(UserFacingError, match=message):
            services.usage_record(seller=seller, subscription_id=sub.pk, quantity=bad)
    assert UsageRecord.objects.count() == 0
    # Another seller's subscriber is not found.
    other = Subscription.objects.create(
        buyer=UserFactory(),
        plan=plan,
        seller=seller,
        currency="eur",
        application_fee_percent=10,
        stripe_customer_id="cus_y",
    )
    from tests.buyers.factories import SellerFactory

    with pytest.raises(UserFacingError, match="No such subscriber"):
        services.usage_record(seller=SellerFactory(), subscription_id=other.pk, quantity=1)


def test_events_out_of_order_and_twice_end_in_stripes_state(buyer_client, monthly, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    subscribe(buyer_client, monthly)
    testing.advance(days=31)
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.PENDING  # nothing delivered yet
    # Newest first: invoice.paid of the renewal before customer.subscription.created.
    testing.deliver_pending(reverse=True)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
    end = sub.current_period_end
    # Every event again (duplicates), oldest first: nothing moves back.
    for event in StripeEvent.objects.order_by("created"):
        testing.redeliver(event.stripe_id)
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and sub.current_period_end == end
    assert SubscriptionInvoice.objects.filter(status="paid").count() == 2
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def test_id_sweeps_buyers_and_sellers_see_only_their_own(client, buyer_client, seller, monthly):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    # Another buyer: every page and action on this subscription is a 404.
    client.force_login(UserFactory(email="other@example.com"))
    for name in ("detail", "change", "cancel", "resume", "cancel_now", "portal"):
        url = reverse(f"subscriptions:{name}", args=[sub.pk])
        response = client.post(url, {"plan": monthly.pk}) if name != "detail" else client.get(url)
        assert response.status_code == 404, (name, response.status_code)
    assert b"Lesson club" not in client.get(reverse("subscriptions:list")).content
    # Another seller: the subscriber page, usage, plan edit and plan creation are 404s.
    from tests.buyers.factories import SellerFactory

    other_seller = SellerFactory()
    client.force_login(other_seller.user)
    for url in (
        reverse("subscriptions:subscriber", args=[sub.pk]),
        reverse("subscriptions:plan_edit", args=[monthly.pk]),
        reverse("subscriptions:plan_new", args=[monthly.listing_id]),
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"quantity": "1"}).status_code == 404, url
    assert (
        client.post(
            reverse("subscriptions:usage_correct", args=[sub.pk, 1]), {"quantity": "1"}
        ).status_code
        == 404
    )
    assert b"buyer@example.com" not in client.get(reverse("subscriptions:seller")).content
    sub.refresh_from_db()
    assert sub.status == Subscription.Status.ACTIVE and not sub.cancel_at_period_end
    # The owner sees it.
    client.force_login(seller.user)
    page = client.get(reverse("subscriptions:seller")).content.decode()
    assert "buyer@example.com" in page and "€10.00" in page


def test_mrr_without_subscribers_is_zero_in_a_currency(client, seller, monthly):
    """No live subscription: the MRR card shows zero money (seller's currency), not a bare 0."""
    client.force_login(seller.user)
    page = client.get(reverse("subscriptions:seller")).content.decode()
    card = page.split("MRR (monthly recurring revenue)")[0].rsplit('<div class="card">', 1)[1]
    assert "€0.00" in card, card


def test_a_paid_invoice_whose_charge_we_never_learnt_is_reported(monthly):
    """Reconciliation of invoices: a paid invoice with no known charge is a gap once settled."""
    import datetime as dt

    from django.utils import timezone

    from payouts.services.invoices import invoices_against_ledger

    sub = Subscription.objects.create(
        buyer=UserFactory(),
        plan=monthly,
        seller=monthly.seller,
        currency="eur",
        application_fee_percent=services.fee_percent(plan=monthly),
        amount=1000,
        interval="month",
    )
    now = timezone.now()
    SubscriptionInvoice.objects.create(
        subscription=sub,
        stripe_invoice_id="in_uncharged",
        status="paid",
        currency="eur",
        amount_due=1000,
        amount_paid=1000,
        paid_at=now - dt.timedelta(minutes=10),
    )
    assert list(invoices_against_ledger(now=now)) == []  # still settling
    [issue] = list(invoices_against_ledger(now=now + dt.timedelta(hours=2)))
    assert "in_uncharged" in issue and "charge is unknown" in issue
