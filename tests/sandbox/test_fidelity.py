"""Every object the sandbox returns matches the SDK's resource class (sandbox.fidelity)."""

from __future__ import annotations

import json

import pytest

from sandbox import testing
from sandbox.fidelity import FidelityError, check_list, check_object, problems
from sandbox.models import SandboxObject
from tests.sandbox.test_accounts import create_express, onboarding_link, open_link, submit


def as_json(obj) -> dict:
    return json.loads(str(obj))


def test_checker_catches_unknown_missing_and_mistyped_fields():
    good = {
        "id": "we_1",
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": 1,
        "description": None,
        "enabled_events": ["*"],
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": "https://example.com",
    }
    check_object(good)
    assert problems({**good, "application_fee_amout": 1}) == [
        "webhook_endpoint.application_fee_amout: not declared by WebhookEndpoint"
    ]
    missing = dict(good)
    del missing["url"]
    assert problems(missing) == [
        "webhook_endpoint.url: missing (declared non-Optional by WebhookEndpoint)"
    ]
    assert problems({**good, "created": "yesterday"}) == [
        "webhook_endpoint.created: expected an integer, got 'yesterday'"
    ]
    with pytest.raises(FidelityError):
        check_object({**good, "livemode": None})


def test_checker_walks_nested_classes_lists_and_event_objects():
    account = {"id": "acct_1", "object": "account", "requirements": {"currently_due": "x"}}
    assert "account.requirements.currently_due: expected a list, got str" in problems(account)
    event = {
        "id": "evt_1",
        "object": "event",
        "created": 1,
        "livemode": False,
        "pending_webhooks": 0,
        "type": "account.updated",
        "data": {"object": {"id": "acct_1", "object": "account", "bogus": True}},
    }
    found = problems(event)
    assert "event.data.object.bogus: not declared by Account" in found
    # strict at the top level of API objects: every declared field, null when unset
    assert "event.api_version: missing (declared by Event; null if unset)" in found
    assert "event.data.object.email: missing (declared by Account; null if unset)" in found
    # but not the fields Stripe includes only in some cases
    assert not any(p.startswith("event.account:") for p in found)
    assert not any("data.object.company:" in p for p in found)
    with pytest.raises(FidelityError):
        check_list({"object": "list", "data": [{"id": "x", "object": "product"}], "url": "/v1/x"})


def test_every_stored_object_and_event_matches_the_sdk(sdk, client, receiver, settings):
    """A sweep: drive every resource, then check every object the sandbox stored and every
    event's data.object."""
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    endpoint = sdk.v1.webhook_endpoints.create(
        {"url": "https://example.com/h", "enabled_events": ["*"], "connect": True}
    )
    check_object(as_json(endpoint))  # including the one-time secret
    check_object(as_json(sdk.v1.webhook_endpoints.retrieve(endpoint.id)))
    check_list(as_json(sdk.v1.webhook_endpoints.list()))
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    submit(client, link, open_link(client, link))
    check_object(as_json(sdk.v1.accounts.login_links.create(account.id)))
    check_object(as_json(sdk.v1.accounts.retrieve_current()))
    check_list(as_json(sdk.v1.accounts.external_accounts.list(account.id)))
    bank = sdk.v1.accounts.external_accounts.create(
        account.id, {"external_account": "btok_us_verified"}
    )
    check_object(as_json(bank))
    customer = sdk.v1.customers.create({"email": "a@example.com"})
    sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    product = sdk.v1.products.create({"name": "Mug"})
    sdk.v1.prices.create({"product": product.id, "currency": "eur", "unit_amount": 100})
    check_list(as_json(sdk.v1.events.list({"limit": 100})))
    check_list(as_json(sdk.v1.events.list({"limit": 100}, options={"stripe_account": account.id})))
    check_object(as_json(sdk.v1.accounts.delete(account.id)))

    api_objects = SandboxObject.objects.exclude(
        object__in=["account_link_token", "login_link_token", "platform_account"]
    )
    kinds = set()
    for row in api_objects:
        kinds.add(row.object)
        check_object(row.data)
    assert {
        "account",
        "bank_account",
        "customer",
        "event",
        "payment_method",
        "price",
        "product",
        "webhook_endpoint",
    } <= kinds
    assert testing.events(event_type="account.updated")
