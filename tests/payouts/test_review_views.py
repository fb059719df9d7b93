from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from payouts.models import Dispute
from tests.factories import log_in_with_totp
from tests.payouts.events import deliver
from tests.payouts.factories import SellerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(fake_stripe):
    ada, bob = SellerFactory(display_name="Ada"), SellerFactory(display_name="Bob")
    c1 = fake_stripe.sale(account=ada.stripe_account_id, amount=2000, fee=200, order_id=1)
    c2 = fake_stripe.sale(account=ada.stripe_account_id, amount=1000, fee=100, order_id=2)
    c3 = fake_stripe.sale(
        account=bob.stripe_account_id, amount=500, fee=50, currency="usd", order_id=3
    )
    for charge in (c1, c2, c3):
        deliver("charge.succeeded", charge)
    fake_stripe.refund_create(
        charge_id=c2["id"], amount=400, order_id=2, reason="damaged", idempotency_key="r1"
    )
    deliver("charge.refunded", fake_stripe.charges[c2["id"]])
    return {"ada": ada, "bob": bob, "charges": (c1, c2, c3)}


def test_transfer_review_lists_totals_and_statuses(client, staff, sales):
    log_in_with_totp(client, staff)
    html = client.get("/money/transfers/").content.decode()
    assert "€30.00" in html  # EUR transferred total
    assert "€3.00" in html  # EUR fees total
    assert "$5.00" in html
    assert "Partially reversed" in html
    only_bob = client.get("/money/transfers/", {"seller": sales["bob"].pk}).content.decode()
    assert "Bob" in only_bob and "€30.00" not in only_bob
    reversed_only = client.get("/money/transfers/", {"status": "partially_reversed"})
    assert (
        "€10.00" in reversed_only.content.decode()
        and "€20.00" not in reversed_only.content.decode()
    )
    usd = client.get("/money/transfers/", {"currency": "usd"}).content.decode()
    assert "$5.00" in usd and "€" not in usd.split("<h2>Totals</h2>")[1]


