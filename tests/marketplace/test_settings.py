"""Settings parsing: each bad variable stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace.env import (
    env_bool,
    env_int,
    env_list,
    parse_database_url,
    validate_accept_window,
    validate_checkout_ui,
    validate_publishable_key,
    validate_redis_url,
    validate_stripe_keys,
)

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "DEBUG",
            "STRIPE_SECRET_KEY",
            "SECURE_SSL_REDIRECT",
            "ALLOWED_HOSTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests; check --deploy refuses it
            "SANDBOX_HTTP_OPEN",  # on for the test run (pyproject's pytest env), not production
        }
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_helpers():
    assert env_bool("X", environ={"X": "yes"}) is True
    assert env_bool("X", True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
        env_bool("X", environ={"X": "maybe"})
    assert env_int("N", 3, environ={"N": " 7 "}) == 7
    with pytest.raises(ImproperlyConfigured, match="N='seven'"):
        env_int("N", 3, environ={"N": "seven"})
    assert env_list("L", ["a"], environ={"L": "x, y,,"}) == ["x", "y"]


def test_database_url_parsing():
    cfg = parse_database_url("postgres://u:p@db.example:5433/shop")
    assert cfg["ENGINE"] == "django.db.backends.postgresql"
    assert (cfg["HOST"], cfg["PORT"], cfg["NAME"]) == ("db.example", 5433, "shop")
    for bad, message in [
        ("localhost:5432", "is not a URL"),
        ("mysql://u@h/db", "only postgres"),
        ("postgres://u@h:5432/", "names no database"),
    ]:
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_database_url(bad)


def test_a_sqlite_database_url_gets_the_same_locking_options_as_the_default_file():
    # Without them, `DATABASE_URL=sqlite:///... manage.py demo_seed` failed at once with
    # "database is locked" when the sandbox's delivery thread wrote beside the command.
    cfg = parse_database_url("sqlite:////tmp/shop.sqlite3")
    assert cfg["NAME"] == "/tmp/shop.sqlite3"
    assert cfg["OPTIONS"] == {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    assert "OPTIONS" not in parse_database_url("postgres://u@h:5432/db") or (
        "transaction_mode" not in parse_database_url("postgres://u@h:5432/db")["OPTIONS"]
    )


def test_redis_url_and_stripe_keys():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        validate_redis_url("localhost:6379")
    assert validate_stripe_keys("", [], []) == "sandbox"
    assert validate_stripe_keys("sk_test_abc", [], []) == "test"
    with pytest.raises(ImproperlyConfigured, match="STRIPE_WEBHOOK_SECRET is required"):
        validate_stripe_keys("sk_live_abc", [], [])
    with pytest.raises(ImproperlyConfigured, match="STRIPE_CONNECT_WEBHOOK_SECRET is required"):
        validate_stripe_keys("sk_live_abc", ["whsec_1"], [])
    with pytest.raises(ImproperlyConfigured, match="STRIPE_SECRET_KEY must start"):
        validate_stripe_keys("pk_test_abc", [], [])


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", ALLOWED_HOSTS="example.com")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: configuration: SECRET_KEY is not set; set it (50+ random characters) or run with DEBUG=1."
    ]


def test_bad_database_url_is_one_line():
    result = run_manage("check", DEBUG="1", DATABASE_URL="mysql://x@y/z")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DATABASE_URL" in result.stderr


def test_database_down_is_one_line():
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    result = run_manage(
        "migrate", "--check", DEBUG="1", DATABASE_URL="postgres://postgres@127.0.0.1:1/nothing"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database"), (
        result.stderr
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x" * 20 + "-production-like-secret-key-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="marketplace.example.com",
        SANDBOX_HTTP_OPEN="0",  # production's default (pytest's environment opens it)
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_on_site_payment_settings():
    assert validate_checkout_ui(" Elements ") == "elements"
    with pytest.raises(ImproperlyConfigured, match="CHECKOUT_UI='embedded' must be hosted"):
        validate_checkout_ui("embedded")
    # The sandbox needs no publishable key; real Stripe with elements does, of the same mode.
    assert validate_publishable_key("", "", "elements") == ""
    assert validate_publishable_key("pk_test_1", "sk_test_1", "elements") == "pk_test_1"
    assert validate_publishable_key("", "sk_live_1", "hosted") == ""
    with pytest.raises(ImproperlyConfigured, match="CHECKOUT_UI=elements needs"):
        validate_publishable_key("", "sk_test_1", "elements")
    with pytest.raises(ImproperlyConfigured, match="same mode"):
        validate_publishable_key("pk_test_1", "sk_live_1", "elements")
    with pytest.raises(ImproperlyConfigured, match="same mode"):
        validate_publishable_key("pk_live_1", "rk_test_1", "hosted")
    with pytest.raises(ImproperlyConfigured, match="must start with pk_test_ or pk_live_"):
        validate_publishable_key("sk_test_1", "sk_test_1", "elements")
    assert validate_accept_window(72) == 72 and validate_accept_window(168) == 168
    with pytest.raises(ImproperlyConfigured, match="a card authorisation lasts 7 days"):
        validate_accept_window(169)


def test_start_up_refuses_elements_without_a_publishable_key():
    result = run_manage(
        "check",
        DEBUG="1",
        STRIPE_SECRET_KEY="sk_test_123",
        CHECKOUT_UI="elements",
    )
    assert result.returncode != 0
    assert "STRIPE_PUBLISHABLE_KEY" in result.stderr
