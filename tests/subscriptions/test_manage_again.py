"""A buyer changing their mind quickly: cancel, resume, cancel again (or a plan change and its
reverse, then the change again) within the same second. Each is a new request to Stripe, not a
replay of the first one under the same idempotency key: Stripe ends as the buyer last asked, and
our subscription is Stripe's."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from marketplace import stripe_gateway
from subscriptions import services
from subscriptions.models import Subscription
from tests.subscriptions.conftest import make_plan, subscribe
from tests.subscriptions.stripe_state import assert_subscription_is_stripes

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def one_second(monkeypatch):
    """Every call of the services sees the same wall-clock second."""
    frozen = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda: frozen))


def test_cancel_resume_cancel_in_one_second(buyer_client, buyer, monthly, one_second):
    subscribe(buyer_client, monthly)
    sub = Subscription.objects.get()
    for cancel in (True, False, True):
        services.subscription_set_cancel(buyer=buyer, subscription_id=sub.pk, cancel=cancel)
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub.cancel_at_period_end is True  # what the buyer asked last
    assert_subscription_is_stripes(stripe_gateway.client(), sub, sub.stripe_subscription_id)


def test_change_back_and_again_at_one_proration_date(buyer_client, buyer, seller, listing):
    basic = make_plan(seller, listing, name="Basic", amount=1000)
    pro = make_plan(seller, listing, name="Pro", amount=3000)
    subscribe(buyer_client, basic)
    sub = Subscription.objects.get()
    when = services.subscription_change_preview(
        buyer=buyer, subscription_id=sub.pk, plan_id=pro.pk
    ).proration_date
    for plan in (pro, basic, pro):
        services.subscription_change_plan(
            buyer=buyer, subscription_id=sub.pk, plan_id=plan.pk, proration_date=when
        )
    stripe_sub = stripe_gateway.client().v1.subscriptions.retrieve(sub.stripe_subscription_id)
    assert stripe_sub["items"]["data"][0]["price"]["id"] == pro.stripe_price_id
    assert_subscription_is_stripes(stripe_gateway.client(), sub, sub.stripe_subscription_id)


def test_a_subscription_set_to_end_asks_to_be_kept_before_a_plan_change(
    buyer_client, buyer, seller, listing
):
    basic = make_plan(seller, listing, name="Basic", amount=1000)
    pro = make_plan(seller, listing, name="Pro", amount=3000)
    subscribe(buyer_client, basic)
    sub = Subscription.objects.get()
    services.subscription_set_cancel(buyer=buyer, subscription_id=sub.pk, cancel=True)
    page = buyer_client.get(f"/subscriptions/{sub.pk}/").content.decode()
    assert "To change plan, keep your subscription first." in page
    assert "See the price" not in page
    # Asked anyway (an old tab): a clear answer, not Stripe's "no upcoming invoice".
    response = buyer_client.get(f"/subscriptions/{sub.pk}/change/", {"plan": pro.pk}, follow=True)
    assert response.status_code in (200, 400)
    assert "keep it first, then change plan" in response.content.decode()
    services.subscription_set_cancel(buyer=buyer, subscription_id=sub.pk, cancel=False)
    preview = services.subscription_change_preview(
        buyer=buyer, subscription_id=sub.pk, plan_id=pro.pk
    )
    assert preview.plan.pk == pro.pk
