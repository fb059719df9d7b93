"""Staff who move money sign in with a second factor: without one they are sent to enrol and
never reach a money action; with an authenticator app they can, after a recent check of it.
Codes are computed from the secret as an authenticator app does; log-ins go through the real
allauth flow (password, then code)."""

from __future__ import annotations

import time
from io import StringIO
from urllib.parse import urlsplit

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from marketplace.audit.models import AuditEntry
from marketplace.events.models import StripeEvent
from marketplace.staff import ENROL_MESSAGE
from payouts.models import FeeRule, ReconciliationRun
from sellers.models import Seller
from tests.factories import (
    PASSWORD,
    STAFF_TOTP_SECRET,
    StaffFactory,
    UserFactory,
    log_in_with_totp,
    totp_code,
)
from tests.sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def log_in_with_password(client, user):
    client.logout()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and "/2fa/" not in response["Location"]
    assert client.session.get("_auth_user_id") == str(user.pk)


@pytest.fixture
def world(db):
    """One of each thing a money action acts on."""
    seller = SellerFactory()
    StripeEvent.objects.create(
        stripe_id="evt_replay_me",
        type="test.nothing_handles_this",
        created=timezone.now(),
        payload={"id": "evt_replay_me", "object": "event"},
        status=StripeEvent.Status.DEAD,
    )
    rule_owner = StaffFactory()
    from payouts.services import fee_rule_create

    rule = fee_rule_create(
        actor=rule_owner,
        scope="platform",
        starts_on=timezone.now().date(),
        bps=500,
        currencies=["eur"],
        fixed_fees={"eur": 10},
    )
    return {"seller": seller, "event": StripeEvent.objects.get(), "rule": rule}


def money_actions(world):
    """(method, url, data) of every way staff move money or change who may sell."""
    seller, event, rule = world["seller"], world["event"], world["rule"]
    today = timezone.now().date().isoformat()
    sellers = reverse("admin:sellers_seller_changelist")
    events = reverse("admin:events_stripeevent_changelist")
    return [
        ("get", "/money/fees/", None),
        ("get", "/money/fees/new/", None),
        (
            "post",
            "/money/fees/new/",
            {"scope": "platform", "starts_on": today, "bps": "900", "cover_eur": "on"},
        ),
        ("post", f"/money/fees/{rule.pk}/retire/", {}),
        ("get", "/money/fees/simulate/", None),
        ("get", "/money/refunds/", None),
        ("get", "/money/refunds/ch_any/new/", None),
        ("post", "/money/refunds/ch_any/new/", {"amount": "1.00", "reason": "requested"}),
        ("get", "/money/transfers/", None),
        ("get", "/money/disputes/", None),
        ("get", "/money/dashboard/", None),
        ("get", "/money/reconciliation/", None),
        ("post", "/money/reconciliation/", {"start_day": today, "end_day": today}),
        ("get", reverse("audit:log"), None),
        ("get", reverse("admin:index"), None),
        ("get", sellers, None),
        ("post", sellers, {"action": "suspend", "_selected_action": [seller.pk]}),
        ("post", sellers, {"action": "reinstate", "_selected_action": [seller.pk]}),
        ("get", reverse("admin:sellers_seller_change", args=[seller.pk]), None),
        (
            "post",
            reverse("admin:sellers_seller_change", args=[seller.pk]),
            {"display_name": "Renamed", "slug": seller.slug, "user": seller.user_id},
        ),
        ("get", events, None),
        ("post", events, {"action": "replay", "_selected_action": [event.pk]}),
        ("post", reverse("admin:events_stripeevent_replay", args=[event.pk]), {}),
        ("get", reverse("admin:sellers_feerule_changelist"), None),
    ]


def state(world):
    seller = Seller.objects.get(pk=world["seller"].pk)
    event = StripeEvent.objects.get(pk=world["event"].pk)
    return (
        FeeRule.objects.count(),
        seller.status,
        seller.display_name,
        event.status,
        event.attempts,
        ReconciliationRun.objects.count(),
        AuditEntry.objects.count(),
    )


