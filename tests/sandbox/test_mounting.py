"""With real Stripe keys the sandbox is not reachable at all: none of its URLs are mounted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django
django.setup()
from django.urls import get_resolver, Resolver404
from django.conf import settings

def walk(patterns, prefix=""):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p.callback.__module__

routes = list(walk(get_resolver().url_patterns))
sandbox = [r for r, module in routes if module.startswith("sandbox")]
for path in ("/sandbox/", "/sandbox/v1/accounts", "/sandbox/onboarding/x/", "/sandbox/express/x/"):
    try:
        get_resolver().resolve(path)
        print("RESOLVES", path)
    except Resolver404:
        pass
print("SANDBOX_MODE", settings.STRIPE_SANDBOX)
print("SANDBOX_ROUTES", len(sandbox))
"""


def run(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in {"STRIPE_SECRET_KEY", "DATABASE_URL"}}
    base.update(
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        SECRET_KEY="x" * 60,
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_no_sandbox_url_with_a_real_key():
    out = run(STRIPE_SECRET_KEY="sk_test_" + "a" * 24)
    assert "SANDBOX_MODE False" in out
    assert "SANDBOX_ROUTES 0" in out
    assert "RESOLVES" not in out


def test_sandbox_urls_without_a_key():
    out = run()
    assert "SANDBOX_MODE True" in out
    assert "SANDBOX_ROUTES 0" not in out
    assert out.count("RESOLVES") == 4
