"""Fixtures of the sellers tests: a fake Stripe behind the gateway's sellers functions (for unit
tests that must not depend on the sandbox), media in a temporary folder, image uploads."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from marketplace import stripe_gateway
from marketplace.stripe_gateway import GatewayError


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def image_upload(
    name: str = "photo.jpg", size: tuple[int, int] = (800, 600), fmt: str = "JPEG"
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


@dataclass
class FakeStripe:
    """Stands in for the sellers' Stripe calls: accounts kept in memory, calls recorded,
    failures injectable (``fail["account_create"] = GatewayError(...)``)."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(1))

    def _maybe_fail(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def account_create(self, *, seller_id: int, country: str, email: str) -> stripe.Account:
        self.calls.append(("account_create", {"seller_id": seller_id, "country": country}))
        self._maybe_fail("account_create")
        key = stripe_gateway.idempotency_key("seller", seller_id, "account")
        if key not in self.keys:
            account_id = f"acct_fake{next(self.counter):06d}"
            self.keys[key] = account_id
            self.accounts[account_id] = {
                "id": account_id,
                "object": "account",
                "country": country,
                "email": email,
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "metadata": {"seller_id": str(seller_id)},
                "requirements": {
                    "currently_due": ["external_account", "tos_acceptance.date"],
                    "eventually_due": ["external_account", "tos_acceptance.date"],
                    "past_due": [],
                    "current_deadline": None,
                    "disabled_reason": "requirements.past_due",
                },
            }
        return stripe.Account.construct_from(self.accounts[self.keys[key]], "sk_test_fake")

    def account_retrieve(self, *, account_id: str) -> stripe.Account:
        self.calls.append(("account_retrieve", {"account_id": account_id}))
        self._maybe_fail("account_retrieve")
        if account_id not in self.accounts:
            raise GatewayError("No such account", code="resource_missing", http_status=404)
        return stripe.Account.construct_from(self.accounts[account_id], "sk_test_fake")

    def account_link_create(self, **kwargs: Any) -> stripe.AccountLink:
        self.calls.append(("account_link_create", kwargs))
        self._maybe_fail("account_link_create")
        n = next(self.counter)
        return stripe.AccountLink.construct_from(
            {
                "object": "account_link",
                "url": f"https://connect.stripe.test/setup/{kwargs['account_id']}/{n}",
                "created": 1,
                "expires_at": 301,
            },
            "sk_test_fake",
        )

    def login_link_create(self, *, account_id: str, request_key: str) -> stripe.LoginLink:
        self.calls.append(("login_link_create", {"account_id": account_id}))
        self._maybe_fail("login_link_create")
        return stripe.LoginLink.construct_from(
            {"object": "login_link", "url": f"https://connect.stripe.test/express/{account_id}"},
            "sk_test_fake",
        )

    # --- helpers for tests ---------------------------------------------------------------
    def complete(self, account_id: str) -> None:
        """What a seller finishing the hosted onboarding does to the account."""
        self.accounts[account_id].update(
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements={
                "currently_due": [],
                "eventually_due": [],
                "past_due": [],
                "current_deadline": None,
                "disabled_reason": None,
            },
        )

    def add(self, account_id: str, **fields: Any) -> None:
        base = {
            "id": account_id,
            "object": "account",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "requirements": {"currently_due": [], "eventually_due": [], "past_due": []},
        }
        base.update(fields)
        self.accounts[account_id] = base

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)


@pytest.fixture
def fake_stripe(monkeypatch) -> FakeStripe:
    fake = FakeStripe()
    for name in ("account_create", "account_retrieve", "account_link_create", "login_link_create"):
        monkeypatch.setattr(stripe_gateway, name, getattr(fake, name))
    return fake


@pytest.fixture
def eager_tasks():
    """Run enqueued Celery tasks in this process even when REDIS_URL names a broker: the fakes
    and the sandbox's in-process deliveries live here, and no worker runs in these tests."""
    from marketplace.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
