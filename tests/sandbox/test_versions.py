"""Stripe-Version and payment method types: the version is echoed, an older version gets the
older parameter names, an unknown one a clear 400; payment method types the sandbox does not
emulate are refused naming the type (never silently `card`)."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing, versions
from sandbox.fidelity import check_object
from tests.sandbox.payhelpers import as_json

OLDER = "2024-06-20"  # a version Stripe's samples pin (stripe-node 16)


def test_the_version_is_echoed_in_the_response_header(sdk):
    pi = sdk.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd"}, {"stripe_version": OLDER}
    )
    assert pi.last_response.headers["stripe-version"] == OLDER
    current = sdk.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    assert current.last_response.headers["stripe-version"] == versions.CURRENT


def test_events_carry_the_requests_version(sdk):
    sdk.v1.payment_intents.create({"amount": 1000, "currency": "usd"}, {"stripe_version": OLDER})
    (event,) = testing.events(event_type="payment_intent.created")
    assert event["api_version"] == OLDER


@pytest.mark.parametrize("version", ["2099-01-01", "yesterday", "2011-01-01"])
def test_a_version_the_sandbox_does_not_serve_is_a_400_naming_the_versions(sdk, version):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd"}, {"stripe_version": version}
        )
    assert caught.value.http_status == 400
    message = caught.value.user_message
    assert version in message and versions.OLDEST in message and versions.CURRENT in message


def test_older_version_takes_payment_method_types_on_payment_intents(sdk):
    pi = sdk.v1.payment_intents.create(
        {"amount": 1000, "currency": "eur", "payment_method_types": ["card", "sepa_debit"]},
        {"stripe_version": OLDER},
    )
    check_object(as_json(pi))
    assert pi.payment_method_types == ["card", "sepa_debit"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "eur", "payment_method_types": ["card", "ideal"]},
            {"stripe_version": OLDER},
        )
    assert caught.value.param == "payment_method_types[1]"
    assert "`ideal`" in caught.value.user_message


def test_current_version_refuses_payment_method_types_as_stripe_does(sdk):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method_types": ["card"]}
        )
    assert caught.value.code == "payment_method_types_no_longer_supported"
    assert caught.value.param == "payment_method_types"
    body = caught.value.json_body["error"]
    assert body["type"] == "invalid_request_error" and body["doc_url"].endswith(
        "payment_method_types_no_longer_supported"
    )


def test_allowed_types_filter_by_currency_but_refuse_what_is_not_emulated(sdk):
    pi = sdk.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd", "allowed_payment_method_types": ["card", "sepa_debit"]}
    )
    assert pi.payment_method_types == ["card"]  # SEPA takes euros only
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "allowed_payment_method_types": ["klarna"]}
        )
    assert caught.value.param == "allowed_payment_method_types[0]"
    assert "`klarna`" in caught.value.user_message
    assert caught.value.code == "payment_method_unactivated"


def test_payment_method_data_of_a_type_not_emulated_is_refused(sdk):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method_data": {"type": "cashapp"}}
        )
    assert caught.value.param == "payment_method_data[type]"
    assert "`cashapp`" in caught.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as pm:
        sdk.v1.payment_methods.create({"type": "us_bank_account"})
    assert pm.value.param == "type" and "`us_bank_account`" in pm.value.user_message


def test_sepa_payment_method_data_makes_a_processing_intent(sdk):
    pi = sdk.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "eur",
            "confirm": True,
            "payment_method_data": {
                "type": "sepa_debit",
                "sepa_debit": {"iban": "DE89370400440532013000"},
                "billing_details": {"name": "Bo Buyer", "email": "bo@example.com"},
            },
        }
    )
    assert pi.status == "processing"


def test_webhook_endpoint_keeps_its_api_version(sdk, receiver, hook, settings):
    endpoint = sdk.v1.webhook_endpoints.create(
        {"url": "http://testserver/hooks/old/", "enabled_events": ["*"], "api_version": OLDER}
    )
    assert endpoint.api_version == OLDER
    receiver.secrets["old"] = endpoint.secret
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    sdk.v1.customers.create({"email": "a@example.com"})
    testing.deliver_pending()
    assert [e.api_version for e in receiver.received["old"]] == [OLDER]
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.webhook_endpoints.create(
            {"url": "http://testserver/hooks/x/", "enabled_events": ["*"], "api_version": "v9"}
        )
