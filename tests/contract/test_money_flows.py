"""The project's money flows as a contract with Stripe, over HTTP, recorded with vcrpy.

Every step the marketplace itself takes goes through its own gateway
(``marketplace/stripe_gateway.py``: the same parameters, idempotency keys and parsing into typed
values as in production); only what other parties do is sent with the SDK directly (the buyer
paying with a test card, a seller's Custom account onboarded through the API, a payout Stripe
makes). Each flow ends by listing the events it caused through the gateway (``event_list``), so a
recording also holds the event types and their order.

`make contract` records the flows against the sandbox (a live server) into cassettes/sandbox/;
with `STRIPE_SECRET_KEY=sk_test_…` the same command records against Stripe's test mode into
cassettes/stripe/, and `make contract-diff` compares two recordings structurally. Without
CONTRACT_RECORD the tests replay a recording with the network blocked (CI): the gateway parses
every recorded answer again, and a request that is not in the recording fails the test. Ids and
secrets are scrubbed (tests/contract/recording.py); the numbers our ids and deadlines are made of
are kept beside the cassettes (``run.json``) so a replay sends the very same requests.

Flows: onboarding (our Express account and its onboarding link; a Custom account onboarded
through the API, which Stripe's test mode accepts without a browser), a paid purchase
(a Checkout Session made and expired, a destination charge with an application fee) and a partial
refund with transfer reversal and fee refund, a dispute lost and one won (Stripe's test
evidence), a payout and a failed payout (test bank account 000111111116).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import stripe

from marketplace import stripe_gateway as gateway
from tests.contract.recording import Scrubber, cassette, folder, real_key, recording, run_numbers

INDIVIDUAL = {
    "first_name": "Jenny",
    "last_name": "Rosen",
    "email": "jenny.rosen@example.com",
    "phone": "+16505551234",
    "dob": {"day": 1, "month": 1, "year": 1901},
    "address": {"line1": "address_full_match", "city": "Schenectady", "postal_code": "12345",
                "state": "NY", "country": "US"},
    "ssn_last_4": "0000",
    "id_number": "000000000",
}  # fmt: skip


class Target:
    """The Stripe a flow talks to: ``raw`` for other parties' requests, the gateway (pointed at
    the same Stripe) for ours; ``started`` and ``run`` are the recording's numbers."""

    def __init__(self, raw: stripe.StripeClient, sandbox: bool, name: str) -> None:
        self.raw = raw
        self.sandbox = sandbox
        numbers = run_numbers(name)
        self.started: int = numbers["started"]
        # Our ids (seller, purchase, order) differ per flow and per recording, so that Stripe's
        # idempotency (keys derived from our ids, kept 24 hours) never mixes two recordings.
        self.base: int = numbers["run"] * 10_000 + zlib.crc32(name.encode()) % 10_000

    def our_id(self, n: int = 0) -> int:
        return self.base * 10 + n

    def eventually(self, check: Callable[[], Any], *, sandbox_seconds: int) -> Any:
        """What ``check`` returns once it is truthy: on the sandbox after advancing its clock;
        on Stripe after waiting (polls); on a replay as the recording's polls went."""
        if self.sandbox and recording():
            from sandbox import testing

            testing.advance(sandbox_seconds)
        for _ in range(1 if (self.sandbox and recording()) else 45):
            found = check()
            if found:
                return found
            if recording():
                time.sleep(2)
        raise AssertionError("the expected state was not reached")

    def events(self, *, account: str | None = None, expect: set[str]) -> list[str]:
        """The types of the events this flow caused (of ``account``, or the platform), oldest
        first, through the gateway; waits until every type in ``expect`` is there."""

        def listed() -> list[str] | None:
            found = gateway.event_list(created_gte=self.started, account=account)
            types = [event["type"] for event in found][::-1]
            return types if expect <= set(types) else None

        found: list[str] = self.eventually(listed, sandbox_seconds=0)
        return found


@pytest.fixture
def stripe_api(request, transactional_db, live_server, settings, monkeypatch):
    where = folder()
    if not recording() and not (where / f"{request.node.name}.yaml").exists():
        pytest.fail(f"no recording of {request.node.name} in {where}: run make contract")
    from sandbox import access

    key = real_key() or access.secret_key()
    if real_key():
        base = "https://api.stripe.com"
    elif recording():
        # the sandbox over HTTP: a live server on this database
        settings.SITE_URL = live_server.url
        settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
        settings.SANDBOX_DISPUTE_AFTER = 60
        base = live_server.url + "/sandbox"
    else:
        base = "http://127.0.0.1:9"  # replay: nothing listens; every answer is in the recording
    client = stripe.StripeClient(
        key,
        stripe_version=gateway.API_VERSION,
        base_addresses={"api": base, "connect": base},
        http_client=stripe.RequestsClient(),
        max_network_retries=0,
    )
    # The gateway's functions, unchanged, on this Stripe.
    monkeypatch.setattr(gateway, "client", lambda: client)
    with cassette(request.node.name, Scrubber()):
        yield Target(client, sandbox=not real_key(), name=request.node.name)


