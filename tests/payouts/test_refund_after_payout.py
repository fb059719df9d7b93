"""A refund after the seller's money has been paid out (design section 4, invariant 5).

Stripe lets a destination charge's transfer be reversed whatever the connected account holds,
so a refund after a payout would leave the seller's balance negative. The policy: the seller
is refused with a message; staff are refused unless they refund from the platform's balance,
in which case nothing is taken back from the seller. Runs on the sandbox end to end.
"""

from __future__ import annotations

import random
import uuid

import pytest
from django.core.exceptions import PermissionDenied

from marketplace.errors import UserFacingError
from payouts.checks import ledger_violations
from payouts.models import LedgerTransaction, Payout, RefundRequest, SellerBalance
from payouts.services import refund_request_create, seller_share_of_refund
from sandbox import testing
from tests.factories import log_in_with_totp
from tests.payouts.factories import SellerFactory
from tests.payouts.test_sandbox_money import feed_events
from tests.sandbox.payhelpers import balance, destination_intent, onboarded_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_out(sdk, client):
    """A 20.00 EUR sale (fee 2.00) whose 18.00 have been paid out to the seller's bank."""
    account = onboarded_account(sdk, client)
    seller = SellerFactory(stripe_account_id=account.id)
    pi = destination_intent(sdk, account.id, amount=2000, fee=200)
    seen: set[str] = set()
    rng = random.Random(3)
    feed_events(seen, rng)
    testing.advance(days=10)  # available, then paid out automatically
    feed_events(seen, rng)
    assert Payout.objects.filter(seller=seller).exists()
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == 0
    return seller, pi.latest_charge, seen, rng


def refund(actor, charge_id, amount, **kw):
    return refund_request_create(
        actor=actor,
        charge_id=charge_id,
        amount=amount,
        reason="damaged",
        client_token=uuid.uuid4(),
        **kw,
    )


def test_seller_share_is_pro_rata_and_all_that_is_left_on_a_full_refund(paid_out):
    seller, charge_id, _, _ = paid_out
    assert seller_share_of_refund(charge_id=charge_id, seller_id=seller.pk, amount=500) == 450
    assert seller_share_of_refund(charge_id=charge_id, seller_id=seller.pk, amount=2000) == 1800
    assert seller_share_of_refund(charge_id=charge_id, seller_id=seller.pk, amount=1) == 1


def test_seller_cannot_refund_money_already_paid_out(paid_out, sdk):
    seller, charge_id, _, _ = paid_out
    with pytest.raises(UserFacingError, match=r"takes €4\.50 of your share back.*holds €0\.00"):
        refund(seller.user, charge_id, 500)
    assert not RefundRequest.objects.exists()
    assert sdk.v1.refunds.list({"charge": charge_id}).data == []
    with pytest.raises(PermissionDenied):  # a seller cannot make the platform pay
        refund(seller.user, charge_id, 500, platform_covers=True)


def test_staff_refund_from_the_platform_leaves_the_seller_whole(paid_out, sdk, staff):
    seller, charge_id, seen, rng = paid_out
    with pytest.raises(UserFacingError, match="Refund from the platform's balance instead") as e:
        refund(staff, charge_id, 500)
    assert e.value.field == "platform_covers"
    assert not RefundRequest.objects.exists()

    seller_before = balance(sdk, seller.stripe_account_id)
    platform_before = sum(balance(sdk))
    request = refund(staff, charge_id, 500, platform_covers=True)
    assert request.status == "succeeded" and request.platform_covers
    feed_events(seen, rng)

    # Stripe: the buyer got 5.00 back from the platform; the seller's account was not touched.
    stripe_refund = sdk.v1.refunds.retrieve(request.stripe_refund_id)
    assert stripe_refund.amount == 500 and stripe_refund.transfer_reversal is None
    assert balance(sdk, seller.stripe_account_id) == seller_before
    assert sum(balance(sdk)) == platform_before - 500
    # The ledger agrees, and every invariant holds (no negative seller balance).
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == 0
    kinds = set(LedgerTransaction.objects.values_list("kind", flat=True))
    assert "refund" in kinds and "transfer_reversal" not in kinds and "fee_refund" not in kinds
    assert list(ledger_violations()) == []


def test_seller_can_refund_again_once_new_sales_cover_the_share(paid_out, sdk):
    seller, charge_id, seen, rng = paid_out
    destination_intent(sdk, seller.stripe_account_id, amount=1000, fee=100)
    feed_events(seen, rng)
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == 900
    request = refund(seller.user, charge_id, 500)
    assert request.status == "succeeded" and not request.platform_covers
    feed_events(seen, rng)
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == 900 - 450
    assert list(ledger_violations()) == []


def test_staff_form_offers_the_platform_option_sellers_do_not_see_it(paid_out, client, staff):
    seller, charge_id, _, _ = paid_out
    url = f"/money/refunds/{charge_id}/new/"
    client.force_login(seller.user)
    page = client.get(url).content.decode()
    assert "Your balance holds €0.00" in page and "platform_covers" not in page
    response = client.post(
        url, {"amount": "5.00", "reason": "damaged", "client_token": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    assert "Ask the platform team to refund this order" in response.content.decode()

    log_in_with_totp(client, staff)
    token = str(uuid.uuid4())
    response = client.post(url, {"amount": "5.00", "reason": "damaged", "client_token": token})
    assert "Refund from the platform&#x27;s balance instead" in response.content.decode()
    response = client.post(
        url,
        {"amount": "5.00", "reason": "damaged", "client_token": token, "platform_covers": "on"},
    )
    assert response.status_code == 302
    listing = client.get("/money/refunds/").content.decode()
    assert "paid by the platform" in listing


def test_refund_of_the_rest_after_a_platform_paid_one_takes_back_only_its_own_share(
    paid_out, sdk, staff
):
    seller, charge_id, seen, rng = paid_out
    refund(staff, charge_id, 500, platform_covers=True)
    destination_intent(sdk, seller.stripe_account_id, amount=3000, fee=300)  # new sale, 27.00
    feed_events(seen, rng)
    # The last 15.00 of the first sale: 15.00 of the transfer back, 1.50 of the fee returned.
    assert seller_share_of_refund(charge_id=charge_id, seller_id=seller.pk, amount=1500) == 1350
    request = refund(seller.user, charge_id, 1500)
    feed_events(seen, rng)
    charge = sdk.v1.charges.retrieve(charge_id, {"expand": ["transfer", "application_fee"]})
    assert charge.amount_refunded == 2000
    assert charge.transfer.amount_reversed == 1500  # not the 500 the platform paid
    assert charge.application_fee.amount_refunded == 150
    assert SellerBalance.objects.get(seller=seller).ledger["eur"] == 2700 - 1350
    assert sum(balance(sdk, seller.stripe_account_id)) == 2700 - 1350
    assert request.status == "succeeded" and list(ledger_violations()) == []
