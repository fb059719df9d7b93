"""The one in-memory Stripe of the test suite, standing in for the gateway's functions.

Most tests that need Stripe use the sandbox (the offline Stripe reached through the real SDK:
``tests/buyers/sandbox_support.py``, ``tests/*/test_sandbox_*.py``, the ``sdk`` fixtures). This fake
is for unit tests of our services that need what the sandbox's fault injection cannot give: one
chosen gateway call failing (``fail``/``fail_once``), Stripe unreachable for every call
(``down``), a check of exactly which calls were made (``calls``, ``count``), or a Stripe-side
state set up directly (``add``, ``sale``, ``dispute``, ``pay``).

It keeps Stripe-shaped JSON and answers with the gateway's own typed values, built by the
gateway's ``from_stripe`` (so the parsing is the real one), and honours idempotency keys the way
Stripe does (same key and parameters: the first answer again; same key, other parameters: an
error). Money moves as Stripe moves it for destination charges with an application fee: the full
amount is transferred to the connected account, the fee comes back to the platform; refunds with
``reverse_transfer`` and ``refund_application_fee`` give back pro-rata shares.

One fixture, ``fake_stripe`` (tests/conftest.py), installs it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from marketplace import stripe_gateway as gw
from marketplace.stripe_gateway import GatewayError
from payouts.services import pro_rata_part

_seq = itertools.count(1)

UNREACHABLE = "Stripe is not reachable right now"


def refusal(http_status: int, message: str = "Stripe failed") -> GatewayError:
    """Stripe answering a request with ``http_status`` (for ``fail[...]``)."""
    return GatewayError(message, http_status=http_status, retryable=True)


# Stripe refusing a transfer to an account that lost its transfers capability.
NO_TRANSFERS = GatewayError(
    "Your destination account needs to have at least one of the following capabilities "
    "enabled: transfers",
    code="insufficient_capabilities_for_transfer",
    http_status=400,
)


def fake_id(prefix: str) -> str:
    """A fresh id in Stripe's style (``ch_fake000042``)."""
    return f"{prefix}_fake{next(_seq):06d}"