def onboarded(api: Target, account_number: str = "000123456789") -> str:
    """A seller's Custom account onboarded through the API (the seller's side)."""
    account = api.raw.v1.accounts.create(
        {
            "type": "custom",
            "country": "US",
            "email": "jenny.rosen@example.com",
            "business_type": "individual",
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "business_profile": {"mcc": "5734", "url": "https://example.com"},
            "individual": INDIVIDUAL,
            "tos_acceptance": {"date": 1700000000, "ip": "8.8.8.8"},
            "external_account": {"object": "bank_account", "country": "US", "currency": "usd",
                                 "routing_number": "110000000", "account_number": account_number},
        }
    )  # fmt: skip
    # What our mirror reads of it (sellers.services.seller_sync_account), once Stripe enabled it.
    api.eventually(
        lambda: gateway.account_retrieve(account_id=account.id).charges_enabled,
        sandbox_seconds=0,
    )
    return account.id


def pay(api: Target, account_id: str, order_id: int, card: str = "pm_card_bypassPending") -> str:
    """The buyer pays a destination charge with a test card; returns the charge's id."""
    intent = api.raw.v1.payment_intents.create(
        {"amount": 5000, "currency": "usd", "payment_method": card, "confirm": True,
         "transfer_data": {"destination": account_id}, "application_fee_amount": 500,
         "metadata": {"order_id": str(order_id)}}
    )  # fmt: skip
    assert intent.status == "succeeded"
    return str(intent.latest_charge)


def test_onboarding(stripe_api):
    api = stripe_api
    seller_id = api.our_id()
    # sellers.services.seller_ensure_account / seller_onboarding_link
    account = gateway.account_create(seller_id=seller_id, country="us", email="a@example.com")
    assert account.id.startswith("acct_") and account.seller_id == str(seller_id)
    assert not account.charges_enabled and not account.details_submitted
    assert account.requirements.currently_due
    again = gateway.account_create(seller_id=seller_id, country="us", email="a@example.com")
    assert again.id == account.id  # Stripe's idempotency: one seller, one account
    link = gateway.account_link_create(
        account_id=account.id,
        link_type="account_onboarding",
        refresh_url="https://marketplace.example/sell/onboarding/refresh/",
        return_url="https://marketplace.example/sell/?from=stripe",
        request_key="1",
    )
    assert link.url.startswith("https://") or link.url.startswith("http://")
    assert gateway.account_retrieve(account_id=account.id).id == account.id
    # A seller who finished onboarding: what the mirror reads.
    done = gateway.account_retrieve(account_id=onboarded(api))
    assert done.charges_enabled and done.payouts_enabled and done.details_submitted
    assert done.requirements.currently_due == () and done.requirements.past_due == ()
    with pytest.raises(gateway.GatewayError) as missing:
        gateway.account_retrieve(account_id="acct_nope")  # short: not scrubbed
    assert missing.value.http_status in (403, 404) and not missing.value.retryable
    api.events(account=done.id, expect={"account.external_account.created"})


