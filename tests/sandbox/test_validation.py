"""Params are checked against the SDK's TypedDicts (stripe.params) and coerced from strings."""

from __future__ import annotations

import pytest
import stripe
from stripe.params import AccountCreateParams, EventListParams, WebhookEndpointCreateParams
from stripe.params.checkout import SessionCreateParams

from sandbox.errors import StripeError
from sandbox.formdecode import decode
from sandbox.validation import validate


def check(query: str, cls):
    return validate(decode(query), cls)


def error_of(query: str, cls) -> StripeError:
    with pytest.raises(StripeError) as caught:
        check(query, cls)
    return caught.value


def test_misspelled_top_level_param_is_named():
    error = error_of(
        "mode=payment&success_url=https://x&application_fee_amout=100", SessionCreateParams
    )
    assert (error.status, error.code, error.param) == (
        400,
        "parameter_unknown",
        "application_fee_amout",
    )
    assert error.message == "Received unknown parameter: application_fee_amout"


def test_misspelled_nested_param_is_named_with_brackets():
    error = error_of(
        "mode=payment&payment_intent_data[application_fee_amout]=100", SessionCreateParams
    )
    assert error.param == "payment_intent_data[application_fee_amout]"
    assert error.code == "parameter_unknown"


def test_request_options_are_not_params():
    # stripe_account / idempotency_key are headers; as form params Stripe rejects them.
    assert error_of("stripe_account=acct_1", AccountCreateParams).param == "stripe_account"


def test_values_are_coerced_to_the_declared_types():
    params = check(
        "mode=payment&line_items[0][quantity]=2&line_items[0][price_data][currency]=eur"
        "&line_items[0][price_data][unit_amount]=1500"
        "&line_items[0][price_data][product_data][name]=Mug"
        "&payment_intent_data[application_fee_amount]=150"
        "&payment_intent_data[transfer_data][destination]=acct_1"
        "&metadata[order]=42&expand[0]=payment_intent&expires_at=1800000000",
        SessionCreateParams,
    )
    item = params["line_items"][0]
    assert item["quantity"] == 2
    assert item["price_data"]["unit_amount"] == 1500
    assert params["payment_intent_data"]["application_fee_amount"] == 150
    assert params["metadata"] == {"order": "42"}
    assert params["expand"] == ["payment_intent"]
    assert params["expires_at"] == 1800000000


def test_booleans_and_literals():
    params = check(
        "controller[stripe_dashboard][type]=express&controller[fees][payer]=application"
        "&capabilities[transfers][requested]=true&business_type=individual",
        AccountCreateParams,
    )
    assert params["capabilities"]["transfers"]["requested"] is True
    assert params["controller"]["stripe_dashboard"]["type"] == "express"
    assert error_of("capabilities[transfers][requested]=yes", AccountCreateParams).param == (
        "capabilities[transfers][requested]"
    )
    bad_enum = error_of("controller[fees][payer]=somebody", AccountCreateParams)
    assert bad_enum.param == "controller[fees][payer]"


def test_mistyped_integer_is_parameter_invalid_integer():
    error = error_of("line_items[0][quantity]=two", SessionCreateParams)
    assert (error.code, error.param) == ("parameter_invalid_integer", "line_items[0][quantity]")


def test_required_params_are_required():
    error = error_of("url=https://example.com", WebhookEndpointCreateParams)
    assert (error.code, error.param) == ("parameter_missing", "enabled_events")


def test_list_filters_and_brackets_append_syntax():
    params = check("types[]=a.b&types[]=c.d&created[gte]=10&limit=3", EventListParams)
    assert params == {"types": ["a.b", "c.d"], "created": {"gte": 10}, "limit": 3}
    assert check("created=10", EventListParams) == {"created": 10}


def test_empty_string_unsets_metadata():
    assert check("metadata=", AccountCreateParams) == {"metadata": ""}


def test_no_params_class_allows_only_expand():
    assert validate(decode("expand[]=a"), None) == {"expand": ["a"]}
    with pytest.raises(StripeError):
        validate(decode("limit=3"), None)


def test_sdk_raises_its_own_error_class(sdk):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.webhook_endpoints.create(
            {"url": "https://example.com", "enabled_events": ["*"], "application_fee_amout": 1}  # type: ignore[typeddict-unknown-key]
        )
    assert caught.value.param == "application_fee_amout"
    assert caught.value.code == "parameter_unknown"
    assert caught.value.http_status == 400
