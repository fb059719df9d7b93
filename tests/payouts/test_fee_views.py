from __future__ import annotations

import pytest
from django.utils import timezone

from payouts.models import FeeRule
from payouts.services import fee_rule_create
from tests.factories import log_in_with_totp
from tests.payouts.factories import CategoryFactory, SellerFactory, UserFactory

pytestmark = pytest.mark.django_db


def post_rule(client, **overrides):
    data = {
        "scope": "platform",
        "starts_on": timezone.now().date().isoformat(),
        "bps": "800",
        "cover_eur": "on",
        "fixed_eur": "0.25",
        "note": "launch pricing",
    }
    data.update(overrides)
    return client.post("/money/fees/new/", data)


def test_staff_creates_a_rule_and_sees_it_listed(client, staff):
    log_in_with_totp(client, staff)
    response = post_rule(client)
    assert response.status_code == 302
    rule = FeeRule.objects.get()
    assert rule.bps == 800 and rule.fixed_fees == {"eur": 25} and rule.created_by == staff
    page = client.get("/money/fees/").content.decode()
    assert "launch pricing" in page and "EUR + €0.25" in page and staff.email in page


def test_bad_rule_shows_the_message_and_keeps_input(client, staff):
    log_in_with_totp(client, staff)
    response = post_rule(client, bps="-5")
    assert response.status_code == 200
    assert "Basis points cannot be negative." in response.content.decode()
    assert 'value="-5"' in response.content.decode()
    response = post_rule(client, cover_eur="", fixed_usd="1.00")
    html = response.content.decode()
    assert "does not cover" in html or "at least one currency" in html
    response = post_rule(client, fixed_eur="0.001")
    assert "more decimals" in response.content.decode()
    assert not FeeRule.objects.exists()


def test_change_creates_a_new_version_and_keeps_history(client, staff):
    log_in_with_totp(client, staff)
    post_rule(client)
    first = FeeRule.objects.get()
    form = client.get(f"/money/fees/new/?supersedes={first.pk}").content.decode()
    assert 'value="800"' in form
    response = post_rule(client, bps="900", supersedes=str(first.pk), note="raise")
    assert response.status_code == 302
    assert FeeRule.objects.count() == 2
    page = client.get("/money/fees/").content.decode()
    assert "1 earlier version" in page
    # Posting a version of the superseded rule again is refused, not a 500.
    response = post_rule(client, bps="950", supersedes=str(first.pk))
    assert "changed by someone else" in response.content.decode()


def test_retire(client, staff):
    log_in_with_totp(client, staff)
    post_rule(client)
    rule = FeeRule.objects.get()
    client.post(f"/money/fees/{rule.pk}/retire/")
    assert FeeRule.objects.filter(supersedes=rule, is_active=False).exists()
    assert "retired" in client.get("/money/fees/").content.decode()


def test_simulator_quotes_with_rules_and_htmx_partial(client, staff):
    category, seller = CategoryFactory(name="Books"), SellerFactory(display_name="Ada's")
    fee_rule_create(
        actor=staff,
        scope="category",
        category=category,
        starts_on=timezone.now().date(),
        bps=1000,
        currencies=["eur"],
        fixed_fees={"eur": 50},
    )
    log_in_with_totp(client, staff)
    params = {"amount": "25.00", "currency": "eur", "category": category.pk, "seller": seller.pk}
    page = client.get("/money/fees/simulate/", params).content.decode()
    assert "€3.00" in page and "€22.00" in page and "<form" in page
    partial = client.get("/money/fees/simulate/", params, HTTP_HX_REQUEST="true").content.decode()
    assert "€3.00" in partial and "<form" not in partial and 'id="quote"' in partial
    bad = client.get(
        "/money/fees/simulate/", {"amount": "abc", "currency": "eur"}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 200 and "not a number" in bad.content.decode()


@pytest.mark.parametrize(
    "url",
    ["/money/fees/", "/money/fees/new/", "/money/fees/simulate/?amount=1&currency=eur"],
)
def test_non_staff_get_404_and_anonymous_login(client, url):
    assert client.get(url).status_code == 302  # anonymous: to the log-in page
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(SellerFactory().user)
    assert client.get(url).status_code == 404


def test_non_staff_cannot_post_rules_or_retire(client, staff):
    rule = fee_rule_create(
        actor=staff, scope="platform", starts_on=timezone.now().date(), bps=1, currencies=["eur"]
    )
    client.force_login(SellerFactory().user)
    assert post_rule(client).status_code == 404
    assert client.post(f"/money/fees/{rule.pk}/retire/").status_code == 404
    assert FeeRule.objects.count() == 1
