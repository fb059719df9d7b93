"""The project's money flows as a contract with Stripe, over HTTP, recorded with vcrpy.

`make contract` records them against the sandbox (a live server) into cassettes/sandbox/; with
`STRIPE_SECRET_KEY=sk_test_…` the same command records against Stripe's test mode into
cassettes/stripe/, and `make contract-diff` compares the two structurally. Without
CONTRACT_RECORD the tests replay the recordings with the network blocked (CI): a request that is
not in the recording fails the test. Ids and secrets are scrubbed (tests/contract/recording.py).

Flows: onboarding (a Custom account onboarded through the API, which Stripe's test mode accepts
without a browser), a paid purchase (destination charge with an application fee), a partial refund
with transfer reversal and fee refund, a dispute lost and one won (Stripe's test evidence), a
payout and a failed payout (test bank account 000111111116).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.contract.recording import Scrubber, cassette, real_key, recording, target

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
    def __init__(self, client: stripe.StripeClient, sandbox: bool) -> None:
        self.client = client
        self.sandbox = sandbox

    def eventually(self, check: Callable[[], Any], *, sandbox_seconds: int) -> Any:
        """What ``check`` returns once it is truthy: on the sandbox after advancing its clock;
        on Stripe after waiting (polls); on a replay at once (the recording has the answer)."""
        if self.sandbox and recording():
            from sandbox import testing

            testing.advance(sandbox_seconds)
        for _ in range(45 if (recording() and not self.sandbox) else 1):
            found = check()
            if found:
                return found
            time.sleep(2)
        raise AssertionError("the expected state was not reached")


@pytest.fixture
def stripe_api(request, transactional_db, live_server, settings):
    folder = Path(__file__).parent / "cassettes" / target()
    if not recording() and not folder.exists():
        pytest.fail(f"no recording in {folder}: run make contract")
    key = real_key() or "sk_test_contract"
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
        base_addresses={"api": base},
        http_client=stripe.RequestsClient(),
        max_network_retries=0,
    )
    scrubber = Scrubber()
    with cassette(request.node.name, scrubber):
        yield Target(client, sandbox=not real_key())


def onboarded(api: Target, account_number: str = "000123456789") -> str:
    account = api.client.v1.accounts.create(
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
    api.eventually(
        lambda: api.client.v1.accounts.retrieve(account.id).charges_enabled, sandbox_seconds=0
    )
    return account.id


def purchase(api: Target, account_id: str, card: str = "pm_card_bypassPending", amount=5000):
    return api.client.v1.payment_intents.create(
        {"amount": amount, "currency": "usd", "payment_method": card, "confirm": True,
         "transfer_data": {"destination": account_id}, "application_fee_amount": 500}
    )  # fmt: skip


def test_onboarding(stripe_api):
    account = stripe_api.client.v1.accounts.retrieve(onboarded(stripe_api))
    assert account.charges_enabled and account.payouts_enabled
    assert account.capabilities.transfers == "active"
    assert account.external_accounts.data[0].last4 == "6789"


def test_paid_purchase_and_partial_refund_with_reversal_and_fee_refund(stripe_api):
    api = stripe_api
    intent = purchase(api, onboarded(api))
    assert intent.status == "succeeded"
    charge = api.client.v1.charges.retrieve(
        intent.latest_charge, {"expand": ["transfer", "application_fee", "balance_transaction"]}
    )
    assert charge.transfer.amount == 5000 and charge.application_fee.amount == 500
    refund = api.client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 2000, "reverse_transfer": True,
         "refund_application_fee": True}
    )  # fmt: skip
    assert refund.status == "succeeded" and refund.transfer_reversal
    after = api.client.v1.charges.retrieve(intent.latest_charge, {"expand": ["transfer"]})
    assert after.amount_refunded == 2000 and after.transfer.amount_reversed == 2000
    fee = api.client.v1.application_fees.retrieve(charge.application_fee.id)
    assert fee.amount_refunded == 200


@pytest.mark.parametrize(("evidence", "outcome"), [("losing_evidence", "lost"),
                                                   ("winning_evidence", "won")])  # fmt: skip
def test_dispute(stripe_api, evidence, outcome):
    api = stripe_api
    intent = purchase(api, onboarded(api), card="pm_card_createDispute")

    def dispute():
        found = api.client.v1.disputes.list({"payment_intent": intent.id}).data
        return found[0] if found else None

    opened = api.eventually(dispute, sandbox_seconds=61)
    assert opened.status == "needs_response" and opened.reason == "fraudulent"
    api.client.v1.disputes.update(opened.id, {"evidence": {"uncategorized_text": evidence}})
    closed = api.eventually(
        lambda: (d := api.client.v1.disputes.retrieve(opened.id)).status == outcome and d,
        sandbox_seconds=60,
    )
    assert closed.status == outcome


@pytest.mark.parametrize(("bank", "outcome"), [("000123456789", "paid"),
                                               ("000111111116", "failed")])  # fmt: skip
def test_payout(stripe_api, bank, outcome):
    api = stripe_api
    account_id = onboarded(api, account_number=bank)
    purchase(api, account_id)
    payout = api.client.v1.payouts.create(
        {"amount": 1000, "currency": "usd"}, {"stripe_account": account_id}
    )
    assert payout.status in ("pending", "in_transit")
    done = api.eventually(
        lambda: (
            (
                p := api.client.v1.payouts.retrieve(
                    payout.id, options={"stripe_account": account_id}
                )
            ).status
            == outcome
            and p
        ),
        sandbox_seconds=3 * 86400,
    )
    if outcome == "failed":
        assert done.failure_code == "no_account"
