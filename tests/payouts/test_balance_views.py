from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace import stripe_gateway
from payouts.models import LedgerTransaction, Payout, SellerBalance
from payouts.services import ledger_record, movement_postings
from tests.factories import log_in_with_totp
from tests.payouts.factories import SellerFactory, UserFactory

pytestmark = pytest.mark.django_db
K = LedgerTransaction.Kind


def earn(seller, amount, suffix, *, days_ago=0, currency="eur"):
    ledger_record(
        kind=K.TRANSFER,
        stripe_object_id=f"tr_{suffix}",
        seller=seller,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        postings=movement_postings(
            kind=K.TRANSFER, amount=amount, currency=currency, seller_id=seller.pk
        ),
    )


def test_balance_page_shows_ledger_chart_and_payouts(client):
    seller = SellerFactory()
    earn(seller, 2000, "a", days_ago=1)
    earn(seller, 500, "b", days_ago=0)
    Payout.objects.create(
        stripe_id="po_1",
        seller=seller,
        amount=700,
        currency="eur",
        status="failed",
        failure_code="account_closed",
        failure_message="The bank account has been closed.",
        stripe_created=timezone.now(),
    )
    client.force_login(seller.user)
    html = client.get("/money/balance/").content.decode()
    assert "€25.00" in html  # ledger balance
    assert "<svg" in html and "€20.00" in html  # a bar's tooltip
    assert "The bank account has been closed." in html and "Update bank details" in html
    assert "Express dashboard" in html and "Stripe balance not fetched yet" in html


