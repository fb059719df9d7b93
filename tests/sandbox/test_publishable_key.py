"""The publishable key over HTTP (/sandbox/v1/...), as the stand-in Stripe.js uses it: only the
client-side endpoints Stripe opens to publishable keys, with the intent's client secret; every
other call is Stripe's 401 for publishable keys; responses are the client-side view."""

from __future__ import annotations

import pytest

from sandbox import testing

PK = {"HTTP_AUTHORIZATION": "Bearer pk_test_sandbox"}
FORM = "application/x-www-form-urlencoded"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, settings):
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    return client


def post(api, path: str, body: str = "", **headers):
    return api.post(f"/sandbox/v1{path}", body, content_type=FORM, **{**PK, **headers})


def intent(sdk, **extra):
    return sdk.v1.payment_intents.create(
        {"amount": 2000, "currency": "eur", "metadata": {"order": "secret-ish"}, **extra}
    )


def test_secret_key_only_endpoints_refuse_the_publishable_key(api, sdk):
    pi = intent(sdk)
    for method, path in [
        ("get", "/payment_intents"),
        ("get", "/customers"),
        ("get", "/balance"),
        ("post", f"/payment_intents/{pi.id}/capture"),
        ("post", f"/payment_intents/{pi.id}/cancel"),
        ("post", f"/payment_intents/{pi.id}"),
        ("post", "/payment_intents"),
        ("post", "/refunds"),
    ]:
        call = getattr(api, method)
        response = call(f"/sandbox/v1{path}", **PK)
        assert response.status_code == 401, (method, path, response.content)
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith(
            "This API call cannot be made with a publishable API key. Please use a secret API key."
        )
    assert sdk.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_another_publishable_key_is_invalid(api, sdk):
    pi = intent(sdk)
    response = api.get(
        f"/sandbox/v1/payment_intents/{pi.id}?client_secret={pi.client_secret}",
        HTTP_AUTHORIZATION="Bearer pk_test_someoneelse",
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Invalid API Key provided")


def test_retrieve_with_the_client_secret_is_the_client_side_view(api, sdk):
    pi = intent(sdk)
    response = api.get(
        f"/sandbox/v1/payment_intents/{pi.id}?client_secret={pi.client_secret}", **PK
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == pi.id and body["status"] == "requires_payment_method"
    assert body["amount"] == 2000 and body["client_secret"] == pi.client_secret
    # What only the server may see stays out of the browser.
    for private in ("metadata", "customer", "application_fee_amount", "transfer_data"):
        assert private not in body


def test_client_secret_missing_wrong_or_of_another_intent(api, sdk):
    pi = intent(sdk)
    other = intent(sdk)
    missing = api.get(f"/sandbox/v1/payment_intents/{pi.id}", **PK)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "parameter_missing"
    for secret in (pi.client_secret + "x", other.client_secret, "nope"):
        wrong = api.get(f"/sandbox/v1/payment_intents/{pi.id}?client_secret={secret}", **PK)
        assert wrong.status_code == 400
        error = wrong.json()["error"]
        assert error["code"] == "payment_intent_invalid_parameter"
        assert error["param"] == "client_secret"
        assert error["message"] == (
            "The client_secret provided does not match the client_secret associated with the "
            "PaymentIntent."
        )
    unknown = api.get(
        f"/sandbox/v1/payment_intents/pi_doesnotexist?client_secret={pi.client_secret}", **PK
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "resource_missing"
    # A confirm with the wrong secret charges nothing.
    refused = post(
        api,
        f"/payment_intents/{pi.id}/confirm",
        f"client_secret={other.client_secret}&payment_method=pm_card_visa",
    )
    assert refused.status_code == 400
    assert sdk.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_create_a_card_payment_method_and_confirm_like_stripe_js(api, sdk):
    pi = intent(sdk)
    created = post(
        api,
        "/payment_methods",
        "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2034"
        "&card[cvc]=123",
    )
    assert created.status_code == 200, created.content
    pm = created.json()
    assert pm["card"]["last4"] == "4242" and pm["customer"] is None
    confirmed = post(
        api,
        f"/payment_intents/{pi.id}/confirm",
        f"client_secret={pi.client_secret}&payment_method={pm['id']}"
        "&return_url=https://example.com/done",
    )
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "succeeded"
    assert "metadata" not in confirmed.json()
    assert sdk.v1.payment_intents.retrieve(pi.id).amount_received == 2000


def test_a_decline_with_the_publishable_key_is_stripes_card_error(api, sdk):
    pi = intent(sdk)
    declined = post(
        api,
        f"/payment_intents/{pi.id}/confirm",
        f"client_secret={pi.client_secret}&payment_method=pm_card_chargeDeclinedInsufficientFunds",
    )
    assert declined.status_code == 402
    error = declined.json()["error"]
    assert error["type"] == "card_error" and error["decline_code"] == "insufficient_funds"
    assert error["payment_intent"]["id"] == pi.id
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert "metadata" not in error["payment_intent"]


def test_3d_secure_answer_needs_the_client_secret(api, sdk):
    pi = intent(sdk, payment_method="pm_card_authenticationRequired", confirm=True)
    assert pi.status == "requires_action"
    wrong = post(api, f"/payment_intents/{pi.id}/test_authentication", "outcome=complete")
    assert wrong.status_code == 400
    done = post(
        api,
        f"/payment_intents/{pi.id}/test_authentication",
        f"client_secret={pi.client_secret}&outcome=complete",
    )
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert "payment_intent.succeeded" in [e["type"] for e in testing.events()]


def test_the_publishable_key_cannot_clone_payment_methods(api, sdk):
    pm = sdk.v1.payment_methods.create({"type": "card", "card": {"token": "tok_visa"}})
    refused = post(api, "/payment_methods", f"payment_method={pm.id}")
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "payment_method"


def test_stripe_js_is_served(api):
    script = api.get("/sandbox/js/v3/")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("text/javascript")
    text = script.content.decode()
    assert "window.Stripe = Stripe" in text
    for forbidden in ("eval(", "new Function", 'createElement("iframe")', "innerHTML"):
        assert forbidden not in text
    css = api.get("/sandbox/js/v3/elements.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")


def test_stripe_js_is_closed_with_the_sandbox(api, settings):
    settings.SANDBOX_HTTP_OPEN = False
    assert api.get("/sandbox/js/v3/").status_code == 404


def test_server_only_params_are_refused_with_the_publishable_key(api, sdk):
    pi = intent(sdk, capture_method="manual")
    for tampered in ("capture_method=automatic", "off_session=true", "amount_to_confirm=50"):
        refused = post(
            api,
            f"/payment_intents/{pi.id}/confirm",
            f"client_secret={pi.client_secret}&payment_method=pm_card_visa&{tampered}",
        )
        assert refused.status_code == 400, tampered
        assert refused.json()["error"]["param"] == tampered.split("=")[0]
    assert sdk.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"
    # Amounts are not confirm parameters at all: Stripe's unknown parameter.
    unknown = post(
        api,
        f"/payment_intents/{pi.id}/confirm",
        f"client_secret={pi.client_secret}&payment_method=pm_card_visa&amount=1",
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "parameter_unknown"
    ok = post(
        api,
        f"/payment_intents/{pi.id}/confirm",
        f"client_secret={pi.client_secret}&payment_method=pm_card_visa",
    )
    assert ok.json()["status"] == "requires_capture"
    assert sdk.v1.payment_intents.retrieve(pi.id).amount_capturable == 2000


def test_return_url_must_be_http_and_manual_confirmation_needs_the_secret_key(api, sdk):
    pi = intent(sdk)
    for bad in ("javascript:alert(1)", "/relative/path", "ftp://example.com/x"):
        refused = post(
            api,
            f"/payment_intents/{pi.id}/confirm",
            f"client_secret={pi.client_secret}&payment_method=pm_card_visa&return_url={bad}",
        )
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["param"] == "return_url"
    manual = intent(sdk, confirmation_method="manual")
    refused = post(
        api,
        f"/payment_intents/{manual.id}/confirm",
        f"client_secret={manual.client_secret}&payment_method=pm_card_visa",
    )
    assert refused.status_code == 400
    assert "secret key" in refused.json()["error"]["message"]
    assert sdk.v1.payment_intents.confirm(manual.id, {"payment_method": "pm_card_visa"}).status == (
        "succeeded"
    )
