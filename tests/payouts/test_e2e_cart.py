"""End to end: a cart of two sellers paid once through the sandbox's Checkout with signed
webhooks delivered inline. One charge on the platform with transfer_group = the purchase, one
Transfer per seller with source_transaction = the charge, each seller's sandbox balance equal
to their ledger balance, the platform's fees in the ledger, and a seller's transfer failing
(restricted account) then retried once without paying anyone twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from buyers import services
from buyers.models import Order, Purchase
from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.events.models import StripeEvent
from payouts.checks import ledger_violations
from payouts.models import LedgerEntry, LedgerTransaction, SellerBalance
from payouts.services.ledger import PLATFORM_FEES
from tests.buyers.factories import ListingFactory, SellerFactory
from tests.buyers.sandbox_support import onboarded_account
from tests.buyers.test_sandbox_payments import buyer_client, path_of, pay, sandbox  # noqa: F401
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


def sandbox_balance(account: str) -> tuple[int, int]:
    """(available, pending) in EUR of a connected account in the sandbox."""
    found = stripe_gateway.balance_retrieve(stripe_account=account)
    available = sum(b.amount for b in found.available if b.currency == "eur")
    pending = sum(b.amount for b in found.pending if b.currency == "eur")
    return available, pending


@pytest.fixture
def two_shops(sandbox):  # noqa: F811
    mugs = SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="mugs@example.com")
    )
    vases = SellerFactory(
        stripe_account_id=onboarded_account(), user=UserFactory(email="vases@example.com")
    )
    return (
        ListingFactory(seller=mugs, title="Blue mug", price_amount=2500, stock=3),
        ListingFactory(seller=vases, title="Green vase", price_amount=4000, stock=2),
    )


def checkout_cart(client, listings):
    for listing, quantity in listings:
        response = client.post(
            reverse("buyers:cart_add", args=[listing.pk]), {"quantity": quantity}
        )
        assert response.status_code == 303
    response = client.post(reverse("buyers:cart_checkout"), {"currency": "eur"})
    assert response.status_code == 303 and "/sandbox/checkout/cs_" in response["Location"]
    return path_of(response["Location"])


def test_two_sellers_paid_once_each_gets_their_share(two_shops, buyer_client):  # noqa: F811
    mug, vase = two_shops
    checkout_path = checkout_cart(buyer_client, [(mug, 2), (vase, 1)])
    assert pay(buyer_client, checkout_path, "4242 4242 4242 4242").status_code == 302

    purchase = Purchase.objects.get()
    assert purchase.status == Purchase.Status.PAID and purchase.amount == 9000
    sdk = stripe_gateway.client()
    charge = sdk.v1.charges.retrieve(purchase.charge_id)
    assert charge.transfer_group == f"purchase-{purchase.pk}" and charge.transfer is None
    intent = sdk.v1.payment_intents.retrieve(purchase.payment_intent_id)
    assert intent.transfer_group == f"purchase-{purchase.pk}"
    transfers = sdk.v1.transfers.list({"transfer_group": f"purchase-{purchase.pk}"}).data
    assert len(transfers) == 2

    for order in purchase.orders.select_related("seller"):
        assert order.status == Order.Status.PAID
        assert order.transfer_status == Order.TransferStatus.PAID
        transfer = sdk.v1.transfers.retrieve(order.transfer_id)
        assert transfer.amount == order.amount - order.application_fee_amount
        assert transfer.source_transaction == purchase.charge_id
        assert transfer.destination == order.seller.stripe_account_id
        # The seller's funds wait for the charge's: pending until the charge's are available.
        available, pending = sandbox_balance(order.seller.stripe_account_id)
        ledger = SellerBalance.objects.get(seller=order.seller).ledger["eur"]
        assert ledger == available + pending == transfer.amount
        # The buyer's page and the seller's page each show their part.
    fees = LedgerEntry.objects.filter(
        account=PLATFORM_FEES, transaction__charge_id=purchase.charge_id
    )
    assert sum(fees.values_list("amount", flat=True)) == purchase.application_fee_amount
    kinds = sorted(
        LedgerTransaction.objects.filter(charge_id=purchase.charge_id).values_list(
            "kind", flat=True
        )
    )
    assert kinds == [
        "charge",
        "separate_fee",
        "separate_fee",
        "stripe_fee",
        "transfer",
        "transfer",
    ]
    assert list(ledger_violations()) == []
    failed = StripeEvent.objects.exclude(status__in=["succeeded", "ignored"])
    assert list(failed.values_list("type", "status", "last_error")) == []


def test_a_restricted_seller_is_paid_once_after_the_retry(two_shops, buyer_client):  # noqa: F811
    from sandbox.models import SandboxObject

    mug, vase = two_shops
    account = SandboxObject.objects.get(pk=vase.seller.stripe_account_id)
    capabilities = account.data["capabilities"]
    account.data["capabilities"] = {**capabilities, "transfers": "inactive"}
    account.save()
    checkout_path = checkout_cart(buyer_client, [(mug, 1), (vase, 1)])
    pay(buyer_client, checkout_path, "4242 4242 4242 4242")

    purchase = Purchase.objects.get()
    stuck = purchase.orders.get(seller=vase.seller)
    assert stuck.transfer_status == Order.TransferStatus.FAILED
    assert "capabilities" in stuck.transfer_last_error
    assert sandbox_balance(vase.seller.stripe_account_id) == (0, 0)

    account.data["capabilities"] = capabilities
    account.save()
    later = timezone.now() + timedelta(hours=2)
    assert services.transfers_retry_due(now=later) == 1
    assert services.transfers_retry_due(now=later) == 0
    stuck.refresh_from_db()
    assert stuck.transfer_status == Order.TransferStatus.PAID
    assert sum(sandbox_balance(vase.seller.stripe_account_id)) == stuck.transfer_amount
    sdk = stripe_gateway.client()
    transfers = sdk.v1.transfers.list({"transfer_group": f"purchase-{purchase.pk}"}).data
    assert len(transfers) == 2
    assert list(ledger_violations()) == []


def test_one_seller_refunds_their_order_in_two_parts(two_shops, buyer_client):  # noqa: F811
    import uuid

    from payouts import services as payout_services

    mug, vase = two_shops
    checkout_path = checkout_cart(buyer_client, [(mug, 2), (vase, 1)])
    pay(buyer_client, checkout_path, "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    mugs = purchase.orders.get(seller=mug.seller)
    vases = purchase.orders.get(seller=vase.seller)
    assert (mugs.amount, mugs.transfer_amount) == (5000, 4470)

    with pytest.raises(PermissionDenied):
        payout_services.order_refund_create(
            actor=vase.seller.user,
            order_id=mugs.pk,
            amount=1000,
            reason="damaged",
            client_token=uuid.uuid4(),
        )
    payout_services.order_refund_create(
        actor=mug.seller.user,
        order_id=mugs.pk,
        amount=1000,
        reason="damaged",
        client_token=uuid.uuid4(),
    )
    mugs.refresh_from_db()
    assert mugs.refunded_amount == 1000 and mugs.status == Order.Status.PAID
    sdk = stripe_gateway.client()
    assert sdk.v1.charges.retrieve(purchase.charge_id).amount_refunded == 1000
    transfer = sdk.v1.transfers.retrieve(mugs.transfer_id)
    assert transfer.amount_reversed == 894  # 4470 x 1000 / 5000
    ledger = SellerBalance.objects.get(seller=mug.seller).ledger["eur"]
    assert ledger == sum(sandbox_balance(mug.seller.stripe_account_id)) == 4470 - 894
    with pytest.raises(UserFacingError, match="At most"):
        payout_services.order_refund_create(
            actor=mug.seller.user,
            order_id=mugs.pk,
            amount=4001,
            reason="damaged",
            client_token=uuid.uuid4(),
        )

    payout_services.order_refund_create(
        actor=mug.seller.user,
        order_id=mugs.pk,
        amount=4000,
        reason="damaged",
        client_token=uuid.uuid4(),
    )
    mugs.refresh_from_db()
    assert mugs.status == Order.Status.REFUNDED and mugs.refunded_amount == 5000
    assert sdk.v1.transfers.retrieve(mugs.transfer_id).amount_reversed == 4470
    assert SellerBalance.objects.get(seller=mug.seller).ledger["eur"] == 0
    assert sum(sandbox_balance(mug.seller.stripe_account_id)) == 0
    # The other seller's order and money are untouched.
    vases.refresh_from_db()
    assert vases.status == Order.Status.PAID and vases.refunded_amount == 0
    assert sum(sandbox_balance(vase.seller.stripe_account_id)) == vases.transfer_amount
    assert list(ledger_violations()) == []


def test_a_lost_dispute_flags_every_order_and_recovers_pro_rata(
    two_shops,
    buyer_client,  # noqa: F811
    settings,
):
    from sandbox import testing

    settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER = True
    mug, vase = two_shops
    checkout_path = checkout_cart(buyer_client, [(mug, 2), (vase, 1)])
    pay(buyer_client, checkout_path, "4000 0000 0000 0259")
    purchase = Purchase.objects.get()
    testing.advance(minutes=2)  # the bank opens the dispute
    orders = list(purchase.orders.order_by("pk"))
    for order in orders:
        order.refresh_from_db()
        assert order.dispute_status == "needs_response"

    sdk = stripe_gateway.client()
    [dispute] = sdk.v1.disputes.list().data
    sdk.v1.disputes.close(dispute.id)  # the platform accepts the loss
    for order in orders:
        order.refresh_from_db()
        assert order.dispute_status == "lost"
        transfer = sdk.v1.transfers.retrieve(order.transfer_id)
        # Each seller gives back their part of the disputed 90.00: the order's transfer.
        assert transfer.amount_reversed == order.transfer_amount
        ledger = SellerBalance.objects.get(seller=order.seller).ledger["eur"]
        assert ledger == sum(sandbox_balance(order.seller.stripe_account_id)) == 0
    assert list(ledger_violations()) == []


@pytest.mark.parametrize("fault", ["500", "timeout_after"])
def test_a_reversal_failing_after_the_refund_is_retried_and_made_once(
    fault,
    two_shops,
    buyer_client,  # noqa: F811
    staff,
):
    """The buyer's refund succeeds, then Stripe fails the reversal of the seller's transfer (an
    error before it runs, or one after it ran whose answer is lost): the buyer keeps the refund,
    staff see the reversal waiting with the reason, the job takes the seller's share back after
    the backoff, exactly once."""
    import uuid

    from django.test import Client

    from payouts import services as payout_services
    from payouts.models import RefundRequest
    from sandbox import faults
    from tests.factories import log_in_with_totp

    mug, vase = two_shops
    pay(buyer_client, checkout_cart(buyer_client, [(mug, 2), (vase, 1)]), "4242 4242 4242 4242")
    purchase = Purchase.objects.get()
    mugs = purchase.orders.get(seller=mug.seller)
    faults.inject(
        fault, count=20, method="POST", path_prefix=f"/v1/transfers/{mugs.transfer_id}/reversals"
    )
    request = payout_services.order_refund_create(
        actor=mug.seller.user,
        order_id=mugs.pk,
        amount=1000,
        reason="damaged",
        client_token=uuid.uuid4(),
    )
    sdk = stripe_gateway.client()
    assert sdk.v1.charges.retrieve(purchase.charge_id).amount_refunded == 1000
    assert request.status == RefundRequest.Status.SUCCEEDED
    assert request.reversal_status == RefundRequest.ReversalStatus.FAILED
    assert request.reversal_amount == 894 and request.reversal_error
    reversed_now = sdk.v1.transfers.retrieve(mugs.transfer_id).amount_reversed
    assert reversed_now == (894 if fault == "timeout_after" else 0)

    staff_client = Client()
    log_in_with_totp(staff_client, staff)
    page = staff_client.get(reverse("payouts:transfers")).content.decode()
    assert "Refunds waiting to be taken back from sellers" in page
    assert request.reversal_error[:40] in page.replace("&#x27;", "'").replace("&quot;", '"')

    assert payout_services.refund_reversals_retry_due() == 0  # its backoff is not over
    faults.clear()
    later = timezone.now() + timedelta(hours=2)
    assert payout_services.refund_reversals_retry_due(now=later) == 1
    assert payout_services.refund_reversals_retry_due(now=later) == 0
    request.refresh_from_db()
    assert request.reversal_status == RefundRequest.ReversalStatus.DONE
    transfer = sdk.v1.transfers.retrieve(mugs.transfer_id)
    assert transfer.amount_reversed == 894  # once, never twice
    assert len(sdk.v1.transfers.reversals.list(mugs.transfer_id).data) == 1
    ledger = SellerBalance.objects.get(seller=mug.seller).ledger["eur"]
    assert ledger == sum(sandbox_balance(mug.seller.stripe_account_id)) == 4470 - 894
    page = staff_client.get(reverse("payouts:transfers")).content.decode()
    assert "Refunds waiting to be taken back from sellers" not in page
    assert list(ledger_violations()) == []
