"""A small in-memory Stripe for the payouts tests, patched over the gateway functions.

It moves money as Stripe does for destination charges with an application fee: the full amount
is transferred to the connected account, the fee comes back to the platform; refunds with
``reverse_transfer`` and ``refund_application_fee`` give back pro-rata shares. It keeps the
services' unit tests fast and lets them inject a failure into one gateway call; the same flows
run end to end on the sandbox in ``test_sandbox_money``, ``test_sandbox_stateful``,
``test_refund_after_payout``, ``test_reconciliation`` and ``test_e2e_orders``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from marketplace import stripe_gateway
from payouts.services import pro_rata_part

_seq = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_fake{next(_seq):06d}"


@dataclass
class FakeStripe:
    charges: dict = field(default_factory=dict)
    transfers: dict = field(default_factory=dict)
    fees: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    reversals: dict = field(default_factory=dict)  # transfer id -> list
    fee_refunds: dict = field(default_factory=dict)  # fee id -> list
    disputes: dict = field(default_factory=dict)
    idempotency: dict = field(default_factory=dict)
    balances: dict = field(default_factory=dict)  # account -> currency -> amount
    calls: list = field(default_factory=list)
    fail_next: str | None = None

    # --- scenario helpers (what buyers' checkout and Stripe's side would do) -----------------
    def sale(self, *, account: str, amount: int, fee: int, currency="eur", order_id=None) -> dict:
        charge_id, transfer_id, fee_id = _id("ch"), _id("tr"), _id("fee")
        now = int(time.time())
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "currency": currency,
            "status": "succeeded",
            "paid": True,
            "amount_refunded": 0,
            "created": now,
            "transfer": transfer_id,
            "transfer_data": {"destination": account},
            "application_fee": fee_id,
            "application_fee_amount": fee,
            "disputed": False,
            "payment_intent": _id("pi"),
            "metadata": {"order_id": str(order_id)} if order_id else {},
        }
        self.transfers[transfer_id] = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "currency": currency,
            "destination": account,
            "amount_reversed": 0,
            "created": now,
            "source_transaction": charge_id,
        }
        self.fees[fee_id] = {
            "id": fee_id,
            "object": "application_fee",
            "amount": fee,
            "amount_refunded": 0,
            "currency": currency,
            "account": account,
            "charge": charge_id,
            "created": now,
        }
        self._move(account, currency, amount - fee)
        return self.charges[charge_id]

    def _move(self, account: str, currency: str, amount: int) -> None:
        per = self.balances.setdefault(account, {})
        per[currency] = per.get(currency, 0) + amount

    def dispute(self, charge_id: str, *, status="needs_response") -> dict:
        charge = self.charges[charge_id]
        dispute_id = _id("dp")
        charge["disputed"] = True
        self.disputes[dispute_id] = {
            "id": dispute_id,
            "object": "dispute",
            "charge": charge_id,
            "amount": charge["amount"] - charge["amount_refunded"],
            "currency": charge["currency"],
            "status": status,
            "reason": "fraudulent",
            "created": int(time.time()),
            "evidence_details": {"due_by": int(time.time()) + 7 * 86400},
            "balance_transactions": [],
        }
        return self.disputes[dispute_id]

    def dispute_withdraw(self, dispute_id: str, fee=1500) -> dict:
        d = self.disputes[dispute_id]
        d["balance_transactions"].append(
            {
                "id": _id("txn"),
                "amount": -d["amount"],
                "fee": fee,
                "currency": d["currency"],
                "created": int(time.time()),
            }
        )
        return d

    def dispute_reinstate(self, dispute_id: str) -> dict:
        d = self.disputes[dispute_id]
        d["balance_transactions"].append(
            {
                "id": _id("txn"),
                "amount": d["amount"],
                "fee": 0,
                "currency": d["currency"],
                "created": int(time.time()),
            }
        )
        return d

    # --- the gateway functions ---------------------------------------------------------------
    def _check(self, name):
        self.calls.append(name)
        if self.fail_next == name:
            self.fail_next = None
            raise stripe_gateway.GatewayError("Stripe is not reachable", retryable=True)

    def charge_retrieve(self, *, charge_id):
        self._check("charge_retrieve")
        return dict(self.charges[charge_id])

    def transfer_retrieve(self, *, transfer_id):
        self._check("transfer_retrieve")
        return dict(self.transfers[transfer_id])

    def application_fee_retrieve(self, *, fee_id):
        return dict(self.fees[fee_id])

    def application_fee_refunds_list(self, *, fee_id):
        return iter(list(self.fee_refunds.get(fee_id, [])))

    def refunds_list(self, *, charge_id):
        return iter([r for r in self.refunds.values() if r["charge"] == charge_id])

    def transfer_reversals_list(self, *, transfer_id):
        return iter(list(self.reversals.get(transfer_id, [])))

    def disputes_list(self, *, charge_id):
        return iter([d for d in self.disputes.values() if d["charge"] == charge_id])

    def transfer_reversal_create(
        self, *, transfer_id, amount, reason, idempotency_key, refund_request_id=None
    ):
        self._check("transfer_reversal_create")
        if idempotency_key in self.idempotency:
            return self.idempotency[idempotency_key]
        transfer = self.transfers[transfer_id]
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            raise stripe_gateway.GatewayError(
                "Reversal exceeds the transfer", code="amount_too_large"
            )
        reversal = {
            "id": _id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "transfer": transfer_id,
            "created": int(time.time()),
        }
        transfer["amount_reversed"] += amount
        self.reversals.setdefault(transfer_id, []).append(reversal)
        self._move(transfer["destination"], transfer["currency"], -amount)
        self.idempotency[idempotency_key] = reversal
        return reversal

    def refund_create(
        self, *, charge_id, amount, order_id, reason, idempotency_key, take_back_seller_share=True
    ):
        self._check("refund_create")
        if idempotency_key in self.idempotency:
            return self.idempotency[idempotency_key]
        charge = self.charges[charge_id]
        captured, before = charge["amount"], charge["amount_refunded"]
        if amount <= 0 or before + amount > captured:
            raise stripe_gateway.GatewayError(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge",
                code="charge_already_refunded",
            )
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge_id,
            "currency": charge["currency"],
            "status": "succeeded",
            "created": int(time.time()),
            "metadata": {"order_id": str(order_id)},
        }
        transfer = self.transfers[charge["transfer"]]
        fee = self.fees[charge["application_fee"]]
        reversal_amount = fee_back = 0
        if take_back_seller_share:
            reversal_amount = pro_rata_part(
                share=transfer["amount"],
                refunded_before=before,
                refunded_now=amount,
                captured=captured,
            )
            fee_back = pro_rata_part(
                share=fee["amount"], refunded_before=before, refunded_now=amount, captured=captured
            )
        charge["amount_refunded"] += amount
        self.refunds[refund["id"]] = refund
        if reversal_amount:
            reversal = {
                "id": _id("trr"),
                "object": "transfer_reversal",
                "amount": reversal_amount,
                "transfer": transfer["id"],
                "created": int(time.time()),
            }
            transfer["amount_reversed"] += reversal_amount
            self.reversals.setdefault(transfer["id"], []).append(reversal)
            refund["transfer_reversal"] = reversal["id"]
        if fee_back:
            fee["amount_refunded"] += fee_back
            self.fee_refunds.setdefault(fee["id"], []).append(
                {
                    "id": _id("fr"),
                    "object": "fee_refund",
                    "amount": fee_back,
                    "fee": fee["id"],
                    "created": int(time.time()),
                }
            )
        self._move(transfer["destination"], transfer["currency"], -reversal_amount + fee_back)
        self.idempotency[idempotency_key] = refund
        return refund

    def dispute_submit_evidence(self, *, dispute_id, text, idempotency_key, files=None):
        self._check("dispute_submit_evidence")
        d = self.disputes[dispute_id]
        d["evidence"] = {"uncategorized_text": text, **(files or {})}
        d["status"] = "under_review"
        return d

    def balance_retrieve(self, *, stripe_account=None):
        per = self.balances.get(stripe_account, {})
        return {"available": [{"amount": a, "currency": c} for c, a in per.items()], "pending": []}

    def install(self, monkeypatch) -> FakeStripe:
        """Stand in for the gateway's money calls; answers are the gateway's typed values, built
        from this fake's Stripe-shaped JSON by the gateway's own ``from_stripe``."""
        gw = stripe_gateway
        typed = {
            "charge_retrieve": gw.Charge.from_stripe,
            "transfer_retrieve": gw.Transfer.from_stripe,
            "application_fee_retrieve": gw.ApplicationFee.from_stripe,
            "transfer_reversal_create": gw.Movement.from_stripe,
            "refund_create": gw.Movement.from_stripe,
            "dispute_submit_evidence": gw.Dispute.from_stripe,
            "balance_retrieve": gw.Balance.from_stripe,
        }
        listed = {
            "application_fee_refunds_list": gw.Movement.from_stripe,
            "refunds_list": gw.Movement.from_stripe,
            "transfer_reversals_list": gw.Movement.from_stripe,
            "disputes_list": gw.Dispute.from_stripe,
        }

        def one(method, convert):
            return lambda **kwargs: convert(method(**kwargs))

        def many(method, convert):
            return lambda **kwargs: (convert(item) for item in method(**kwargs))

        for name, convert in typed.items():
            monkeypatch.setattr(gw, name, one(getattr(self, name), convert))
        for name, convert in listed.items():
            monkeypatch.setattr(gw, name, many(getattr(self, name), convert))
        return self
