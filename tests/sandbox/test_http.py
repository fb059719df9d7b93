"""The sandbox API over HTTP at /sandbox/v1/... (what curl or another SDK sees)."""

from __future__ import annotations

import json

import pytest

AUTH = {"HTTP_AUTHORIZATION": "Bearer sk_test_sandbox"}


@pytest.fixture
def api(client, settings):
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    return client


@pytest.mark.django_db
def test_no_api_key_is_401_like_stripe(api):
    response = api.get("/sandbox/v1/webhook_endpoints")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "You did not provide an API key" in error["message"]
    assert response["Request-Id"].startswith("req_")


@pytest.mark.django_db
def test_live_or_malformed_key_is_401(api):
    response = api.get(
        "/sandbox/v1/webhook_endpoints", HTTP_AUTHORIZATION="Bearer sk_live_abcdefghijkl"
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Invalid API Key provided")


@pytest.mark.django_db
def test_basic_auth_like_curl_dash_u_is_accepted(api):
    import base64

    token = base64.b64encode(b"sk_test_sandbox:").decode()
    response = api.get("/sandbox/v1/webhook_endpoints", HTTP_AUTHORIZATION=f"Basic {token}")
    assert response.status_code == 200
    assert response.json()["object"] == "list"


@pytest.mark.django_db
def test_form_encoded_nested_body_and_list_query(api):
    body = (
        "url=https%3A%2F%2Fexample.com%2Fhook&enabled_events[]=account.updated"
        "&enabled_events[]=payout.paid&metadata[team]=ops&connect=true"
    )
    created = api.post(
        "/sandbox/v1/webhook_endpoints",
        data=body,
        content_type="application/x-www-form-urlencoded",
        **AUTH,
    )
    assert created.status_code == 200, created.content
    endpoint = created.json()
    assert endpoint["id"].startswith("we_") and len(endpoint["id"]) == 3 + 24
    assert endpoint["enabled_events"] == ["account.updated", "payout.paid"]
    assert endpoint["metadata"] == {"team": "ops"}
    assert endpoint["secret"].startswith("whsec_")

    fetched = api.get(f"/sandbox/v1/webhook_endpoints/{endpoint['id']}", **AUTH).json()
    assert "secret" not in fetched  # shown once, at creation, as on Stripe

    listed = api.get("/sandbox/v1/webhook_endpoints?limit=1", **AUTH).json()
    assert listed["object"] == "list"
    assert [item["id"] for item in listed["data"]] == [endpoint["id"]]
    assert listed["has_more"] is False
    assert listed["url"] == "/v1/webhook_endpoints"


@pytest.mark.django_db
def test_unknown_url_and_missing_object_are_stripe_404s(api):
    response = api.get("/sandbox/v1/nothing_here", **AUTH)
    assert response.status_code == 404
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in response.json()["error"]["message"]
    missing = api.get("/sandbox/v1/webhook_endpoints/we_missing", **AUTH)
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "resource_missing"
    assert error["param"] == "id"
    assert error["message"] == "No such webhook endpoint: 'we_missing'"


@pytest.mark.django_db
def test_misspelled_param_over_http_names_it(api):
    response = api.post(
        "/sandbox/v1/webhook_endpoints",
        data="url=https%3A%2F%2Fexample.com&enabled_events[]=*&application_fee_amout=100",
        content_type="application/x-www-form-urlencoded",
        **AUTH,
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter_unknown",
        "param": "application_fee_amout",
        "message": "Received unknown parameter: application_fee_amout",
    }


@pytest.mark.django_db
def test_unknown_connected_account_is_refused(api):
    response = api.get(
        "/sandbox/v1/events", HTTP_STRIPE_ACCOUNT="acct_doesnotexist000000000000", **AUTH
    )
    assert response.status_code == 403
    assert "does not have access to account" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_over_http_the_body_is_indented_as_stripes_in_process_it_is_compact(api):
    from sandbox.client import SandboxHTTPClient

    response = api.get("/sandbox/v1/webhook_endpoints?limit=3", **AUTH)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.startswith('{\n  "object": "list"')
    body, status, _ = SandboxHTTPClient().request(
        "get",
        "http://sandbox.invalid/v1/webhook_endpoints?limit=3",
        {"Authorization": "Bearer sk_test_sandbox"},
    )
    assert status == 200
    assert "\n" not in body and ", " not in body
    assert json.loads(body) == json.loads(text)
