"""Parsing of environment variables for settings.

Each helper raises ``ImproperlyConfigured`` with one line that names the variable, so that a bad
deployment stops at start-up with a message an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(name, default).strip()


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    raw = environ[name].strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={environ[name]!r} is not a boolean (use 1/0, true/false).")


def env_int(
    name: str, default: int, environ: Mapping[str, str] | None = None, minimum: int | None = None
) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


# SQLite, however it is named (the default file or a sqlite:// DATABASE_URL): wait up to 20 s for
# another connection's write instead of failing at once with "database is locked", and take the
# write lock when a transaction starts (a read that later writes would otherwise deadlock).
SQLITE_OPTIONS: dict[str, Any] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}


def parse_database_url(url: str) -> dict[str, Any]:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES['default']`` entry, or fail in one line."""
    import dj_database_url

    if "://" not in url:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} is not a URL (expected postgres://user@host:5432/name)."
        )
    scheme = url.split("://", 1)[0]
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL uses the scheme {scheme!r}; only postgres:// and sqlite:// are supported."
        )
    try:
        config: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        )
    except Exception as exc:  # dj-database-url raises several types for malformed URLs
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database (add /name at the end).")
    if scheme == "sqlite":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **(config.get("OPTIONS") or {})}
    return config


def validate_redis_url(url: str) -> str:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"REDIS_URL={url!r} is not a redis:// URL (expected redis://host:6379/0)."
        )
    return url


def validate_stripe_keys(
    secret_key: str, webhook_secrets: list[str], connect_webhook_secrets: list[str]
) -> str:
    """Return the Stripe mode ("sandbox", "test" or "live"), refusing inconsistent keys."""
    if not secret_key:
        return "sandbox"
    if secret_key.startswith(("sk_live_", "rk_live_")):
        mode = "live"
    elif secret_key.startswith(("sk_test_", "rk_test_")):
        mode = "test"
    else:
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY must start with sk_test_, sk_live_, rk_test_ or rk_live_."
        )
    if mode == "live":
        if not webhook_secrets:
            raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET is required with a live Stripe key.")
        if not connect_webhook_secrets:
            raise ImproperlyConfigured(
                "STRIPE_CONNECT_WEBHOOK_SECRET is required with a live Stripe key."
            )
    for name, secrets in (
        ("STRIPE_WEBHOOK_SECRET", webhook_secrets),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", connect_webhook_secrets),
    ):
        for secret in secrets:
            if not secret.startswith("whsec_"):
                raise ImproperlyConfigured(f"{name} must start with whsec_.")
    return mode


CHECKOUT_UIS = ("hosted", "elements")


def validate_checkout_ui(value: str) -> str:
    """``CHECKOUT_UI``: ``hosted`` (Stripe's Checkout page) or ``elements`` (our own page)."""
    ui = value.strip().lower()
    if ui not in CHECKOUT_UIS:
        raise ImproperlyConfigured(f"CHECKOUT_UI={value!r} must be hosted or elements.")
    return ui


def validate_publishable_key(publishable_key: str, secret_key: str, checkout_ui: str) -> str:
    """``STRIPE_PUBLISHABLE_KEY``: a ``pk_test_``/``pk_live_`` key of the secret key's mode.
    Required with a real secret key and ``CHECKOUT_UI=elements`` (Stripe.js needs it); unused in
    sandbox mode (the sandbox has its own)."""
    key = publishable_key.strip()
    if key and not key.startswith(("pk_test_", "pk_live_")):
        raise ImproperlyConfigured("STRIPE_PUBLISHABLE_KEY must start with pk_test_ or pk_live_.")
    if not secret_key:
        return key
    live = secret_key.startswith(("sk_live_", "rk_live_"))
    if not key:
        if checkout_ui == "elements":
            raise ImproperlyConfigured(
                "CHECKOUT_UI=elements needs STRIPE_PUBLISHABLE_KEY (Stripe.js runs with it)."
            )
        return key
    if key.startswith("pk_live_") != live:
        raise ImproperlyConfigured(
            "STRIPE_PUBLISHABLE_KEY and STRIPE_SECRET_KEY must be of the same mode (both test "
            "or both live)."
        )
    return key


# Stripe holds a card authorisation for 7 days; an order must be accepted before that.
MAX_ACCEPT_WINDOW_HOURS = 7 * 24


def validate_accept_window(hours: int) -> int:
    """``ORDER_ACCEPT_WINDOW_HOURS``: 1 to 168 (the card authorisation's 7 days)."""
    if not 1 <= hours <= MAX_ACCEPT_WINDOW_HOURS:
        raise ImproperlyConfigured(
            f"ORDER_ACCEPT_WINDOW_HOURS={hours} must be from 1 to {MAX_ACCEPT_WINDOW_HOURS} "
            "(a card authorisation lasts 7 days)."
        )
    return hours
