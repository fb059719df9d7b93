"""Saving cards and paying later through the API: SetupIntents (create, confirm, 3D Secure,
decline, list, cancel, events), setup_future_usage, the customer's default payment method,
off-session payments and ``authentication_required``, detaching (a detached card can't be
used again), and the publishable key on SetupIntents."""

from __future__ import annotations

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object
from tests.sandbox.payhelpers import as_json

PK = {"HTTP_AUTHORIZATION": "Bearer pk_test_sandbox"}
FORM = "application/x-www-form-urlencoded"


def types() -> list[str]:
    return [e["type"] for e in testing.events()]


def answer_challenge(sdk, intent_id: str, outcome: str):
    """The 3D Secure challenge's answer, as the stand-in Stripe.js sends it."""
    kind = "setup_intents" if intent_id.startswith("seti_") else "payment_intents"
    response = sdk.raw_request(
        "post", f"/v1/{kind}/{intent_id}/test_authentication", outcome=outcome
    )
    return sdk.deserialize(response, api_mode="V1")


def saved_card(sdk, customer: str, token: str = "pm_card_visa") -> str:
    """A card saved through a SetupIntent (confirmed on the server, as Stripe.js would)."""
    si = sdk.v1.setup_intents.create(
        {"customer": customer, "payment_method": token, "confirm": True, "usage": "off_session"}
    )
    if si.status == "requires_action":
        si = answer_challenge(sdk, si.id, "complete")
    assert si.status == "succeeded"
    return si.payment_method


def test_setup_intent_lifecycle_attaches_the_card(sdk):
    customer = sdk.v1.customers.create({"email": "ana@example.com"})
    si = sdk.v1.setup_intents.create({"customer": customer.id, "metadata": {"user": "7"}})
    check_object(as_json(si))
    assert si.status == "requires_payment_method" and si.usage == "off_session"
    assert si.client_secret.startswith(si.id + "_secret_")
    assert si.payment_method_types == ["card"]
    done = sdk.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_mastercard"})
    check_object(as_json(done))
    assert done.status == "succeeded" and done.payment_method.startswith("pm_")
    pm = sdk.v1.payment_methods.retrieve(done.payment_method)
    check_object(as_json(pm))
    assert pm.customer == customer.id and pm.card.brand == "mastercard"
    assert types()[-3:] == [
        "setup_intent.created",
        "payment_method.attached",
        "setup_intent.succeeded",
    ]
    listed = sdk.v1.setup_intents.list({"customer": customer.id})
    check_list(as_json(listed))
    assert [s.id for s in listed.data] == [si.id]
    cards = sdk.v1.customers.payment_methods.list(customer.id)
    assert [c.id for c in cards.data] == [pm.id]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.setup_intents.cancel(si.id)
    assert caught.value.code == "setup_intent_unexpected_state"


