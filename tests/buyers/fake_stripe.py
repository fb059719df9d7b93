"""A small in-memory Stripe for the buyers' unit tests, patched in at the gateway functions.

It returns the SDK's own objects (``stripe.checkout.Session.construct_from``), honours idempotency
keys like Stripe (same key + same params -> same session; same key, other params -> error) and
can be told to be unreachable. The sandbox tests (test_sandbox_checkout.py) use the real sandbox.
"""

from __future__ import annotations

import itertools
from typing import Any

import stripe

from marketplace.stripe_gateway import GatewayError


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, tuple[dict[str, Any], str]] = {}
        self.refunds: list[dict[str, Any]] = []
        self.create_calls: list[dict[str, Any]] = []
        self.expire_calls: list[str] = []
        self.transfers: list[dict[str, Any]] = []
        self.transfer_keys: dict[str, dict[str, Any]] = {}
        self.transfer_fail_with: int | None = None  # an HTTP status transfer creates answer
        self.down = False
        self.fail_with: int | None = None  # an HTTP status the next creates answer
        self._ids = itertools.count(1)

    # --- what the gateway functions do ---------------------------------------------------------
    def checkout_session_create(self, **kwargs: Any) -> stripe.checkout.Session:
        self.create_calls.append(dict(kwargs))
        key = kwargs.pop("idempotency_key")
        if self.down:
            raise GatewayError("Stripe is not reachable right now", retryable=True)
        if self.fail_with:
            raise GatewayError("Stripe failed", http_status=self.fail_with, retryable=True)
        if key in self.keys:
            params, session_id = self.keys[key]
            if params != kwargs:
                raise GatewayError(
                    "Keys for idempotent requests can only be used with the same parameters",
                    code="idempotency_key_in_use",
                    http_status=400,
                )
            return self._session(session_id)
        n = next(self._ids)
        session_id = f"cs_test_{n:06d}"
        self.sessions[session_id] = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"https://checkout.stripe.test/pay/{session_id}",
            "status": "open",
            "payment_status": "unpaid",
            "mode": "payment",
            "amount_total": sum(line.unit_amount * line.quantity for line in kwargs["lines"]),
            "currency": kwargs["currency"],
            "client_reference_id": f"purchase-{kwargs['purchase_id']}",
            "metadata": {"purchase_id": str(kwargs["purchase_id"])}
            | ({"order_id": str(kwargs["order_id"])} if kwargs["order_id"] else {}),
            "customer_email": kwargs["customer_email"],
            "expires_at": kwargs["expires_at"],
            "payment_intent": None,
            "collected_information": None,
            "shipping_countries": kwargs.get("shipping_countries"),
        }
        self.keys[key] = (kwargs, session_id)
        return self._session(session_id)

    def checkout_session_retrieve(
        self, *, session_id: str, expand: list[str] | None = None
    ) -> stripe.checkout.Session:
        if self.down:
            raise GatewayError("Stripe is not reachable right now", retryable=True)
        if session_id not in self.sessions:
            raise GatewayError(
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                http_status=404,
            )
        return self._session(session_id, expand=bool(expand))

    def checkout_session_expire(
        self, *, session_id: str, idempotency_key: str
    ) -> stripe.checkout.Session:
        self.expire_calls.append(session_id)
        if self.down:
            raise GatewayError("Stripe is not reachable right now", retryable=True)
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise GatewayError(
                "Only Checkout Sessions with a status in ['open'] can be expired.",
                code="checkout_session_not_open",  # illustrative
                http_status=400,
            )
        session["status"] = "expired"
        return self._session(session_id)

    def refund_create_for_order(
        self,
        *,
        payment_intent_id: str,
        order_id: int,
        reason: str,
        idempotency_key: str,
        reverse_transfer: bool = True,
    ) -> stripe.Refund:
        for refund in self.refunds:
            if refund["idempotency_key"] == idempotency_key:
                return stripe.Refund.construct_from(refund, "sk_test_fake")
        refund = {
            "id": f"re_test_{next(self._ids):06d}",
            "object": "refund",
            "payment_intent": payment_intent_id,
            "status": "succeeded",
            "reverse_transfer": reverse_transfer,
            "refund_application_fee": reverse_transfer,
            "metadata": {"order_id": str(order_id), "reason": reason},
            "idempotency_key": idempotency_key,
        }
        self.refunds.append(refund)
        return stripe.Refund.construct_from(refund, "sk_test_fake")

    def transfer_create(self, **kwargs: Any) -> stripe.Transfer:
        key = kwargs.pop("idempotency_key")
        if self.down:
            raise GatewayError("Stripe is not reachable right now", retryable=True)
        if self.transfer_fail_with:
            raise GatewayError(
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers",
                code="insufficient_capabilities_for_transfer",
                http_status=self.transfer_fail_with,
            )
        if key in self.transfer_keys:
            return stripe.Transfer.construct_from(self.transfer_keys[key], "sk_test_fake")
        transfer = {
            "id": f"tr_test_{next(self._ids):06d}",
            "object": "transfer",
            "amount": kwargs["amount"],
            "currency": kwargs["currency"],
            "destination": kwargs["destination"],
            "source_transaction": kwargs["source_transaction"],
            "transfer_group": kwargs["transfer_group"],
            "idempotency_key": key,
        }
        self.transfers.append(transfer)
        self.transfer_keys[key] = transfer
        return stripe.Transfer.construct_from(transfer, "sk_test_fake")

    def transfer_find(self, *, transfer_group: str, destination: str) -> stripe.Transfer | None:
        for transfer in self.transfers:
            if (transfer["transfer_group"], transfer["destination"]) == (
                transfer_group,
                destination,
            ):
                return stripe.Transfer.construct_from(transfer, "sk_test_fake")
        return None

    # --- what the buyer does on the hosted page ------------------------------------------------
    def pay(self, session_id: str, *, payment_status: str = "paid") -> None:
        session = self.sessions[session_id]
        n = next(self._ids)
        session["status"] = "complete"
        session["payment_status"] = payment_status
        if session["shipping_countries"]:
            session["collected_information"] = {
                "shipping_details": {
                    "name": "Ada Lovelace",
                    "address": {
                        "line1": "12 rue des Lilas",
                        "line2": None,
                        "postal_code": "75011",
                        "city": "Paris",
                        "state": None,
                        "country": "FR",
                    },
                }
            }
        destination = "order_id" in session["metadata"]  # else several sellers, no transfer
        session["payment_intent"] = {
            "id": f"pi_test_{n:06d}",
            "object": "payment_intent",
            "latest_charge": {
                "id": f"ch_test_{n:06d}",
                "object": "charge",
                "transfer": f"tr_test_{n:06d}" if destination else None,
                "application_fee": f"fee_test_{n:06d}" if destination else None,
                "receipt_url": f"https://pay.stripe.test/receipts/ch_test_{n:06d}",
            },
        }

    def expire(self, session_id: str) -> None:
        self.sessions[session_id]["status"] = "expired"

    def _session(self, session_id: str, *, expand: bool = False) -> stripe.checkout.Session:
        data = dict(self.sessions[session_id])
        if not expand and data["payment_intent"]:
            data["payment_intent"] = data["payment_intent"]["id"]
        return stripe.checkout.Session.construct_from(data, "sk_test_fake")


GATEWAY_FUNCTIONS = (
    "checkout_session_create",
    "checkout_session_retrieve",
    "checkout_session_expire",
    "refund_create_for_order",
    "transfer_create",
    "transfer_find",
)
