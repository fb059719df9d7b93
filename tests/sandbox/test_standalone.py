"""The standalone sandbox (``make sandbox``, sandbox/standalone/settings.py) in its own process:
the API at the root, and the pages under /sandbox/ (the stand-in Stripe.js, the control page)
answer, since that server exists to be reached over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django.test import Client
c = Client()
sk = {"HTTP_AUTHORIZATION": "Bearer sk_test_sandbox"}
pk = {"HTTP_AUTHORIZATION": "Bearer pk_test_sandbox"}
pi = c.post("/v1/payment_intents", "amount=1000&currency=eur",
            content_type="application/x-www-form-urlencoded", **sk).json()
print(c.get("/sandbox/js/v3/").status_code)
print(c.get("/sandbox/").status_code)
print(c.get(f"/sandbox/v1/payment_intents/{pi['id']}?client_secret={pi['client_secret']}", **pk).status_code)
print(c.get("/v1/customers", **pk).status_code)
"""


def test_standalone_sandbox_serves_stripe_js_and_its_pages(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sandbox.standalone.settings",
        "SANDBOX_DATABASE": str(tmp_path / "standalone.sqlite3"),
        "SANDBOX_ALLOWED_HOSTS": "testserver",
        "SANDBOX_WEBHOOK_DELIVERY": "manual",
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["200", "200", "200", "401"]