def test_staff_without_a_second_factor_reach_no_money_action(client, world):
    staff = StaffFactory(totp=False)
    log_in_with_password(client, staff)
    before = state(world)
    actions = money_actions(world)
    for method, url, data in actions:
        response = getattr(client, method)(url, data) if data is not None else client.get(url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert urlsplit(response["Location"]).path == reverse("mfa_index"), (method, url)
    assert state(world) == before
    # The enrol page says why, in words.
    page = client.get(reverse("mfa_index")).content.decode()
    assert "need two-factor authentication" in page and "authenticator app" in page
    print(f"{len(actions)} money actions tried without a second factor: all sent to enrol")


def test_enrol_message_is_clear(client):
    staff = StaffFactory(totp=False)
    log_in_with_password(client, staff)
    response = client.get("/money/fees/", follow=True)
    assert escape(ENROL_MESSAGE) in response.content.decode()
    assert "Fee rules" not in response.content.decode()


def test_non_staff_are_not_asked_to_enrol_they_get_404(client):
    log_in_with_password(client, UserFactory())
    assert client.get("/money/fees/").status_code == 404
    assert client.get(reverse("audit:log")).status_code == 404


def test_enrolling_totp_in_the_browser_flow_opens_the_money_pages(client):
    """The enrol page activates an authenticator app with a real code; then the pages open."""
    staff = StaffFactory(totp=False)
    log_in_with_password(client, staff)
    # allauth asks for the password again before adding a second factor.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and "/reauthenticate/" in response["Location"]
    client.post(response["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=staff, type="totp").exists()
    assert client.get("/money/fees/").status_code == 200


def test_with_totp_money_actions_work_after_reauthentication(client, world, monkeypatch):
    staff = StaffFactory()
    log_in_with_totp(client, staff)
    # Just signed in with the code: the second factor is fresh.
    sellers = reverse("admin:sellers_seller_changelist")
    response = client.post(sellers, {"action": "suspend", "_selected_action": [world["seller"].pk]})
    assert response.status_code == 302
    assert Seller.objects.get(pk=world["seller"].pk).status == "suspended"

    # Ten minutes later (past STAFF_REAUTHENTICATION_SECONDS) pages still open, actions do not.
    real_time = time.time
    later = real_time() + 600
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/money/fees/").status_code == 200
    data = {"action": "reinstate", "_selected_action": [world["seller"].pk]}
    response = client.post(sellers, data)
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("mfa_reauthenticate")
    assert Seller.objects.get(pk=world["seller"].pk).status == "suspended"

    # A wrong code is refused; the right one replays the suspended request.
    reauth = response["Location"]
    wrong = client.post(reauth, {"code": "000000" if totp_code() != "000000" else "111111"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    assert Seller.objects.get(pk=world["seller"].pk).status == "suspended"
    response = client.post(reauth, {"code": totp_code(STAFF_TOTP_SECRET, at=later)})
    assert response.status_code == 302
    assert Seller.objects.get(pk=world["seller"].pk).status == "active"
    # Fresh again: the next action goes straight through.
    rule = world["rule"]
    assert client.post(f"/money/fees/{rule.pk}/retire/").status_code == 302
    assert FeeRule.objects.filter(supersedes=rule, is_active=False).exists()


def test_a_password_alone_does_not_make_the_second_factor_fresh(client, world, monkeypatch):
    staff = StaffFactory()
    log_in_with_totp(client, staff)
    later = time.time() + 600
    monkeypatch.setattr(time, "time", lambda: later)
    # allauth's password re-authentication page still works ...
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    # ... but a money action still asks for the code.
    response = client.post(f"/money/fees/{world['rule'].pk}/retire/")
    assert urlsplit(response["Location"]).path == reverse("mfa_reauthenticate")
    assert not FeeRule.objects.filter(supersedes=world["rule"]).exists()


def test_a_recovery_code_signs_in_once(client):
    staff = StaffFactory(totp=False)
    from tests.factories import enrol_totp

    codes = enrol_totp(staff)
    client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 302 and client.session.get("_auth_user_id") == str(staff.pk)
    assert client.get("/money/fees/").status_code == 200
    client.logout()
    client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    again = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert again.status_code == 200 and "_auth_user_id" not in client.session


def test_admin_login_goes_through_the_site_login_with_its_second_factor(client):
    staff = StaffFactory()
    response = client.get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == reverse("account_login")
    # The admin's own password form would skip the second factor: it is never served.
    posted = client.post(reverse("admin:login"), {"username": staff.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert posted.status_code == 302
    log_in_with_totp(client, staff)
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_enrol_command_creates_the_first_admin(client):
    out = StringIO()
    call_command("staff_enrol", "first-admin@example.com", stdout=out)
    text = out.getvalue()
    lines = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if ":" in line
    }
    secret = lines["secret"]
    password = lines["Password (change it after signing in)"]
    assert lines["URI"].startswith("otpauth://totp/") and f"secret={secret}" in lines["URI"]
    codes = [
        line.strip() for line in text.split("Recovery codes")[1].splitlines()[1:] if line.strip()
    ]
    assert len(codes) == 10
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(email="first-admin@example.com")
    assert admin.is_staff and admin.is_superuser
    # Signs in with the printed password and a code from the printed secret, reaches the admin.
    response = client.post("/accounts/login/", {"login": admin.email, "password": password})
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert client.get(reverse("admin:index")).status_code == 200
    # Again without --replace: refused, the secret unchanged; promoting an existing user works.
    with pytest.raises(Exception, match="already has an authenticator app"):
        call_command("staff_enrol", "first-admin@example.com", stdout=StringIO())
    user = UserFactory()
    call_command("staff_enrol", user.email, "--no-superuser", stdout=(out := StringIO()))
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser and "Promoted" in out.getvalue()
    assert "Password" not in out.getvalue()


def test_demo_admin_is_enrolled_and_told_how_to_sign_in(client):
    from marketplace.staff_enrolment import seed_admin_second_factor

    admin = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    out = StringIO()
    seed_admin_second_factor(out)
    text = out.getvalue()
    secret = text.split("authenticator app secret:")[1].split()[0]
    code = text.split("recovery code (each works once):")[1].split(",")[0].strip()
    # Run again (make demo twice): the same secret, no error.
    again = StringIO()
    seed_admin_second_factor(again)
    assert secret in again.getvalue()
    client.post("/accounts/login/", {"login": admin.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": code})
    assert client.get(reverse("admin:index")).status_code == 200
    client.logout()
    client.post("/accounts/login/", {"login": admin.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert client.get(reverse("admin:index")).status_code == 200