@dataclass
class StripeFake:
    # Stripe-side objects, by id.
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    fees: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    reversals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by transfer id
    fee_refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by fee id
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    balances: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> currency
    pending: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> currency
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # webhook endpoints
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # By account ("" for the platform), as Stripe lists them for that account.
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    balance_transactions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Every gateway call made, in order: (function name, its keyword arguments).
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Failures: ``fail[name]`` is raised by every call of ``name``, ``fail_once[name]`` by the
    # next one only; ``down`` makes every call answer "unreachable".
    fail: dict[str, Exception] = field(default_factory=dict)
    fail_once: dict[str, Exception] = field(default_factory=dict)
    down: bool = False
    # Idempotency: key -> (the request's parameters, the id of what it made).
    _keys: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)

    # --- bookkeeping ----------------------------------------------------------------------------
    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, dict(kwargs)))
        if self.down:
            raise GatewayError(UNREACHABLE, retryable=True)
        if name in self.fail_once:
            raise self.fail_once.pop(name)
        if name in self.fail:
            raise self.fail[name]

    def count(self, name: str) -> int:
        """How many times the gateway function ``name`` was called."""
        return sum(1 for call, _ in self.calls if call == name)

    def calls_of(self, name: str) -> list[dict[str, Any]]:
        """The keyword arguments of each call of ``name``, in order."""
        return [kwargs for call, kwargs in self.calls if call == name]

    @property
    def create_calls(self) -> list[dict[str, Any]]:
        """The Checkout Sessions asked for (kwargs of ``checkout_session_create``)."""
        return self.calls_of("checkout_session_create")

    @property
    def expire_calls(self) -> list[str]:
        return [kwargs["session_id"] for kwargs in self.calls_of("checkout_session_expire")]

    def _replay(self, key: str, params: dict[str, Any]) -> str | None:
        """The id made earlier under ``key`` (same parameters), else None; Stripe's error when
        the key comes back with other parameters."""
        if key not in self._keys:
            return None
        earlier, made = self._keys[key]
        if earlier != params:
            raise GatewayError(
                "Keys for idempotent requests can only be used with the same parameters",
                code="idempotency_key_in_use",
                http_status=400,
            )
        return made

    def _move(self, account: str, currency: str, amount: int) -> None:
        per = self.balances.setdefault(account, {})
        per[currency] = per.get(currency, 0) + amount

    # --- accounts (sellers) ---------------------------------------------------------------------
    def account_create(self, *, seller_id: int, country: str, email: str) -> gw.Account:
        self._call("account_create", seller_id=seller_id, country=country)
        key = gw.idempotency_key("seller", seller_id, "account")
        account_id = self._replay(key, {"seller_id": seller_id})
        if account_id is None:
            account_id = fake_id("acct")
            self._keys[key] = ({"seller_id": seller_id}, account_id)
            self.accounts[account_id] = {
                "id": account_id,
                "object": "account",
                "country": country,
                "email": email,
                "charges_enabled": False,
                "payouts_enabled": False,
                "details_submitted": False,
                "metadata": {"seller_id": str(seller_id)},
                "requirements": {
                    "currently_due": ["external_account", "tos_acceptance.date"],
                    "eventually_due": ["external_account", "tos_acceptance.date"],
                    "past_due": [],
                    "current_deadline": None,
                    "disabled_reason": "requirements.past_due",
                },
            }
        return gw.Account.from_stripe(self.accounts[account_id])

    def account_retrieve(self, *, account_id: str) -> gw.Account:
        self._call("account_retrieve", account_id=account_id)
        if account_id not in self.accounts:
            raise GatewayError("No such account", code="resource_missing", http_status=404)
        return gw.Account.from_stripe(self.accounts[account_id])

    def account_link_create(self, **kwargs: Any) -> gw.Link:
        self._call("account_link_create", **kwargs)
        n = next(_seq)
        return gw.Link.from_stripe(
            {
                "object": "account_link",
                "url": f"https://connect.stripe.test/setup/{kwargs['account_id']}/{n}",
                "created": 1,
                "expires_at": 301,
            }
        )

    def login_link_create(self, *, account_id: str, request_key: str) -> gw.Link:
        self._call("login_link_create", account_id=account_id)
        return gw.Link.from_stripe(
            {"object": "login_link", "url": f"https://connect.stripe.test/express/{account_id}"}
        )

    def complete(self, account_id: str) -> None:
        """What a seller finishing the hosted onboarding does to the account."""
        self.accounts[account_id].update(
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements={
                "currently_due": [],
                "eventually_due": [],
                "past_due": [],
                "current_deadline": None,
                "disabled_reason": None,
            },
        )

    def add(self, account_id: str, **fields: Any) -> None:
        """An account Stripe has (fully enabled unless ``fields`` say otherwise)."""
        base = {
            "id": account_id,
            "object": "account",
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "requirements": {"currently_due": [], "eventually_due": [], "past_due": []},
        }
        base.update(fields)
        self.accounts[account_id] = base

    # --- Checkout (buyers) ----------------------------------------------------------------------
    def checkout_session_create(self, **kwargs: Any) -> gw.CheckoutSession:
        self._call("checkout_session_create", **kwargs)
        key = kwargs.pop("idempotency_key")
        session_id = self._replay(key, kwargs)
        if session_id is None:
            session_id = fake_id("cs_test")
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
            self._keys[key] = (kwargs, session_id)
        return self._session(session_id)

    def checkout_session_retrieve(
        self, *, session_id: str, expand: list[str] | None = None
    ) -> gw.CheckoutSession:
        self._call("checkout_session_retrieve", session_id=session_id)
        if session_id not in self.sessions:
            raise GatewayError(
                f"No such checkout.session: '{session_id}'",
                code="resource_missing",
                http_status=404,
            )
        return self._session(session_id, expand=bool(expand))

    def checkout_session_expire(
        self, *, session_id: str, idempotency_key: str
    ) -> gw.CheckoutSession:
        self._call("checkout_session_expire", session_id=session_id)
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise GatewayError(
                "Only Checkout Sessions with a status in ['open'] can be expired.",
                code="checkout_session_not_open",
                http_status=400,
            )
        session["status"] = "expired"
        return self._session(session_id)

    def pay(self, session_id: str, *, payment_status: str = "paid") -> None:
        """What the buyer does on the hosted page: the session completes (paid, or unpaid for a
        delayed payment method), with a payment intent, a charge and its transfer and fee."""
        session = self.sessions[session_id]
        n = next(_seq)
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
        """Stripe expiring a session at its deadline."""
        self.sessions[session_id]["status"] = "expired"

    def _session(self, session_id: str, *, expand: bool = False) -> gw.CheckoutSession:
        data = dict(self.sessions[session_id])
        if not expand and data["payment_intent"]:
            data["payment_intent"] = data["payment_intent"]["id"]
        return gw.CheckoutSession.from_stripe(data)

    def refund_create_for_order(
        self,
        *,
        payment_intent_id: str,
        order_id: int,
        reason: str,
        idempotency_key: str,
        reverse_transfer: bool = True,
    ) -> gw.Movement:
        self._call(
            "refund_create_for_order",
            payment_intent_id=payment_intent_id,
            order_id=order_id,
            reason=reason,
        )
        for refund in self.refunds.values():
            if refund.get("idempotency_key") == idempotency_key:
                return gw.Movement.from_stripe(refund)
        refund = {
            "id": fake_id("re"),
            "object": "refund",
            "amount": 0,
            "payment_intent": payment_intent_id,
            "status": "succeeded",
            "created": int(time.time()),
            "reverse_transfer": reverse_transfer,
            "refund_application_fee": reverse_transfer,
            "metadata": {"order_id": str(order_id), "reason": reason},
            "idempotency_key": idempotency_key,
        }
        self.refunds[refund["id"]] = refund
        return gw.Movement.from_stripe(refund)

    def transfer_create(self, **kwargs: Any) -> gw.Transfer:
        self._call("transfer_create", **kwargs)
        key = kwargs.pop("idempotency_key")
        transfer_id = self._replay(key, kwargs)
        if transfer_id is None:
            transfer_id = fake_id("tr")
            self.transfers[transfer_id] = {
                "id": transfer_id,
                "object": "transfer",
                "amount": kwargs["amount"],
                "amount_reversed": 0,
                "currency": kwargs["currency"],
                "destination": kwargs["destination"],
                "source_transaction": kwargs["source_transaction"],
                "transfer_group": kwargs["transfer_group"],
                "created": int(time.time()),
                "metadata": {"order_id": str(kwargs.get("order_id") or "")},
                "idempotency_key": key,
            }
            self._keys[key] = (kwargs, transfer_id)
        return gw.Transfer.from_stripe(self.transfers[transfer_id])

    def transfer_find(self, *, transfer_group: str, destination: str) -> gw.Transfer | None:
        self._call("transfer_find", transfer_group=transfer_group, destination=destination)
        for transfer in self.transfers.values():
            if (transfer.get("transfer_group"), transfer["destination"]) == (
                transfer_group,
                destination,
            ):
                return gw.Transfer.from_stripe(transfer)
        return None

    # --- money (payouts): Stripe's side of a sale, its refunds and disputes ----------------------
    def sale(
        self,
        *,
        account: str,
        amount: int,
        fee: int,
        currency: str = "eur",
        order_id: int | None = None,
    ) -> dict[str, Any]:
        """A destination charge paid on ``account`` with application fee ``fee``: the charge, its
        transfer and its fee, as Stripe would have them. Returns the charge's JSON."""
        charge_id, transfer_id, fee_id = fake_id("ch"), fake_id("tr"), fake_id("fee")
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
            "payment_intent": fake_id("pi"),
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

    def dispute(self, charge_id: str, *, status: str = "needs_response") -> dict[str, Any]:
        """The buyer's bank disputes the charge. Returns the dispute's JSON."""
        charge = self.charges[charge_id]
        dispute_id = fake_id("dp")
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

    def dispute_withdraw(self, dispute_id: str, fee: int = 1500) -> dict[str, Any]:
        """Stripe takes the disputed amount and the dispute fee from the balance."""
        d = self.disputes[dispute_id]
        d["balance_transactions"].append(
            {
                "id": fake_id("txn"),
                "amount": -d["amount"],
                "fee": fee,
                "currency": d["currency"],
                "created": int(time.time()),
            }
        )
        return d

    def dispute_reinstate(self, dispute_id: str) -> dict[str, Any]:
        """A won dispute: the disputed amount comes back."""
        d = self.disputes[dispute_id]
        d["balance_transactions"].append(
            {
                "id": fake_id("txn"),
                "amount": d["amount"],
                "fee": 0,
                "currency": d["currency"],
                "created": int(time.time()),
            }
        )
        return d

    def charge_retrieve(self, *, charge_id: str) -> gw.Charge:
        self._call("charge_retrieve", charge_id=charge_id)
        return gw.Charge.from_stripe(self.charges[charge_id])

    def transfer_retrieve(self, *, transfer_id: str) -> gw.Transfer:
        self._call("transfer_retrieve", transfer_id=transfer_id)
        return gw.Transfer.from_stripe(self.transfers[transfer_id])

    def application_fee_retrieve(self, *, fee_id: str) -> gw.ApplicationFee:
        self._call("application_fee_retrieve", fee_id=fee_id)
        return gw.ApplicationFee.from_stripe(self.fees[fee_id])

    def application_fee_refunds_list(self, *, fee_id: str) -> Iterator[gw.Movement]:
        self._call("application_fee_refunds_list", fee_id=fee_id)
        return iter([gw.Movement.from_stripe(r) for r in self.fee_refunds.get(fee_id, [])])

    def refunds_list(self, *, charge_id: str) -> Iterator[gw.Movement]:
        self._call("refunds_list", charge_id=charge_id)
        found = [r for r in self.refunds.values() if r.get("charge") == charge_id]
        return iter([gw.Movement.from_stripe(r) for r in found])

    def transfer_reversals_list(self, *, transfer_id: str) -> Iterator[gw.Movement]:
        self._call("transfer_reversals_list", transfer_id=transfer_id)
        return iter([gw.Movement.from_stripe(r) for r in self.reversals.get(transfer_id, [])])

    def disputes_list(self, *, charge_id: str) -> Iterator[gw.Dispute]:
        self._call("disputes_list", charge_id=charge_id)
        found = [d for d in self.disputes.values() if d["charge"] == charge_id]
        return iter([gw.Dispute.from_stripe(d) for d in found])

    def transfer_reversal_create(
        self,
        *,
        transfer_id: str,
        amount: int,
        reason: str,
        idempotency_key: str,
        refund_request_id: int | None = None,
    ) -> gw.Movement:
        self._call(
            "transfer_reversal_create",
            transfer_id=transfer_id,
            amount=amount,
            refund_request_id=refund_request_id,
        )
        params = {"transfer_id": transfer_id, "amount": amount}
        made = self._replay(idempotency_key, params)
        if made is not None:
            return gw.Movement.from_stripe(self._reversal(made))
        transfer = self.transfers[transfer_id]
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            raise GatewayError("Reversal exceeds the transfer", code="amount_too_large")
        metadata = {"reason": reason}
        if refund_request_id is not None:
            metadata["refund_request_id"] = str(refund_request_id)
        reversal = {
            "id": fake_id("trr"),
            "object": "transfer_reversal",
            "amount": amount,
            "transfer": transfer_id,
            "created": int(time.time()),
            "metadata": metadata,
        }
        transfer["amount_reversed"] += amount
        self.reversals.setdefault(transfer_id, []).append(reversal)
        self._move(transfer["destination"], transfer["currency"], -amount)
        self._keys[idempotency_key] = (params, reversal["id"])
        return gw.Movement.from_stripe(reversal)

    def _reversal(self, reversal_id: str) -> dict[str, Any]:
        return next(r for rs in self.reversals.values() for r in rs if r["id"] == reversal_id)

    def refund_create(
        self,
        *,
        charge_id: str,
        amount: int,
        order_id: int,
        reason: str,
        idempotency_key: str,
        take_back_seller_share: bool = True,
    ) -> gw.Movement:
        self._call("refund_create", charge_id=charge_id, amount=amount, order_id=order_id)
        params = {"charge_id": charge_id, "amount": amount, "share": take_back_seller_share}
        made = self._replay(idempotency_key, params)
        if made is not None:
            return gw.Movement.from_stripe(self.refunds[made])
        charge = self.charges[charge_id]
        captured, before = charge["amount"], charge["amount_refunded"]
        if amount <= 0 or before + amount > captured:
            raise GatewayError(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge",
                code="charge_already_refunded",
            )
        refund: dict[str, Any] = {
            "id": fake_id("re"),
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
                "id": fake_id("trr"),
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
                    "id": fake_id("fr"),
                    "object": "fee_refund",
                    "amount": fee_back,
                    "fee": fee["id"],
                    "created": int(time.time()),
                }
            )
        self._move(transfer["destination"], transfer["currency"], -reversal_amount + fee_back)
        self._keys[idempotency_key] = (params, refund["id"])
        return gw.Movement.from_stripe(refund)

    def dispute_submit_evidence(
        self,
        *,
        dispute_id: str,
        text: str,
        idempotency_key: str,
        files: dict[str, str] | None = None,
    ) -> gw.Dispute:
        self._call("dispute_submit_evidence", dispute_id=dispute_id, files=files)
        d = self.disputes[dispute_id]
        d["evidence"] = {"uncategorized_text": text, **(files or {})}
        d["status"] = "under_review"
        return gw.Dispute.from_stripe(d)

    def balance_retrieve(self, *, stripe_account: str | None = None) -> gw.Balance:
        self._call("balance_retrieve", stripe_account=stripe_account)
        available = self.balances.get(stripe_account or "", {})
        pending = self.pending.get(stripe_account or "", {})
        return gw.Balance.from_stripe(
            {
                "available": [{"amount": a, "currency": c} for c, a in available.items()],
                "pending": [{"amount": a, "currency": c} for c, a in pending.items()],
            }
        )

    # --- webhook endpoints (the events app, in sandbox mode) -------------------------------------
    def webhook_endpoint_create(
        self, *, url: str, connect: bool, generation: int = 0
    ) -> gw.Endpoint:
        self._call("webhook_endpoint_create", url=url, connect=connect, generation=generation)
        endpoint_id = fake_id("we")
        self.endpoints[endpoint_id] = {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "url": url,
            "secret": f"whsec_{endpoint_id}",
            "status": "enabled",
        }
        return gw.Endpoint.from_stripe(self.endpoints[endpoint_id])

    def webhook_endpoint_list(self) -> list[gw.Endpoint]:
        self._call("webhook_endpoint_list")
        # As Stripe lists them: without their secrets.
        return [gw.Endpoint.from_stripe({**e, "secret": None}) for e in self.endpoints.values()]

    # --- listings and re-reads (events, reconciliation) -----------------------------------------
    def event_list(
        self, *, created_gte: int, account: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        self._call("event_list", created_gte=created_gte, account=account)
        found = [e for e in self.events.get(account or "", []) if e["created"] >= created_gte]
        return iter(sorted(found, key=lambda e: -e["created"]))  # newest first, as Stripe

    def connected_account_ids(self) -> Iterator[str]:
        self._call("connected_account_ids")
        return iter(list(self.accounts))

    def balance_transactions_iter(
        self,
        *,
        created_gte: int,
        created_lt: int,
        stripe_account: str | None = None,
        type: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        self._call(
            "balance_transactions_iter",
            created_gte=created_gte,
            created_lt=created_lt,
            stripe_account=stripe_account,
            type=type,
        )
        rows = self.balance_transactions.get(stripe_account or "", [])
        found = [
            bt
            for bt in rows
            if created_gte <= bt["created"] < created_lt and (not type or bt.get("type") == type)
        ]
        return iter(sorted(found, key=lambda bt: -bt["created"]))

    def balance_transaction_retrieve(self, *, balance_transaction_id: str) -> dict[str, Any]:
        self._call("balance_transaction_retrieve", balance_transaction_id=balance_transaction_id)
        for bt in self.balance_transactions.get("", []):
            if bt["id"] == balance_transaction_id:
                return dict(bt)
        raise GatewayError(
            f"No such balance transaction: '{balance_transaction_id}'",
            code="resource_missing",
            http_status=404,
        )

    def object_retrieve(
        self, *, object_type: str, object_id: str, stripe_account: str | None = None
    ) -> dict[str, Any]:
        self._call(
            "object_retrieve",
            object_type=object_type,
            object_id=object_id,
            stripe_account=stripe_account,
        )
        stores = {
            "account": self.accounts,
            "checkout.session": self.sessions,
            "charge": self.charges,
            "refund": self.refunds,
            "transfer": self.transfers,
            "payout": self.payouts,
            "dispute": self.disputes,
            "application_fee": self.fees,
        }
        if object_type not in stores:
            raise GatewayError(f"cannot re-fetch Stripe objects of type {object_type!r}")
        if object_id not in stores[object_type]:
            raise GatewayError(
                f"No such {object_type}: '{object_id}'", code="resource_missing", http_status=404
            )
        return dict(stores[object_type][object_id])

    # --- installing -----------------------------------------------------------------------------
    GATEWAY_FUNCTIONS = (
        "account_create",
        "account_retrieve",
        "account_link_create",
        "login_link_create",
        "checkout_session_create",
        "checkout_session_retrieve",
        "checkout_session_expire",
        "refund_create_for_order",
        "transfer_create",
        "transfer_find",
        "charge_retrieve",
        "transfer_retrieve",
        "application_fee_retrieve",
        "application_fee_refunds_list",
        "refunds_list",
        "transfer_reversals_list",
        "disputes_list",
        "transfer_reversal_create",
        "refund_create",
        "dispute_submit_evidence",
        "balance_retrieve",
        "webhook_endpoint_create",
        "webhook_endpoint_list",
        "event_list",
        "connected_account_ids",
        "balance_transactions_iter",
        "balance_transaction_retrieve",
        "object_retrieve",
    )

    def install(self, monkeypatch: Any) -> StripeFake:
        """Stand in for every gateway function above (``monkeypatch.setattr`` on the gateway
        module, which is where every service calls them)."""
        for name in self.GATEWAY_FUNCTIONS:
            method: Callable[..., Any] = getattr(self, name)
            monkeypatch.setattr(gw, name, method)
        return self
