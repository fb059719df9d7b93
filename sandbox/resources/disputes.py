"""Disputes (``/v1/disputes``: retrieve, update (evidence, submit), close, list).

A charge paid with a disputing test card (``4000000000000259`` fraudulent,
``4000000000002685`` product_not_received) is disputed ``SANDBOX_DISPUTE_AFTER`` seconds
(default 60) after it succeeds, on the sandbox clock: ``charge.dispute.created`` (status
``needs_response``, ``evidence_details.due_by`` 7 days later), then the disputed amount plus
the dispute fee (``SANDBOX_DISPUTE_FEE``, default 1500 minor units) is withdrawn from the
platform (balance transaction ``adjustment``: ``charge.dispute.funds_withdrawn``).
Submitting evidence makes it ``under_review``; Stripe's test evidence ``winning_evidence`` /
``losing_evidence`` in ``uncategorized_text`` decides it at the next clock run; otherwise the
control page (or ``resolve``) decides: won -> the amount is reinstated
(``charge.dispute.funds_reinstated``; the fee is kept), lost -> nothing comes back. Closing
(accepting) makes it ``lost``. An unanswered dispute is lost when ``due_by`` passes.
Every outcome emits ``charge.dispute.closed``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from stripe.params import (
    DisputeCloseParams,
    DisputeListParams,
    DisputeRetrieveParams,
    DisputeUpdateParams,
)

from sandbox import clock, store
from sandbox.errors import invalid_request
from sandbox.events import emit
from sandbox.ids import new_id
from sandbox.models import SandboxObject
from sandbox.resources import balances, files
from sandbox.router import Request, route

JSON = dict[str, Any]
EVIDENCE_DAYS = 7
OPEN = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")
EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def dispute_fee() -> int:
    return int(getattr(settings, "SANDBOX_DISPUTE_FEE", 1500))


def _event_account(account: str) -> str | None:
    return account or None


def dispute_create(charge_row: SandboxObject) -> JSON:
    """Open a dispute on the charge and withdraw the funds (see the module docstring)."""
    charge = charge_row.data
    account = charge_row.account
    now = clock.now()
    dispute_id = new_id("du")
    amount = int(charge["amount_captured"]) or int(charge["amount"])
    currency = charge["currency"]
    fee = dispute_fee()
    txn = balances.record(
        account=account,
        type="adjustment",
        amount=-amount,
        currency=currency,
        source=dispute_id,
        fee=fee,
        fee_details=[
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Dispute fee",
                "type": "stripe_fee",
            }
        ],
        description=f"Chargeback withdrawal for {charge['id']}",
        available=now,
    )
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    dispute = store.create(
        "du",
        "dispute",
        {
            "amount": amount,
            "balance_transactions": [store.get(txn["id"])],
            "charge": charge["id"],
            "currency": currency,
            "enhanced_eligibility_types": [],
            "evidence": {**dict.fromkeys(EVIDENCE_FIELDS), "enhanced_evidence": {}},
            "evidence_details": {
                "due_by": now + EVIDENCE_DAYS * 86400,
                "enhanced_eligibility": {},
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
                "submission_method": "not_submitted",
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge.get("payment_intent"),
            "payment_method_details": {
                "amazon_pay": None,
                "card": {
                    "brand": card.get("brand") or "visa",
                    "case_type": "chargeback",
                    "network": card.get("network") or card.get("brand") or "visa",
                    "network_reason_code": "10.4",
                },
                "klarna": None,
                "paypal": None,
                "type": "card",
            },
            "reason": charge_row.private.get("dispute_reason") or "general",
            "status": "needs_response",
        },
        account=account,
        object_id=dispute_id,
    )
    charge["disputed"] = True
    charge_row.private["dispute"] = dispute_id
    charge_row.private["dispute_open"] = True
    charge_row.private.pop("dispute_at", None)
    store.save(charge_row)
    event_account = _event_account(account)
    emit("charge.dispute.created", dispute, account=event_account)
    emit("charge.dispute.funds_withdrawn", dispute, account=event_account)
    return dispute


def resolve(dispute_id: str, *, won: bool) -> JSON:
    """Decide an open dispute (the card network's verdict)."""
    row = store.get_row(dispute_id, object_type="dispute", for_update=True)
    dispute: JSON = row.data
    if dispute["status"] not in OPEN:
        raise invalid_request(f"Dispute {dispute_id} is already {dispute['status']}.")
    before = {"status": dispute["status"]}
    event_account = _event_account(row.account)
    if won:
        txn = balances.record(
            account=row.account,
            type="adjustment",
            amount=int(dispute["amount"]),
            currency=dispute["currency"],
            source=dispute_id,
            description=f"Chargeback reversal for {dispute['charge']}",
            available=clock.now(),
        )
        dispute["balance_transactions"] = [*dispute["balance_transactions"], store.get(txn["id"])]
        dispute["status"] = "won"
        store.save(row)
        emit("charge.dispute.funds_reinstated", dispute, account=event_account)
    else:
        dispute["status"] = "lost"
        store.save(row)
    _close_charge(dispute)
    emit("charge.dispute.closed", dispute, account=event_account, previous_attributes=before)
    return dispute


def _close_charge(dispute: JSON) -> None:
    charge = SandboxObject.objects.select_for_update().filter(pk=dispute["charge"]).first()
    if charge is not None:
        charge.private["dispute_open"] = False
        store.save(charge)


def due_work() -> None:
    """Clock job: create scheduled disputes, decide test evidence, lose past-due disputes."""
    now = clock.now()
    for row in (
        SandboxObject.objects.select_for_update()
        .filter(object="charge", private__dispute_at__lte=now)
        .order_by("created", "seq")
    ):
        if not row.private.get("dispute") and row.data.get("status") == "succeeded":
            dispute_create(row)
    for row in store.queryset("dispute", account=None).filter(data__status__in=list(OPEN)):
        verdict = row.private.get("verdict")
        if verdict and int(row.private.get("verdict_at") or 0) <= now:
            resolve(row.id, won=verdict == "won")
        elif (
            row.data["status"] == "needs_response"
            and int(row.data["evidence_details"]["due_by"]) <= now
        ):
            data = row.data
            data["evidence_details"]["past_due"] = True
            store.save(row)
            resolve(row.id, won=False)


clock.register_job(due_work, name="sandbox.disputes.due_work")


# --- routes ------------------------------------------------------------------------------------
@route("GET", "/v1/disputes/{dispute}", params=DisputeRetrieveParams)
def retrieve(req: Request) -> JSON:
    return store.get(
        req.args["dispute"], object_type="dispute", account=req.account, param="dispute"
    )


@route("POST", "/v1/disputes/{dispute}", params=DisputeUpdateParams)
def update(req: Request) -> JSON:
    row = store.get_row(
        req.args["dispute"],
        object_type="dispute",
        account=req.account,
        for_update=True,
        param="dispute",
    )
    dispute = row.data
    p = req.params
    if dispute["status"] not in ("needs_response", "warning_needs_response"):
        raise invalid_request(
            f"This dispute is {dispute['status']} and can no longer be updated.",
            param="evidence",
        )
    before = {
        "evidence": dict(dispute["evidence"]),
        "evidence_details": dict(dispute["evidence_details"]),
        "metadata": dict(dispute["metadata"]),
        "status": dispute["status"],
    }
    evidence = p.get("evidence")
    files.check_evidence_files(evidence, account=req.account)
    if isinstance(evidence, dict):
        for key, value in evidence.items():
            if key in dispute["evidence"]:
                dispute["evidence"][key] = value if value != "" else None
        dispute["evidence_details"]["has_evidence"] = any(
            dispute["evidence"].get(k) for k in EVIDENCE_FIELDS
        )
    if "metadata" in p:
        dispute["metadata"] = store.merge_metadata(dispute.get("metadata"), p["metadata"])
    submit = p.get("submit", True)
    if submit:
        dispute["status"] = "under_review"
        dispute["evidence_details"]["submission_count"] += 1
        dispute["evidence_details"]["submission_method"] = "manual"
        text = (dispute["evidence"].get("uncategorized_text") or "").strip()
        if text in ("winning_evidence", "losing_evidence"):
            row.private["verdict"] = "won" if text == "winning_evidence" else "lost"
            row.private["verdict_at"] = clock.now()
    saved = store.save(row)
    previous = store.diff(before, {k: saved[k] for k in before})
    emit(
        "charge.dispute.updated",
        saved,
        account=_event_account(req.account),
        previous_attributes=previous,
    )
    return saved


@route("POST", "/v1/disputes/{dispute}/close", params=DisputeCloseParams)
def close(req: Request) -> JSON:
    store.get(req.args["dispute"], object_type="dispute", account=req.account, param="dispute")
    return resolve(req.args["dispute"], won=False)


@route("GET", "/v1/disputes", params=DisputeListParams)
def list_(req: Request) -> JSON:
    qs = store.queryset("dispute", account=req.account)
    for key in ("charge", "payment_intent"):
        if req.params.get(key):
            qs = qs.filter(**{f"data__{key}": req.params[key]})
    return store.list_response(qs, req.params, url="/v1/disputes")
