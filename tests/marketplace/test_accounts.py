"""allauth flows: sign-up, email verification, log-in, log-out, password reset, rate limits."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _link(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/\S+)", body)
    assert match, body
    return match.group(1)


def test_signup_verification_and_login(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="new@example.com").exists()
    assert len(mail.outbox) == 1
    assert "new@example.com" in mail.outbox[0].to
    # The subject carries the marketplace's name, not the host the request came to.
    assert mail.outbox[0].subject.startswith("[Marketplace] ")
    assert "testserver" not in mail.outbox[0].subject

    # Not verified yet: logging in sends the person to the "verify your email" page.
    client.logout()
    response = client.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302 and "confirm-email" in response.url

    confirm_url = _link(mail.outbox[-1].body)
    response = client.post(confirm_url)
    assert response.status_code == 302
    response = client.get("/")
    assert "new@example.com" in response.content.decode()

    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"


def test_signup_bad_input_gets_a_message(client):
    UserFactory(email="taken@example.com")
    # allauth prevents account enumeration: the page behaves as for a new address and the owner
    # of the address gets an email saying an account already exists.
    response = client.post(
        "/accounts/signup/",
        {"email": "taken@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(email="taken@example.com").count() == 1
    assert "already" in mail.outbox[-1].body.lower()
    response = client.post(
        "/accounts/signup/", {"email": "x@example.com", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()


def test_wrong_password_and_rate_limit(client):
    UserFactory(email="someone@example.com")
    for _ in range(5):
        response = client.post(
            "/accounts/login/", {"login": "someone@example.com", "password": "nope"}
        )
        assert response.status_code == 200
        assert "not correct" in response.content.decode()
    response = client.post("/accounts/login/", {"login": "someone@example.com", "password": "nope"})
    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()


def test_password_reset(client):
    user = UserFactory(email="forgot@example.com")
    response = client.post("/accounts/password/reset/", {"email": "forgot@example.com"})
    assert response.status_code == 302
    reset_url = _link(mail.outbox[-1].body)
    response = client.get(reset_url, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else reset_url
    response = client.post(
        form_url, {"password1": "brand-new-pass-42", "password2": "brand-new-pass-42"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-42")


def test_logout_needs_post_and_csrf(client):
    user = UserFactory()
    client.force_login(user)
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session