def test_balance_page_has_at_most_4_queries(client):
    seller = SellerFactory()
    for i in range(30):
        earn(seller, 100 + i, f"q{i}", days_ago=i % 10)
    for i in range(5):
        Payout.objects.create(
            stripe_id=f"po_{i}",
            seller=seller,
            amount=1,
            currency="eur",
            stripe_created=timezone.now(),
        )
    client.force_login(seller.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/money/balance/")
    assert response.status_code == 200
    assert len(queries) <= 4, [q["sql"] for q in queries]


def balance_calls(fake_stripe):
    return [c["stripe_account"] for c in fake_stripe.calls_of("balance_retrieve")]


def test_refresh_stores_snapshot_and_warns_on_disagreement(client, fake_stripe):
    seller = SellerFactory()
    fake_stripe.balances[seller.stripe_account_id] = {"eur": 1500}
    earn(seller, 2000, "a")
    client.force_login(seller.user)
    response = client.post("/money/balance/refresh/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert balance_calls(fake_stripe) == [seller.stripe_account_id]
    assert "€15.00" in html and "disagree" in html
    fake_stripe.pending[seller.stripe_account_id] = {"eur": 500}
    html = client.post("/money/balance/refresh/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="disagree"' not in html
    row = SellerBalance.objects.get(seller=seller)
    assert row.stripe_available == {"eur": 1500} and row.stripe_pending == {"eur": 500}


def test_refresh_failure_keeps_snapshot_and_says_so(client, fake_stripe):
    seller = SellerFactory()
    fake_stripe.balances[seller.stripe_account_id] = {"eur": 1500}
    client.force_login(seller.user)
    client.post("/money/balance/refresh/")
    fake_stripe.fail["balance_retrieve"] = stripe_gateway.GatewayError(
        "Stripe is down", retryable=True
    )
    response = client.post("/money/balance/refresh/", follow=True)
    assert "Could not refresh the balance from Stripe: Stripe is down" in response.content.decode()
    assert SellerBalance.objects.get(seller=seller).stripe_available == {"eur": 1500}


def test_periodic_task_refreshes_every_connected_seller(fake_stripe):
    from payouts.tasks import refresh_all_seller_balances

    sellers = [SellerFactory(), SellerFactory(), SellerFactory(stripe_account_id=None)]
    assert refresh_all_seller_balances.apply().get() == 2
    assert set(balance_calls(fake_stripe)) == {s.stripe_account_id for s in sellers[:2]}
    assert SellerBalance.objects.filter(stripe_refreshed_at__isnull=False).count() == 2


def test_csv_export_streams_the_sellers_entries_only(client):
    seller, other = SellerFactory(), SellerFactory()
    earn(seller, 1234, "mine")
    earn(other, 999, "theirs")
    client.force_login(seller.user)
    response = client.get("/money/balance/export.csv")
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["date", "kind", "stripe_object_id"]
    assert len(rows) == 2 and rows[1][1:3] == ["transfer", "tr_mine"] and rows[1][5] == "12.34"


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/money/balance/"),
        ("post", "/money/balance/refresh/"),
        ("get", "/money/balance/export.csv"),
    ],
)
def test_non_sellers_get_404(client, method, url):
    assert getattr(client, method)(url).status_code == 302
    client.force_login(UserFactory())
    assert getattr(client, method)(url).status_code == 404


def test_nav_shows_balance_to_sellers_and_fees_to_staff(client, staff):
    seller = SellerFactory()
    client.force_login(seller.user)
    html = client.get("/").content.decode()
    assert "/money/balance/" in html and "/money/fees/" not in html
    log_in_with_totp(client, staff)
    html = client.get("/").content.decode()
    assert "/money/fees/" in html and "/money/balance/" not in html


def test_dashboard_card_shows_the_balance_and_the_last_payout(client):
    from django.urls import reverse

    seller = SellerFactory(account_refreshed_at=timezone.now())
    SellerBalance.objects.filter(seller=seller).delete()
    earn(seller, 2500, "dash")
    SellerBalance.objects.filter(seller=seller).update(
        stripe_available={"eur": 1800}, stripe_pending={"eur": 700}
    )
    Payout.objects.create(
        stripe_id="po_dash",
        seller=seller,
        amount=1200,
        currency="eur",
        status="paid",
        stripe_created=timezone.now(),
    )
    client.force_login(seller.user)
    page = client.get(reverse("sellers:dashboard")).content.decode()
    card = page[page.index("dashboard-money") :]
    assert "€18.00" in card and "€7.00" in card
    assert "Last payout" in card and "€12.00" in card and "paid" in card
    assert "appear here" not in card.split("</section>")[0]


def test_a_negative_balance_says_what_was_taken_back_and_what_happens_next(client):
    from django.urls import reverse

    from payouts.models import Dispute

    seller = SellerFactory()
    earn(seller, 2000, "neg")
    ledger_record(
        kind=K.PAYOUT,
        stripe_object_id="po_neg",
        seller=seller,
        postings=movement_postings(kind=K.PAYOUT, amount=2000, currency="eur", seller_id=seller.pk),
    )
    ledger_record(
        kind=K.TRANSFER_REVERSAL,
        stripe_object_id="trr_neg",
        seller=seller,
        order_id=77,
        postings=movement_postings(
            kind=K.TRANSFER_REVERSAL, amount=1500, currency="eur", seller_id=seller.pk
        ),
    )
    Dispute.objects.create(
        stripe_id="dp_neg",
        charge_id="ch_neg",
        order_id=77,
        seller=seller,
        amount=2000,
        currency="eur",
        status="lost",
        stripe_created=timezone.now(),
    )
    SellerBalance.objects.filter(seller=seller).update(stripe_available={"eur": -1500})
    client.force_login(seller.user)
    page = client.get(reverse("payouts:balance")).content.decode()
    assert "Why your balance is negative" in page
    assert "€15.00" in page and "sale #77" in page and "won a dispute" in page
    assert "Stripe keeps your next sales" in page
    # A positive balance carries no such note.
    SellerBalance.objects.filter(seller=seller).update(stripe_available={"eur": 0})
    earn(seller, 5000, "pos")
    assert (
        "Why your balance is negative"
        not in client.get(reverse("payouts:balance")).content.decode()
    )
