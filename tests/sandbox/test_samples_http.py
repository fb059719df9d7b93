"""The sandbox driven the way Stripe's published samples drive Stripe, over HTTP (a live server):
Connect onboarding for Express with the legacy account type, an older API version with
`payment_method_types`, PaymentIntents with `pm_card_visa`, a decline, `authentication_required`,
destination and direct charges; with the installed stripe-python and, in a subprocess, an older
one (stripe-python 10, pinned to API version 2024-06-20)."""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import stripe

OLDER_SDK = "stripe==10.12.0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(live_server, settings):
    settings.SITE_URL = live_server.url
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    settings.CSRF_COOKIE_SECURE = False  # the hosted page is posted over plain HTTP here
    # live_server serves static files from the finders (plain names, no manifest)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return live_server.url + "/sandbox"


def onboard_on_the_hosted_page(link_url: str) -> None:
    """What the seller does: open the account link, submit the form (over HTTP)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(link_url).read().decode()
    fields = dict(re.findall(r'name="(csrfmiddlewaretoken|session)" value="([^"]+)"', page))
    form = {
        **fields,
        "business_name": "Sample Seller",
        "business_type": "individual",
        "email": "",
        "account_number": "000123456789",
        "outcome": "complete",
    }
    request = urllib.request.Request(
        link_url, data=urllib.parse.urlencode(form).encode(), headers={"Referer": link_url}
    )
    opener.open(request).read()


def express_account_like_the_sample(client: stripe.StripeClient, base: str) -> str:
    """connect-onboarding-for-express: `type=express` and nothing else, then an account link."""
    account = client.v1.accounts.create({"type": "express"})
    link = client.v1.account_links.create(
        {
            "account": account.id,
            "refresh_url": base + "/sandbox/",
            "return_url": base + "/sandbox/",
            "type": "account_onboarding",
        }
    )
    onboard_on_the_hosted_page(link.url)
    onboarded = client.v1.accounts.retrieve(account.id)
    assert onboarded.charges_enabled and onboarded.capabilities.transfers == "active"
    return account.id


def test_samples_with_the_installed_sdk_over_http(api, live_server):
    client = stripe.StripeClient("sk_test_samples", base_addresses={"api": api})
    account_id = express_account_like_the_sample(client, live_server.url)
    older = {"stripe_version": "2024-06-20"}
    intent = client.v1.payment_intents.create(
        {"amount": 5999, "currency": "usd", "payment_method_types": ["card"]}, older
    )
    assert intent.last_response.headers["stripe-version"] == "2024-06-20"
    confirmed = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
             "confirm": True}
        )  # fmt: skip
    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")
    auth = client.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_authenticationRequired",
         "confirm": True, "return_url": "https://example.com/return"}
    )  # fmt: skip
    assert auth.status == "requires_action" and auth.next_action.type == "redirect_to_url"
    destination = client.v1.payment_intents.create(
        {"amount": 1400, "currency": "usd", "transfer_data": {"destination": account_id},
         "application_fee_amount": 140, "payment_method": "pm_card_visa", "confirm": True}
    )  # fmt: skip
    assert destination.status == "succeeded"
    direct = client.v1.payment_intents.create(
        {"amount": 2000, "currency": "usd", "application_fee_amount": 200,
         "payment_method": "pm_card_visa", "confirm": True},
        {"stripe_account": account_id},
    )  # fmt: skip
    assert direct.status == "succeeded"
    fees = client.v1.application_fees.list()
    assert sorted(f.amount for f in fees.data) == [140, 200]


def test_samples_with_an_older_stripe_python_over_http(api, live_server):
    client = stripe.StripeClient("sk_test_samples", base_addresses={"api": api})
    account_id = express_account_like_the_sample(client, live_server.url)
    try:
        run = subprocess.run(
            [str(ROOT / ".tools" / "bin" / "uv"), "run", "--no-project", "--quiet",
             "--with", OLDER_SDK, "python", str(Path(__file__).parent / "samples" / "legacy_flows.py"),
             json.dumps({"base": api, "account": account_id})],
            capture_output=True, text=True, timeout=240, cwd=ROOT,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not run {OLDER_SDK} with uv (PyPI needed once): {exc}")
    assert run.returncode == 0, f"{OLDER_SDK} run failed:\n{run.stderr[-3000:]}"
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["sdk"].startswith("10.") and out["pinned"] == "2024-06-20"
    assert out["custom_flow"] == ["requires_payment_method", "succeeded", ["card"]]
    assert out["decline"] == [402, "card_declined", "generic_decline"]
    assert out["authentication"] == ["requires_action", "redirect_to_url"]
    assert out["destination"] == ["succeeded", account_id, 1400]
    assert out["direct"] == ["succeeded", 200]
    assert out["accounts"] == 1
