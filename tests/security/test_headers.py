"""Security headers on every page type, the Content-Security-Policy included: every GET-able URL
without parameters (walked from the resolver) plus pages about real objects, for anonymous,
buyer, seller and staff; and every inline <script>/<style> carries the response's nonce."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import StaffFactory, UserFactory
from tests.security.test_url_sweep import templates
from tests.sellers.factories import ListingFactory

NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-+/=]+)'")
INLINE = re.compile(r"<(script|style)\b(?![^>]*\bsrc=)([^>]*)>", re.IGNORECASE)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def check(response, url: str) -> None:
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url
    assert response["X-Frame-Options"] == "DENY", url
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
    assert "Content-Security-Policy-Report-Only" not in response, url
    csp = policy(response)
    assert csp["default-src"] == ["'self'"], url
    assert csp["script-src"][0] == "'self'" and "'unsafe-inline'" not in csp["script-src"], url
    assert "'unsafe-eval'" not in response["Content-Security-Policy"], url
    assert "'unsafe-inline'" not in csp["style-src"], url
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], url
    assert csp["frame-ancestors"] == ["'none'"], url
    if response.get("Content-Type", "").startswith("text/html"):
        html = response.content.decode()
        nonces = {m for v in csp["script-src"] for m in NONCE.findall(v)}
        for _tag, attrs in INLINE.findall(html):
            found = re.search(r'nonce="([^"]+)"', attrs)
            assert found and found.group(1) in nonces, (url, attrs)


@pytest.mark.django_db
def test_security_headers_and_csp_on_every_page_type(settings):
    settings.SANDBOX_HTTP_OPEN = True
    listing = ListingFactory()
    people = {
        "anonymous": None,
        "buyer": UserFactory(),
        "seller": listing.seller.user,
        "staff": StaffFactory(),
    }
    plain = [t for t, names in templates() if not names and "/v1/" not in t]
    objects = [
        f"/listing/{listing.pk}/",
        f"/shop/{listing.seller.slug}/",
        "/listing/999999/",  # the 404 page
        "/sandbox/checkout/cs_test_missing/",
        "/stripe/webhook/",  # a GET on a POST-only endpoint (405)
    ]
    checked = 0
    nonces: list[str] = []
    for user in people.values():
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        for url in plain + objects:
            response = client.get(url, secure=True)
            check(response, url)
            assert response["Strict-Transport-Security"].startswith("max-age="), url
            nonces += set(NONCE.findall(response["Content-Security-Policy"]))
            checked += 1
    assert len(nonces) > 100 and len(set(nonces)) == len(nonces)  # a fresh one per page
    print(f"security headers: {checked} responses checked ({len(plain + objects)} URLs x 4)")


def test_real_mode_policy_has_the_stripe_js_sources(settings):
    # the settings module's real-mode branch, checked on its output
    import importlib
    import os

    from django.utils.csp import CSP

    env = {"STRIPE_SECRET_KEY": "sk_test_" + "a" * 24}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import marketplace.settings as module

        real = importlib.reload(module)
        assert "https://js.stripe.com" in real.SECURE_CSP["script-src"]
        assert "https://js.stripe.com" in real.SECURE_CSP["frame-src"]
        assert "https://checkout.stripe.com" in real.SECURE_CSP["form-action"]
        assert CSP.NONCE in real.SECURE_CSP["script-src"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        importlib.reload(module)
