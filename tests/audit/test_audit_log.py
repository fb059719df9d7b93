"""The audit log of staff actions: append-only (model and database), written by the actions
themselves with who, when, from where, before and after, and shown to staff with filters."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from marketplace.audit.models import AuditEntry, AuditLogImmutable
from marketplace.audit.origin import audit_origin, client_ip
from marketplace.audit.services import Action, audit_record
from payouts.models import ReconciliationRun
from sellers.models import Seller
from tests.factories import StaffFactory, UserFactory, log_in_with_totp
from tests.sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def entry(**overrides):
    data = {"action": Action.REFUND, "object_type": "payouts.refund", "object_id": "re_1"}
    data.update(overrides)
    return audit_record(**data)


def test_entries_are_never_changed_or_deleted_by_the_model_layer():
    row = entry(after={"amount": 500})
    row.summary = "rewritten"
    with pytest.raises(AuditLogImmutable):
        row.save()
    with pytest.raises(AuditLogImmutable):
        row.delete()
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.filter(pk=row.pk).update(summary="x")
    with pytest.raises(AuditLogImmutable):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().after == {"amount": 500}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
def test_database_refuses_raw_update_and_delete_on_postgresql():
    row = entry()
    for sql in (
        "UPDATE audit_auditentry SET summary = 'x' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [row.pk])
    assert AuditEntry.objects.filter(pk=row.pk, summary="").exists()


def test_who_and_where_come_from_the_origin():
    staff = StaffFactory()
    with audit_origin(via="web", user=staff, ip_address="203.0.113.9"):
        row = entry()
    assert (row.actor_id, row.actor, row.via, row.ip_address) == (
        staff.pk,
        staff.email,
        "web",
        "203.0.113.9",
    )
    with audit_origin(via="command", label="manage.py reconcile (ops)"):
        row = entry()
    assert (row.actor_id, row.actor, row.via, row.ip_address) == (
        None,
        "manage.py reconcile (ops)",
        "command",
        None,
    )
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(action="refund.oops")


def test_client_address_behind_trusted_proxies(settings):
    rf = RequestFactory()
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.1")
    settings.AUDIT_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.2"  # the forwarded header is not trusted by default
    settings.AUDIT_TRUSTED_PROXIES = 1
    assert client_ip(request) == "10.0.0.1"
    settings.AUDIT_TRUSTED_PROXIES = 2
    assert client_ip(request) == "198.51.100.7"
    spoofed = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    settings.AUDIT_TRUSTED_PROXIES = 1
    assert client_ip(spoofed) is None


def test_suspension_and_reinstatement_in_the_admin_are_logged(client):
    staff = StaffFactory()
    seller = SellerFactory()
    log_in_with_totp(client, staff)
    url = reverse("admin:sellers_seller_changelist")
    client.post(
        url,
        {"action": "suspend", "_selected_action": [seller.pk]},
        REMOTE_ADDR="192.0.2.44",
    )
    client.post(url, {"action": "reinstate", "_selected_action": [seller.pk]})
    client.post(url, {"action": "reinstate", "_selected_action": [seller.pk]})  # no change
    suspend, reinstate = AuditEntry.objects.order_by("id")
    assert suspend.action == "seller.suspend" and reinstate.action == "seller.reinstate"
    assert suspend.actor == staff.email and suspend.via == "admin"
    assert suspend.ip_address == "192.0.2.44"
    assert (suspend.object_type, suspend.object_id) == ("sellers.seller", str(seller.pk))
    assert suspend.before["status"] == "active" and suspend.after["status"] == "suspended"
    assert reinstate.before["status"] == "suspended" and reinstate.after["status"] == "active"


def test_admin_edit_records_the_fields_before_and_after(client):
    staff = StaffFactory()
    listing = ListingFactory(price_amount=2500)
    log_in_with_totp(client, staff)
    url = reverse("admin:sellers_listing_change", args=[listing.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        {
            "price_amount": "2700",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
        }
    )
    data["seller"] = listing.seller_id
    if listing.category_id:
        data["category"] = listing.category_id
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = AuditEntry.objects.get()
    assert row.action == "admin.change" and row.via == "admin" and row.actor == staff.email
    assert (row.object_type, row.object_id) == ("sellers.listing", str(listing.pk))
    assert row.before["price_amount"] == 2500 and row.after["price_amount"] == 2700
    assert set(row.after) == {"price_amount", "updated_at"}  # only what changed
    assert row.after["updated_at"] > row.before["updated_at"]  # ISO times, as JSON


def test_reconciliation_run_from_the_page_is_logged(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    staff = StaffFactory()
    log_in_with_totp(client, staff)
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    future = (timezone.now() + timedelta(days=2)).date().isoformat()
    bad = client.post("/money/reconciliation/", {"start_day": day, "end_day": future})
    assert "in the future" in bad.content.decode() and not AuditEntry.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/money/reconciliation/", {"start_day": day, "end_day": day})
    assert response.status_code == 302
    run = ReconciliationRun.objects.get()
    assert run.period_start.date().isoformat() == day
    row = AuditEntry.objects.get()
    assert row.action == "reconciliation.run" and row.actor == staff.email and row.via == "web"
    assert row.after == {"start_day": day, "end_day": day}


def test_reconciliation_command_is_logged(fake_stripe):
    call_command("reconcile", "--from", "2026-01-01", stdout=StringIO())
    row = AuditEntry.objects.get()
    assert row.action == "reconciliation.run" and row.via == "command"
    assert row.actor.startswith("manage.py reconcile")
    assert row.after["status"] == "clean" and row.object_id == str(
        ReconciliationRun.objects.get().pk
    )


def test_the_log_page_filters_by_actor_action_dates_and_object(client):
    staff = StaffFactory(email="boss@example.com")
    other = StaffFactory(email="clerk@example.com")
    with audit_origin(via="web", user=staff, ip_address="192.0.2.1"):
        entry(object_id="re_AAA", object_repr="Refund of order #7", after={"amount": 700})
    with audit_origin(via="admin", user=other):
        audit_record(
            action=Action.SELLER_SUSPEND,
            object_type="sellers.seller",
            object_id="42",
            object_repr="Ana's Ceramics",
        )
    today = timezone.localdate().isoformat()
    log_in_with_totp(client, staff)

    def listed(query):
        html = client.get(reverse("audit:log") + query).content.decode()
        return ("re_AAA" in html, "Ana&#x27;s Ceramics" in html)

    assert listed("") == (True, True)
    assert listed("?actor=clerk") == (False, True)
    assert listed("?action=refund") == (True, False)
    assert listed(f"?date_from={today}&date_to={today}") == (True, True)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert listed(f"?date_from={tomorrow}") == (False, False)
    assert listed("?obj=re_AAA") == (True, False)
    assert listed("?obj=ceramics") == (False, True)
    # A reversed range and junk input are a message, never a 500.
    html = client.get(reverse("audit:log") + f"?date_from={tomorrow}&date_to={today}")
    assert html.status_code == 200 and "The end is before the start." in html.content.decode()
    assert client.get(reverse("audit:log") + "?date_from=yesterday&obj=%00").status_code == 200
    # htmx gets the results partial only; it shows before/after and the address.
    partial = client.get(reverse("audit:log") + "?actor=boss", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and "re_AAA" in body and "192.0.2.1" in body and "700" in body


def test_the_log_page_is_for_staff_only(client):
    assert client.get(reverse("audit:log")).status_code == 302  # to the login
    client.force_login(UserFactory())
    assert client.get(reverse("audit:log")).status_code == 404
    client.force_login(SellerFactory().user)
    assert client.get(reverse("audit:log")).status_code == 404


def test_a_failed_action_leaves_no_entry():
    seller = SellerFactory(status=Seller.Status.DISCONNECTED)
    from marketplace.errors import UserFacingError
    from sellers.services import seller_suspend

    with pytest.raises(UserFacingError):
        seller_suspend(seller=seller, reason="x")
    assert not AuditEntry.objects.exists()


def test_secrets_never_reach_the_log(client):
    """Password hashes and authenticator secrets are hidden; a change still shows."""
    from allauth.mfa.models import Authenticator

    from marketplace.audit.services import snapshot

    staff = StaffFactory()
    totp = Authenticator.objects.get(user=staff, type="totp")
    values = snapshot(totp)
    assert values["data"].startswith("(hidden ") and "secret" not in str(values)
    user_values = snapshot(staff)
    assert user_values["password"].startswith("(hidden ") and "md5$" not in str(user_values)
    assert user_values["email"] == staff.email
    # Deleting someone's authenticator in the admin is logged without its secret.
    log_in_with_totp(client, staff)
    other = StaffFactory()
    victim = Authenticator.objects.get(user=other, type="totp")
    url = reverse("admin:mfa_authenticator_delete", args=[victim.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    row = AuditEntry.objects.get(action="admin.delete")
    assert row.before["data"].startswith("(hidden ")
    assert "JBSWY3DP" not in str(row.before)