def test_transfer_csv_and_detail(client, staff, sales):
    log_in_with_totp(client, staff)
    response = client.get("/money/transfers/export.csv", {"currency": "eur"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "created" and len(rows) == 3
    statuses = {row[-1] for row in rows[1:]}
    assert statuses == {"paid", "partially_reversed"}
    from payouts.models import LedgerTransaction

    transfer = LedgerTransaction.objects.get(kind="transfer", order_id=2)
    detail = client.get(f"/money/transfers/{transfer.pk}/").content.decode()
    assert (
        "Refund" in detail and "Transfer reversal" in detail and "Application fee refund" in detail
    )


def test_dispute_evidence_submission(client, staff, fake_stripe, sales):
    charge = sales["charges"][0]
    dispute = fake_stripe.dispute(charge["id"])
    deliver("charge.dispute.created", dispute)
    row = Dispute.objects.get()
    log_in_with_totp(client, staff)
    page = client.get("/money/disputes/").content.decode()
    assert dispute["id"] in page and "#1" in page
    empty = client.post(f"/money/disputes/{row.pk}/", {"text": "  "})
    assert empty.status_code == 200 and not fake_stripe.disputes[dispute["id"]].get("evidence")
    response = client.post(f"/money/disputes/{row.pk}/", {"text": "Tracking 1Z999, delivered."})
    assert response.status_code == 302
    assert fake_stripe.disputes[dispute["id"]]["evidence"] == {
        "uncategorized_text": "Tracking 1Z999, delivered."
    }
    row.refresh_from_db()
    assert row.evidence_submitted_by == staff and row.status == "under_review"
    again = client.post(f"/money/disputes/{row.pk}/", {"text": "more"}, follow=True)
    assert "no longer takes evidence" in again.content.decode()


def test_the_seller_answers_a_dispute_on_their_own_sale(client, fake_stripe, sales):
    dispute = fake_stripe.dispute(sales["charges"][0]["id"])
    deliver("charge.dispute.created", dispute)
    # Someone else's sale: 404, nothing sent.
    client.force_login(sales["bob"].user)
    assert client.post("/money/sales/1/dispute/", {"text": "mine"}).status_code == 404
    client.force_login(UserFactory())
    assert client.post("/money/sales/1/dispute/", {"text": "mine"}).status_code == 404
    assert not fake_stripe.disputes[dispute["id"]].get("evidence")
    client.force_login(sales["ada"].user)
    response = client.post("/money/sales/1/dispute/", {"text": "Delivered, tracking 6A123."})
    assert response.status_code == 302 and response["Location"] == "/sales/1/"
    assert fake_stripe.disputes[dispute["id"]]["evidence"] == {
        "uncategorized_text": "Delivered, tracking 6A123."
    }
    row = Dispute.objects.get()
    assert row.evidence_submitted_by == sales["ada"].user and row.status == "under_review"


def test_dispute_deadline_passed_is_refused(client, staff, fake_stripe, sales):
    dispute = fake_stripe.dispute(sales["charges"][0]["id"])
    dispute["evidence_details"]["due_by"] = int(timezone.now().timestamp()) - 60
    deliver("charge.dispute.created", dispute)
    log_in_with_totp(client, staff)
    row = Dispute.objects.get()
    html = client.post(f"/money/disputes/{row.pk}/", {"text": "late"}).content.decode()
    assert "deadline has passed" in html


STAFF_URLS = [
    "/money/transfers/",
    "/money/transfers/export.csv",
    "/money/disputes/",
    "/money/fees/",
    "/money/fees/simulate/",
]


@pytest.mark.parametrize("url", STAFF_URLS)
def test_staff_pages_404_for_sellers_and_buyers(client, url, sales):
    client.force_login(sales["ada"].user)
    assert client.get(url).status_code == 404
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_sweep_other_ids_404_for_non_staff(client, fake_stripe, sales):
    from payouts.models import LedgerTransaction

    dispute = fake_stripe.dispute(sales["charges"][0]["id"])
    deliver("charge.dispute.created", dispute)
    ids = list(LedgerTransaction.objects.values_list("pk", flat=True))
    client.force_login(sales["ada"].user)  # even the seller the transfer paid
    for pk in ids:
        assert client.get(f"/money/transfers/{pk}/").status_code == 404
    d = Dispute.objects.get()
    assert client.get(f"/money/disputes/{d.pk}/").status_code == 404
    assert client.post(f"/money/disputes/{d.pk}/", {"text": "x"}).status_code == 404
    assert not fake_stripe.disputes[dispute["id"]].get("evidence")


def test_sellers_balance_and_csv_show_only_their_own_money(client, sales):
    ada, bob = sales["ada"], sales["bob"]
    client.force_login(bob.user)
    body = b"".join(client.get("/money/balance/export.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and {row["currency"] for row in rows} == {"USD"}  # not Ada's EUR
    html = client.get("/money/balance/").content.decode()
    assert "$4.50" in html and "€" not in html.split("<h1>Balance</h1>")[1].split("</section>")[0]
    assert ada.pk != bob.pk


def test_dashboard_charts_and_counts(client, staff, sales, fake_stripe):
    dispute = fake_stripe.dispute(sales["charges"][0]["id"])
    deliver("charge.dispute.created", dispute)
    log_in_with_totp(client, staff)
    html = client.get("/money/dashboard/").content.decode()
    assert "Gross volume" in html and "€30.00" in html  # 20 + 10 EUR sold
    assert "Refunds" in html and "€4.00" in html
    assert "<svg" in html and "1</strong> open dispute" in html
    client.force_login(sales["ada"].user)
    assert client.get("/money/dashboard/").status_code == 404


def test_dashboard_counts_every_open_dispute_however_many_are_closed(client, staff):
    # 250 closed disputes come first in the list's order (earliest deadline); the open ones after.
    now = timezone.now()
    Dispute.objects.bulk_create(
        Dispute(
            stripe_id=f"dp_{status}_{i}",
            charge_id=f"ch_{i}",
            amount=1000,
            currency="eur",
            status=status,
            evidence_due_by=now + timezone.timedelta(days=day),
            stripe_created=now,
        )
        for i, (status, day) in enumerate([("lost", 1)] * 250 + [("needs_response", 9)] * 3)
    )
    log_in_with_totp(client, staff)
    html = client.get("/money/dashboard/").content.decode()
    assert "3</strong> open disputes" in html


def test_dashboard_lists_sellers_whose_balance_is_below_zero(client, staff, sales):
    from payouts.models import LedgerTransaction
    from payouts.services import ledger_record, movement_postings

    owing = SellerFactory(display_name="Owing Shop")
    ledger_record(  # paid out 7.50 more than it ever held (as after a lost dispute)
        kind=LedgerTransaction.Kind.PAYOUT,
        stripe_object_id="po_overdrawn",
        seller=owing,
        postings=movement_postings(
            kind=LedgerTransaction.Kind.PAYOUT, amount=750, currency="eur", seller_id=owing.pk
        ),
        occurred_at=timezone.now(),
    )
    log_in_with_totp(client, staff)
    html = client.get("/money/dashboard/").content.decode()
    assert "Sellers owing money" in html and "Owing Shop" in html and "-€7.50" in html
    assert str(sales["ada"]) not in html.split("Sellers owing money")[1].split("Last 30")[0]
