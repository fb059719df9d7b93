"""With DEBUG off and SANDBOX_HTTP_OPEN off, nothing outside the process reaches the sandbox:
every /sandbox/ URL (API, hosted pages, control page) is a 404 for anyone, with any key; with a
real STRIPE_SECRET_KEY the sandbox is not even installed (no app, no tables, no routes)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver

from tests.factories import StaffFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]

# A valid-looking value for each sandbox path parameter, so that a refusal is the gate's doing.
# Candidate values per path parameter: the first that the pattern accepts is used (a Checkout
# session and a portal session are both `session_id`, with different prefixes).
SAMPLE = {
    "path": ["accounts"],
    "name": ["clock"],
    "token": ["a" * 32],
    "session_id": ["cs_test_" + "a" * 58, "bps_" + "a" * 24],
    "intent_id": ["pi_" + "a" * 24],
    "charge_id": ["ch_" + "a" * 24],
    "invoice_id": ["in_" + "a" * 24],
}


def sandbox_urls() -> list[str]:
    """One concrete URL per sandbox pattern (walked from the resolver, so new ones are covered)."""
    (mount,) = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and getattr(p, "namespace", None) == "sandbox"
    ]
    urls = []
    for pattern in mount.url_patterns:
        assert isinstance(pattern, URLPattern)
        name = f"sandbox:{pattern.name}"
        from django.urls import reverse

        keys = list(pattern.pattern.regex.groupindex)
        for values in itertools.product(*(SAMPLE[k] for k in keys)):
            try:
                urls.append(reverse(name, kwargs=dict(zip(keys, values, strict=True))))
                break
            except NoReverseMatch:
                continue
        else:
            raise AssertionError(f"no sample value fits {pattern.pattern}")
    return urls


@pytest.mark.django_db
def test_every_sandbox_url_is_404_when_closed(client, settings):
    settings.DEBUG = False
    settings.SANDBOX_HTTP_OPEN = False
    urls = sandbox_urls()
    assert len(urls) >= 9
    tried = 0
    for who in (None, UserFactory(), StaffFactory(is_superuser=True)):
        client.logout()
        if who is not None:
            client.force_login(who)
        for url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url, HTTP_AUTHORIZATION="Bearer sk_test_sandbox")
                tried += 1
                assert response.status_code == 404, (who, method, url, response.status_code)
    print(f"sandbox closed: {tried} requests to {len(urls)} URLs, all 404")


@pytest.mark.django_db
def test_open_api_wants_the_configured_key_not_any_test_key(client, settings):
    settings.SANDBOX_HTTP_OPEN = True
    settings.SANDBOX_SECRET_KEY = "sk_test_" + "k" * 32
    for key in ("sk_test_sandbox", "sk_test_anything", "rk_test_abc", "sk_test_" + "k" * 31):
        response = client.get("/sandbox/v1/events", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 401, key
    response = client.get(
        "/sandbox/v1/events", HTTP_AUTHORIZATION=f"Bearer {settings.SANDBOX_SECRET_KEY}"
    )
    assert response.status_code == 200


SCRIPT = """
import django
django.setup()
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.urls import Resolver404, get_resolver
from django.core.management import call_command
import io

print("INSTALLED", apps.is_installed("sandbox"))
plan = io.StringIO()
call_command("showmigrations", "--plan", stdout=plan)
print("MIGRATIONS", sum(1 for line in plan.getvalue().splitlines() if "sandbox." in line))
for path in ("/sandbox/", "/sandbox/v1/events", "/sandbox/checkout/cs_test_abc/"):
    try:
        get_resolver().resolve(path)
        print("RESOLVES", path)
    except Resolver404:
        pass
"""


def test_a_real_key_installs_no_sandbox(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        SECRET_KEY="x" * 60,
        STRIPE_SECRET_KEY="sk_test_" + "a" * 24,
        SANDBOX_HTTP_OPEN="1",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "INSTALLED False" in result.stdout
    assert "MIGRATIONS 0" in result.stdout
    assert "RESOLVES" not in result.stdout
