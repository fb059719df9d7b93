"""Connected accounts, account links, the hosted onboarding page and login links, driven with
the SDK alone (no project models)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import stripe

from sandbox import testing
from sandbox.fidelity import check_list, check_object

EXPRESS = {
    "controller": {
        "stripe_dashboard": {"type": "express"},
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
        "requirement_collection": "stripe",
    },
    "country": "FR",
    "email": "seller@example.com",
    "business_type": "individual",
    "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    "metadata": {"seller": "42"},
}


def as_json(obj) -> dict:
    return json.loads(str(obj))


def create_express(sdk, **extra):
    return sdk.v1.accounts.create({**EXPRESS, **extra})


def onboarding_link(sdk, account_id, type_="account_onboarding"):
    return sdk.v1.account_links.create(
        {
            "account": account_id,
            "type": type_,
            "refresh_url": "http://testserver/sell/onboarding/refresh/",
            "return_url": "http://testserver/sell/onboarding/return/",
        }
    )


def open_link(client, link):
    response = client.get(urlsplit(link.url).path)
    return response


def submit(client, link, page, **fields):
    session = re.search(rb'name="session" value="([^"]+)"', page.content).group(1).decode()
    data = {
        "business_name": "Ada's Mugs",
        "business_type": "individual",
        "email": "",
        "account_number": "000123456789",
        "outcome": "complete",
        "session": session,
        **fields,
    }
    return client.post(urlsplit(link.url).path, data)


def test_new_express_account_is_restricted_until_onboarded(sdk):
    account = create_express(sdk)
    check_object(as_json(account))
    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert account.controller.stripe_dashboard.type == "express"
    assert account.controller.losses.payments == "application"
    assert account.default_currency == "eur"
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        False,
        False,
        False,
    )
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    assert "external_account" in account.requirements.currently_due
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert account.metadata["seller"] == "42"


def test_legacy_type_express_is_accepted(sdk):
    account = sdk.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    assert account.controller.stripe_dashboard.type == "express"
    assert account.country == "US" and account.default_currency == "usd"


def test_express_account_without_capabilities_gets_the_default_request(sdk):
    # Stripe's Connect samples create `type=express` with nothing else.
    account = sdk.v1.accounts.create({"type": "express"})
    check_object(as_json(account))
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    assert account.controller.fees.payer == "application_express"
    assert account.controller.losses.payments == "application"


def test_standard_account_needs_no_capabilities(sdk):
    account = sdk.v1.accounts.create({"type": "standard"})
    assert account.type == "standard"
    assert account.controller.stripe_dashboard.type == "full"
    assert account.controller.fees.payer == "account"
    assert account.controller.losses.payments == "stripe"


@pytest.mark.parametrize(
    "params",
    [
        {"type": "custom"},
        {"controller": {"stripe_dashboard": {"type": "none"}, "fees": {"payer": "application"},
                        "losses": {"payments": "application"}}},
    ],
)  # fmt: skip
def test_no_dashboard_requires_capabilities(sdk, params):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.create(params)
    assert caught.value.param == "capabilities"
    assert caught.value.http_status == 400
    assert "stripe_dashboard.type=none" in caught.value.user_message


@pytest.mark.parametrize(
    ("controller", "expected"),
    [
        ({}, ("full", "account", "stripe", "stripe")),
        ({"stripe_dashboard": {"type": "full"}, "fees": {"payer": "application"}},
         ("full", "application", "stripe", "stripe")),
        ({"fees": {"payer": "application"}, "losses": {"payments": "application"}},
         ("full", "application", "application", "stripe")),
        ({"stripe_dashboard": {"type": "express"}, "fees": {"payer": "application"},
          "losses": {"payments": "application"}},
         ("express", "application_express", "application", "stripe")),
        ({"stripe_dashboard": {"type": "express"}, "fees": {"payer": "account"},
          "losses": {"payments": "stripe"}},
         ("express", "account", "stripe", "stripe")),
        ({"stripe_dashboard": {"type": "express"}, "fees": {"payer": "application"},
          "losses": {"payments": "stripe"}},
         ("express", "application", "stripe", "stripe")),
        ({"stripe_dashboard": {"type": "none"}, "fees": {"payer": "application"},
          "losses": {"payments": "application"}, "requirement_collection": "application"},
         ("none", "application_custom", "application", "application")),
        ({"stripe_dashboard": {"type": "none"}, "fees": {"payer": "application"},
          "losses": {"payments": "application"}, "requirement_collection": "stripe"},
         ("none", "application", "application", "stripe")),
    ],
)  # fmt: skip
def test_controller_combinations(sdk, controller, expected):
    account = sdk.v1.accounts.create(
        {"controller": controller, "capabilities": {"transfers": {"requested": True}}}
    )
    check_object(as_json(account))
    c = account.controller
    assert (c.stripe_dashboard.type, c.fees.payer, c.losses.payments,
            c.requirement_collection) == expected  # fmt: skip


def test_losses_to_the_platform_require_the_platform_to_pay_fees(sdk):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.create(
            {
                "controller": {"fees": {"payer": "account"}, "losses": {"payments": "application"}},
                "capabilities": {"transfers": {"requested": True}},
            }
        )
    assert caught.value.param == "controller[losses][payments]"


def test_unknown_legacy_type_is_refused(sdk):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.create({"type": "platinum"})
    assert caught.value.param == "type"


CUSTOM_INDIVIDUAL = {
    "first_name": "Jenny",
    "last_name": "Rosen",
    "email": "jenny@example.com",
    "phone": "+16505551234",
    "dob": {"day": 1, "month": 1, "year": 1901},
    "address": {"line1": "address_full_match", "city": "Schenectady", "postal_code": "12345",
                "state": "NY", "country": "US"},
    "ssn_last_4": "0000",
}  # fmt: skip


def test_custom_account_onboarded_through_the_api(sdk):
    account = sdk.v1.accounts.create(
        {
            "type": "custom",
            "country": "US",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
        }
    )
    assert account.type == "custom"
    assert account.controller.requirement_collection == "application"
    assert not account.charges_enabled
    assert "individual.first_name" in account.requirements.currently_due
    partial = sdk.v1.accounts.update(
        account.id,
        {"business_type": "individual", "individual": CUSTOM_INDIVIDUAL,
         "business_profile": {"mcc": "5734", "url": "https://example.com"}},
    )  # fmt: skip
    assert sorted(partial.requirements.currently_due) == [
        "external_account",
        "tos_acceptance.date",
        "tos_acceptance.ip",
    ]
    assert not partial.charges_enabled
    done = sdk.v1.accounts.update(
        account.id,
        {"tos_acceptance": {"date": 1700000000, "ip": "8.8.8.8"},
         "external_account": "btok_us_verified"},
    )  # fmt: skip
    check_object(as_json(done))
    assert done.details_submitted and done.charges_enabled and done.payouts_enabled
    assert done.requirements.currently_due == []
    assert done.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert done.external_accounts.data[0].last4 == "6789"
    assert done.tos_acceptance.ip == "8.8.8.8"


def test_custom_account_created_with_every_detail_is_enabled_at_once(sdk):
    account = sdk.v1.accounts.create(
        {
            "type": "custom",
            "country": "US",
            "business_type": "individual",
            "capabilities": {"transfers": {"requested": True}},
            "individual": CUSTOM_INDIVIDUAL,
            "business_profile": {"mcc": "5734", "url": "https://example.com"},
            "tos_acceptance": {"date": 1700000000, "ip": "8.8.8.8"},
            "external_account": {"object": "bank_account", "country": "US", "currency": "usd",
                                 "routing_number": "110000000",
                                 "account_number": "000123456789"},
        }
    )  # fmt: skip
    assert account.charges_enabled and account.payouts_enabled
    assert account.capabilities.transfers == "active"


def test_express_details_cannot_be_set_by_the_platform_after_a_link(sdk):
    account = create_express(sdk)
    onboarding_link(sdk, account.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.update(account.id, {"individual": {"first_name": "Ada"}})
    assert caught.value.param == "individual"


def test_capabilities_list_retrieve_update(sdk):
    account = create_express(sdk)
    listed = sdk.v1.accounts.capabilities.list(account.id)
    check_list(as_json(listed))
    assert [c.id for c in listed.data] == ["card_payments", "transfers"]
    assert {c.status for c in listed.data} == {"inactive"}
    card = sdk.v1.accounts.capabilities.retrieve(account.id, "card_payments")
    check_object(as_json(card))
    assert card.requested and card.account == account.id
    other = sdk.v1.accounts.capabilities.retrieve(account.id, "sepa_debit_payments")
    assert (other.requested, other.status) == (False, "unrequested")
    added = sdk.v1.accounts.capabilities.update(
        account.id, "sepa_debit_payments", {"requested": True}
    )
    check_object(as_json(added))
    assert (added.requested, added.status) == (True, "inactive")
    assert sdk.v1.accounts.retrieve(account.id).capabilities.sepa_debit_payments == "inactive"
    assert testing.events(event_type="capability.updated")
    removed = sdk.v1.accounts.capabilities.update(
        account.id, "sepa_debit_payments", {"requested": False}
    )
    assert removed.status == "unrequested"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.capabilities.retrieve(account.id, "teleport_payments")
    assert caught.value.http_status == 404


def test_account_session_for_embedded_components(sdk):
    account = create_express(sdk)
    session = sdk.v1.account_sessions.create(
        {
            "account": account.id,
            "components": {
                "account_onboarding": {"enabled": True},
                "payments": {"enabled": True, "features": {"refund_management": True}},
            },
        }
    )
    check_object(as_json(session))
    assert session.account == account.id
    assert session.client_secret.startswith("accs_secret__")
    assert session.expires_at > testing.now()
    assert session.components.account_onboarding.enabled
    assert session.components.account_onboarding.features.external_account_collection
    assert session.components.payments.features.refund_management is True
    assert session.components.payouts.enabled is False
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.account_sessions.create({"account": account.id, "components": {}})
    assert caught.value.param == "components"


def test_retrieve_update_list_delete(sdk, settings):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    account = create_express(sdk)
    fetched = sdk.v1.accounts.retrieve(account.id)
    assert fetched.id == account.id
    updated = sdk.v1.accounts.update(account.id, {"metadata": {"seller": "", "tier": "gold"}})
    assert updated.metadata.to_dict() == {"tier": "gold"}
    [event] = testing.events(event_type="account.updated")
    assert event["account"] == account.id
    # as on Stripe: changed keys with their old value, added keys as null
    assert event["data"]["previous_attributes"] == {"metadata": {"seller": "42", "tier": None}}
    check_object(event)
    listed = sdk.v1.accounts.list({"limit": 10})
    check_list(as_json(listed))
    assert [a.id for a in listed.data] == [account.id]
    deleted = sdk.v1.accounts.delete(account.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sdk.v1.accounts.retrieve(account.id)
    assert caught.value.http_status == 404 and caught.value.code == "resource_missing"


def test_account_link_shape(sdk):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    check_object(as_json(link))
    assert link.expires_at - link.created == 300
    assert link.url.startswith("http://")
    assert "/sandbox/onboarding/" in link.url


def test_account_update_link_needs_an_onboarded_account(sdk):
    account = create_express(sdk)
    with pytest.raises(stripe.InvalidRequestError):
        onboarding_link(sdk, account.id, "account_update")


def test_end_to_end_onboarding_delivers_a_verified_account_updated(
    sdk, web, hook, receiver, django_capture_on_commit_callbacks
):
    hook("connect", connect=True)
    hook("platform")
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)

    page = open_link(web, link)
    assert page.status_code == 200
    assert b"SANDBOX" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(web, link, page)
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/sell/onboarding/return/"

    # Delivered to the Connect endpoint, signature verified by stripe.Webhook.construct_event.
    assert [e.type for e in receiver.received["connect"]] == [
        "account.external_account.created",
        "account.updated",
    ]
    event = receiver.received["connect"][1]
    assert event.account == account.id
    assert event.data.object.charges_enabled is True
    assert event.data.previous_attributes.charges_enabled is False
    assert "platform" not in receiver.received

    onboarded = sdk.v1.accounts.retrieve(account.id)
    check_object(as_json(onboarded))
    assert onboarded.details_submitted and onboarded.charges_enabled and onboarded.payouts_enabled
    assert onboarded.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert onboarded.requirements.currently_due == []
    assert onboarded.requirements.disabled_reason is None
    assert onboarded.business_profile.name == "Ada's Mugs"
    [bank] = onboarded.external_accounts.data
    assert bank.last4 == "6789" and bank.currency == "eur"


def test_link_works_once_then_sends_to_refresh_url(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    assert open_link(web, link).status_code == 200
    again = open_link(web, link)
    assert again.status_code == 302
    assert again["Location"] == "http://testserver/sell/onboarding/refresh/"


def test_expired_link_sends_to_refresh_url(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    testing.advance(301)
    response = open_link(web, link)
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/sell/onboarding/refresh/"
    assert sdk.v1.accounts.retrieve(account.id).details_submitted is False


def test_exit_without_finishing_returns_with_requirements_still_due(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    page = open_link(web, link)
    response = submit(web, link, page, exit="1")
    assert response["Location"] == "http://testserver/sell/onboarding/return/"
    still = sdk.v1.accounts.retrieve(account.id)
    assert still.details_submitted is False
    assert "external_account" in still.requirements.currently_due


def test_leaving_the_bank_account_due(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    page = open_link(web, link)
    submit(web, link, page, outcome="external_account_due", account_number="")
    acct = sdk.v1.accounts.retrieve(account.id)
    assert acct.details_submitted and acct.charges_enabled
    assert acct.payouts_enabled is False
    assert acct.requirements.currently_due == ["external_account"]
    assert acct.requirements.current_deadline > testing.now()
    check_object(as_json(acct))


def test_document_eventually_due_keeps_the_account_enabled(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    submit(web, link, open_link(web, link), outcome="document_eventually_due")
    acct = sdk.v1.accounts.retrieve(account.id)
    assert acct.charges_enabled and acct.payouts_enabled
    assert acct.requirements.currently_due == []
    assert acct.requirements.eventually_due == ["individual.verification.document"]


def test_restricted_account(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    submit(web, link, open_link(web, link), outcome="restricted")
    acct = sdk.v1.accounts.retrieve(account.id)
    assert acct.details_submitted is True
    assert (acct.charges_enabled, acct.payouts_enabled) == (False, False)
    assert acct.requirements.disabled_reason == "requirements.past_due"
    assert acct.requirements.past_due
    assert acct.capabilities.transfers == "inactive"


def test_invalid_form_is_shown_again_and_changes_nothing(sdk, web):
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    response = submit(web, link, open_link(web, link), business_name="", account_number="")
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert sdk.v1.accounts.retrieve(account.id).details_submitted is False


def test_payout_failing_bank_number_is_remembered(sdk, web):
    from sandbox.resources.accounts import payout_failure_code

    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    submit(web, link, open_link(web, link), account_number="000111111116")
    assert payout_failure_code(account.id, "eur") == "no_account"
    other = create_express(sdk)
    link = onboarding_link(sdk, other.id)
    submit(web, link, open_link(web, link))
    assert payout_failure_code(other.id, "eur") is None


def test_login_link_only_after_onboarding_and_single_use(sdk, web):
    account = create_express(sdk)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.accounts.login_links.create(account.id)
    link = onboarding_link(sdk, account.id)
    submit(web, link, open_link(web, link))
    login = sdk.v1.accounts.login_links.create(account.id)
    check_object(as_json(login))
    page = web.get(urlsplit(login.url).path)
    assert page.status_code == 200
    assert b"Ada&#x27;s Mugs" in page.content and b"SANDBOX" in page.content
    assert web.get(urlsplit(login.url).path).status_code == 410


def test_deauthorized_account_is_a_connect_event_and_locks_the_platform_out(
    sdk, web, hook, receiver, django_capture_on_commit_callbacks
):
    hook("connect", connect=True)
    account = create_express(sdk)
    staff_page = web.get("/sandbox/")
    assert account.id.encode() in staff_page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post("/sandbox/action/deauthorize/", {"account": account.id})
    assert response.status_code == 302
    [event] = receiver.received["connect"]
    assert event.type == "account.application.deauthorized"
    assert event.account == account.id
    with pytest.raises(stripe.PermissionError):
        sdk.v1.events.list(options={"stripe_account": account.id})


def test_connect_events_are_listable_with_stripe_account(sdk, settings, web):
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    account = create_express(sdk)
    sdk.v1.accounts.update(account.id, {"metadata": {"x": "1"}})
    platform_events = sdk.v1.events.list()
    assert platform_events.data == []
    account_events = sdk.v1.events.list(
        {"type": "account.updated"}, options={"stripe_account": account.id}
    )
    assert [e.type for e in account_events.data] == ["account.updated"]
    fetched = sdk.v1.events.retrieve(
        account_events.data[0].id, options={"stripe_account": account.id}
    )
    assert fetched.account == account.id


def test_pending_verification_finishes_on_the_clock(
    sdk, web, hook, receiver, django_capture_on_commit_callbacks
):
    hook("connect", connect=True)
    account = create_express(sdk)
    link = onboarding_link(sdk, account.id)
    submit(web, link, open_link(web, link), outcome="pending_verification")
    pending = sdk.v1.accounts.retrieve(account.id)
    assert pending.details_submitted is True and pending.charges_enabled is False
    assert pending.requirements.pending_verification == ["individual.verification.document"]
    assert pending.requirements.disabled_reason == "requirements.pending_verification"
    assert pending.capabilities.transfers == "pending"
    check_object(as_json(pending))
    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(30)
    assert sdk.v1.accounts.retrieve(account.id).charges_enabled is False
    with django_capture_on_commit_callbacks(execute=True):
        testing.advance(31)
    verified = sdk.v1.accounts.retrieve(account.id)
    assert verified.charges_enabled and verified.payouts_enabled
    assert verified.requirements.pending_verification == []
    last = [e for e in receiver.received["connect"] if e.type == "account.updated"][-1]
    assert last.data.object.charges_enabled is True
    assert last.data.previous_attributes.charges_enabled is False


def test_deauthorized_account_is_gone_for_the_platform(sdk, web):
    from sandbox.resources.accounts import deauthorize

    account = create_express(sdk)
    deauthorize(account.id)
    with pytest.raises(stripe.PermissionError):
        sdk.v1.accounts.retrieve(account.id)
    with pytest.raises(stripe.PermissionError):
        onboarding_link(sdk, account.id)
    assert sdk.v1.accounts.list().data == []