def test_paid_purchase_and_partial_refund_with_reversal_and_fee_refund(stripe_api):
    api = stripe_api
    account_id = onboarded(api)
    purchase_id, order_id = api.our_id(1), api.our_id(2)
    # buyers.services.purchase_checkout_url: a destination charge's Checkout Session...
    session = gateway.checkout_session_create(
        purchase_id=purchase_id,
        order_id=order_id,
        lines=[gateway.CheckoutLine(title="Blue mug", unit_amount=2500, quantity=2)],
        currency="usd",
        application_fee_amount=500,
        destination=account_id,
        transfer_group=None,
        on_behalf_of=False,
        customer_email="buyer@example.com",
        expires_at=api.started + 3600,
        success_url="https://marketplace.example/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://marketplace.example/checkout/cancel/1/",
        idempotency_key=gateway.idempotency_key("purchase", purchase_id, "checkout"),
    )
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_total == 5000 and session.currency == "usd"
    assert session.purchase_id == purchase_id and session.order_id == order_id
    assert session.url.startswith("http")
    # ... which the buyer leaves (buyers.services.purchase_close expires it).
    expired = gateway.checkout_session_expire(
        session_id=session.id,
        idempotency_key=gateway.idempotency_key("purchase", purchase_id, "expire"),
    )
    assert expired.status == "expired"
    with pytest.raises(gateway.GatewayError) as refused:
        gateway.checkout_session_expire(
            session_id=session.id,
            idempotency_key=gateway.idempotency_key("purchase", purchase_id, "expire", 2),
        )
    assert refused.value.http_status == 400
    # The buyer pays; the ledger reads the charge, its transfer and its fee (payouts).
    charge = gateway.charge_retrieve(charge_id=pay(api, account_id, order_id))
    assert charge.paid and charge.amount == 5000 and charge.order_id == str(order_id)
    assert charge.destination_id == account_id and charge.processing_fee is not None
    transfer = gateway.transfer_retrieve(transfer_id=charge.transfer_id)
    assert transfer.amount == 5000 and transfer.destination_id == account_id
    fee = gateway.application_fee_retrieve(fee_id=charge.application_fee_id)
    assert fee.amount == 500
    # payouts.services.order_refund_create: 2000 of 5000, each side giving back its share.
    refund = gateway.refund_create(
        charge_id=charge.id,
        amount=2000,
        order_id=order_id,
        reason="damaged",
        idempotency_key=gateway.idempotency_key("refund-request", order_id),
    )
    assert refund.amount == 2000 and refund.status == "succeeded"
    assert refund.order_id == str(order_id)
    after = gateway.charge_retrieve(charge_id=charge.id)
    assert after.amount_refunded == 2000
    assert [r.amount for r in gateway.refunds_list(charge_id=charge.id)] == [2000]
    reversals = list(gateway.transfer_reversals_list(transfer_id=charge.transfer_id))
    assert [r.amount for r in reversals] == [2000]
    fee_refunds = list(gateway.application_fee_refunds_list(fee_id=charge.application_fee_id))
    assert [r.amount for r in fee_refunds] == [200]
    assert gateway.transfer_retrieve(transfer_id=charge.transfer_id).amount_reversed == 2000
    api.events(expect={"charge.succeeded", "charge.refunded", "checkout.session.expired"})


@pytest.mark.parametrize(("evidence", "outcome"), [("losing_evidence", "lost"),
                                                   ("winning_evidence", "won")])  # fmt: skip
def test_dispute(stripe_api, evidence, outcome):
    api = stripe_api
    order_id = api.our_id(1)
    charge_id = pay(api, onboarded(api), order_id, card="pm_card_createDispute")

    def disputes() -> list[gateway.Dispute]:
        return list(gateway.disputes_list(charge_id=charge_id))

    (opened,) = api.eventually(disputes, sandbox_seconds=61)
    assert opened.status == "needs_response" and opened.currency == "usd"
    assert gateway.charge_retrieve(charge_id=charge_id).disputed
    # payouts.services.dispute_submit_evidence
    submitted = gateway.dispute_submit_evidence(
        dispute_id=opened.id,
        text=evidence,
        idempotency_key=gateway.idempotency_key("dispute", opened.id, "evidence"),
    )
    assert submitted.id == opened.id
    closed = api.eventually(
        lambda: next((d for d in disputes() if d.status == outcome), None),
        sandbox_seconds=60,
    )
    withdrawn = [f for f in closed.funds if f.amount < 0]
    assert withdrawn and withdrawn[0].amount == -5000
    if outcome == "won":
        assert any(f.amount == 5000 for f in closed.funds)
    done = "charge.dispute.funds_reinstated" if outcome == "won" else "charge.dispute.closed"
    api.events(expect={"charge.dispute.created", "charge.dispute.closed", done})


@pytest.mark.parametrize(("bank", "outcome"), [("000123456789", "paid"),
                                               ("000111111116", "failed")])  # fmt: skip
def test_payout(stripe_api, bank, outcome):
    api = stripe_api
    account_id = onboarded(api, account_number=bank)
    pay(api, account_id, api.our_id(1))
    # payouts.services.seller_balance_refresh
    balance = gateway.balance_retrieve(stripe_account=account_id)
    assert sum(a.amount for a in balance.available + balance.pending) == 4500
    # Stripe pays the seller out (the marketplace only mirrors payouts).
    payout = api.raw.v1.payouts.create(
        {"amount": 1000, "currency": "usd"}, {"stripe_account": account_id}
    )
    assert payout.status in ("pending", "in_transit")
    done = api.eventually(
        lambda: (
            (
                p := gateway.object_retrieve(
                    object_type="payout", object_id=payout.id, stripe_account=account_id
                )
            )["status"]
            == outcome
            and p
        ),
        sandbox_seconds=3 * 86400,
    )
    if outcome == "failed":
        assert done["failure_code"] == "no_account"
    api.events(account=account_id, expect={"payout.created", f"payout.{outcome}"})