def test_setup_intent_decline_then_success(sdk):
    customer = sdk.v1.customers.create({})
    si = sdk.v1.setup_intents.create({"customer": customer.id})
    with pytest.raises(stripe.CardError) as caught:
        sdk.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_chargeDeclined"})
    assert caught.value.http_status == 402 and caught.value.code == "card_declined"
    failed = sdk.v1.setup_intents.retrieve(si.id)
    check_object(as_json(failed))
    assert failed.status == "requires_payment_method"
    assert failed.last_setup_error.decline_code == "generic_decline"
    assert "setup_intent.setup_failed" in types()
    assert not sdk.v1.customers.payment_methods.list(customer.id).data
    ok = sdk.v1.setup_intents.confirm(si.id, {"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_setup_error is None


def test_setup_intent_3d_secure_fail_and_cancel(sdk):
    si = sdk.v1.setup_intents.create(
        {"payment_method": "pm_card_authenticationRequiredOnSetup", "confirm": True}
    )
    assert si.status == "requires_action" and si.next_action.type == "redirect_to_url"
    assert "/sandbox/authenticate/seti_" in si.next_action.redirect_to_url.url
    with pytest.raises(stripe.InvalidRequestError) as caught:
        answer_challenge(sdk, si.id, "fail")
    assert caught.value.code == "setup_intent_authentication_failure"
    failed = sdk.v1.setup_intents.retrieve(si.id)
    assert failed.status == "requires_payment_method" and failed.payment_method is None
    canceled = sdk.v1.setup_intents.cancel(si.id, {"cancellation_reason": "abandoned"})
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned"
    assert "setup_intent.canceled" in types()


def test_hosted_challenge_of_a_setup_intent_returns_like_stripe(sdk, client):
    si = sdk.v1.setup_intents.create(
        {
            "payment_method": "pm_card_authenticationRequiredOnSetup",
            "confirm": True,
            "return_url": "http://testserver/cards/added/",
        }
    )
    url = si.next_action.redirect_to_url.url.replace("http://testserver", "")
    assert client.get(url).status_code == 200
    done = client.post(url, {"outcome": "approve"})
    assert done.status_code == 302
    assert done["Location"] == (
        f"http://testserver/cards/added/?setup_intent={si.id}"
        f"&setup_intent_client_secret={si.client_secret}&redirect_status=succeeded"
    )
    assert sdk.v1.setup_intents.retrieve(si.id).status == "succeeded"


def test_setup_intent_with_the_publishable_key(sdk, client, settings):
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    customer = sdk.v1.customers.create({})
    si = sdk.v1.setup_intents.create({"customer": customer.id, "metadata": {"k": "v"}})
    got = client.get(f"/sandbox/v1/setup_intents/{si.id}?client_secret={si.client_secret}", **PK)
    assert got.status_code == 200
    assert "customer" not in got.json() and "metadata" not in got.json()
    wrong = client.get(f"/sandbox/v1/setup_intents/{si.id}?client_secret=seti_x_secret_y", **PK)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "setup_intent_invalid_parameter"
    for path in ("/sandbox/v1/setup_intents", f"/sandbox/v1/setup_intents/{si.id}/cancel"):
        assert client.post(path, "", content_type=FORM, **PK).status_code == 401
    assert client.get("/sandbox/v1/setup_intents", **PK).status_code == 401
    confirmed = client.post(
        f"/sandbox/v1/setup_intents/{si.id}/confirm",
        f"client_secret={si.client_secret}&payment_method=pm_card_visa",
        content_type=FORM,
        **PK,
    )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded"
    assert len(sdk.v1.customers.payment_methods.list(customer.id).data) == 1


def test_setup_future_usage_saves_the_card_and_default_payment_method(sdk):
    customer = sdk.v1.customers.create({})
    pi = sdk.v1.payment_intents.create({"amount": 1500, "currency": "eur", "customer": customer.id})
    paid = sdk.v1.payment_intents.confirm(
        pi.id, {"payment_method": "pm_card_visa", "setup_future_usage": "off_session"}
    )
    assert paid.status == "succeeded" and paid.setup_future_usage == "off_session"
    pm = sdk.v1.payment_methods.retrieve(paid.payment_method)
    assert pm.customer == customer.id
    updated = sdk.v1.customers.update(
        customer.id, {"invoice_settings": {"default_payment_method": pm.id}}
    )
    check_object(as_json(updated))
    assert updated.invoice_settings.default_payment_method == pm.id
    # A payment without setup_future_usage does not save the card.
    other = sdk.v1.payment_intents.create(
        {
            "amount": 900,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": "pm_card_mastercard",
            "confirm": True,
        }
    )
    assert sdk.v1.payment_methods.retrieve(other.payment_method).customer is None
    assert [c.id for c in sdk.v1.customers.payment_methods.list(customer.id).data] == [pm.id]


def off_session_payment(sdk, customer: str, pm: str, **extra):
    return sdk.v1.payment_intents.create(
        {
            "amount": 2000,
            "currency": "eur",
            "customer": customer,
            "payment_method": pm,
            "off_session": True,
            "confirm": True,
            **extra,
        }
    )


def test_off_session_with_saved_cards(sdk):
    customer = sdk.v1.customers.create({})
    visa = saved_card(sdk, customer.id)
    assert off_session_payment(sdk, customer.id, visa).status == "succeeded"

    # Set up with its challenge, 4000002500003155 is charged off session without a new one.
    on_setup = saved_card(sdk, customer.id, "pm_card_authenticationRequiredOnSetup")
    assert off_session_payment(sdk, customer.id, on_setup).status == "succeeded"

    # 4000002760003184 asks every time: off session it fails with authentication_required.
    always = saved_card(sdk, customer.id, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as caught:
        off_session_payment(sdk, customer.id, always)
    error = caught.value
    assert error.http_status == 402 and error.code == "authentication_required"
    assert error.error.decline_code == "authentication_required"
    pi = sdk.v1.payment_intents.retrieve(error.error.payment_intent.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "authentication_required"
    assert pi.last_payment_error.payment_method.id == always
    # The buyer comes back on session: 3D Secure, then paid with the same card.
    again = sdk.v1.payment_intents.confirm(pi.id, {"payment_method": always})
    assert again.status == "requires_action"
    done = answer_challenge(sdk, pi.id, "complete")
    assert done.status == "succeeded"


def test_off_session_with_a_3ds_card_never_set_up_fails(sdk):
    customer = sdk.v1.customers.create({})
    pm = sdk.v1.payment_methods.attach(
        "pm_card_authenticationRequiredOnSetup", {"customer": customer.id}
    )
    with pytest.raises(stripe.CardError) as caught:
        off_session_payment(sdk, customer.id, pm.id)
    assert caught.value.code == "authentication_required"
    charge = sdk.v1.charges.retrieve(caught.value.error.charge)
    assert charge.status == "failed" and charge.failure_code == "authentication_required"


def test_a_detached_card_cannot_be_used_again(sdk):
    customer = sdk.v1.customers.create({})
    pm = saved_card(sdk, customer.id)
    sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": pm}})
    detached = sdk.v1.payment_methods.detach(pm)
    assert detached.customer is None
    assert sdk.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert not sdk.v1.customers.payment_methods.list(customer.id).data
    with pytest.raises(stripe.InvalidRequestError) as caught:
        off_session_payment(sdk, customer.id, pm)
    assert "may not be used again" in caught.value.user_message
    assert caught.value.param == "payment_method"
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payment_methods.attach(pm, {"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.setup_intents.create({"customer": customer.id, "payment_method": pm})


def test_another_customers_card_is_refused(sdk):
    ana = sdk.v1.customers.create({})
    bo = sdk.v1.customers.create({})
    pm = saved_card(sdk, ana.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        off_session_payment(sdk, bo.id, pm)
    assert caught.value.param == "payment_method"
    pi = sdk.v1.payment_intents.create({"amount": 1000, "currency": "eur"})
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.payment_intents.confirm(pi.id, {"payment_method": pm})


def test_every_setup_intent_payment_method_and_event_matches_the_sdk(sdk):
    """Fidelity sweep of what these flows store: SetupIntents in every status, saved and
    detached PaymentMethods, off-session PaymentIntents, and the events' objects."""
    from sandbox.models import SandboxObject

    customer = sdk.v1.customers.create({})
    pm = saved_card(sdk, customer.id, "pm_card_authenticationRequiredOnSetup")
    off_session_payment(sdk, customer.id, pm)
    with pytest.raises(stripe.CardError):
        sdk.v1.setup_intents.create({"payment_method": "pm_card_chargeDeclined", "confirm": True})
    sdk.v1.setup_intents.cancel(sdk.v1.setup_intents.create({}).id)
    sdk.v1.payment_methods.detach(pm)
    kinds = set()
    for row in SandboxObject.objects.filter(
        object__in=["setup_intent", "payment_method", "payment_intent", "charge", "event"]
    ):
        kinds.add(row.object)
        check_object(row.data)
    assert kinds == {"setup_intent", "payment_method", "payment_intent", "charge", "event"}
    assert {
        "setup_intent.created",
        "setup_intent.requires_action",
        "setup_intent.succeeded",
        "setup_intent.setup_failed",
        "setup_intent.canceled",
        "payment_method.attached",
        "payment_method.detached",
    } <= set(types())
