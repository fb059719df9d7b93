"""Disputes: mirror Stripe's disputes, take a lost dispute's share back, submit evidence."""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.errors import UserFacingError
from payouts.models import (
    Dispute,
    LedgerEntry,
    LedgerTransaction,
)
from payouts.services._common import _ts
from payouts.services.ledger import seller_balance_account

if TYPE_CHECKING:
    from marketplace.stripe_gateway import Charge

logger = logging.getLogger(__name__)


_DISPUTE_RANK = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "warning_closed": 2,
    "won": 2,
    "lost": 2,
    "prevented": 2,
}


def dispute_sync(*, data: Mapping[str, Any]) -> Dispute:
    """Mirror a Stripe dispute (``data`` = the dispute object); status only moves forward.

    A new dispute flags its order and emails the seller and the admins once (after commit) with
    the evidence deadline. A lost dispute, when ``MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER`` is on,
    takes the seller's remaining share back with a transfer reversal (idempotency key per
    dispute); the ledger records it from Stripe's objects (``ledger_sync_charge``).
    """
    dispute_id = str(data["id"])
    charge_id = str(data.get("charge") or "")  # an id: webhook payloads never expand it
    status = str(data.get("status") or "needs_response")
    if status not in _DISPUTE_RANK:
        status = "needs_response"
    evidence_due = _ts((data.get("evidence_details") or {}).get("due_by"))
    with transaction.atomic():
        existing = Dispute.objects.select_for_update().filter(stripe_id=dispute_id).first()
        if existing is None:
            ledger_charge = (
                LedgerTransaction.objects.filter(
                    kind=LedgerTransaction.Kind.CHARGE, stripe_object_id=charge_id
                )
                .only("order_id", "seller_id")
                .first()
            )
            try:
                with transaction.atomic():
                    existing = Dispute.objects.create(
                        stripe_id=dispute_id,
                        charge_id=charge_id,
                        order_id=ledger_charge.order_id if ledger_charge else None,
                        seller_id=ledger_charge.seller_id if ledger_charge else None,
                        amount=int(data["amount"]),
                        currency=str(data["currency"]).lower(),
                        reason=str(data.get("reason") or "")[:64],
                        status=status,
                        evidence_due_by=evidence_due,
                        stripe_created=_ts(data.get("created")) or timezone.now(),
                    )
            except IntegrityError:
                existing = Dispute.objects.select_for_update().get(stripe_id=dispute_id)
        dispute = existing
        if _DISPUTE_RANK[status] > _DISPUTE_RANK.get(dispute.status, 0) or (
            _DISPUTE_RANK[status] == _DISPUTE_RANK.get(dispute.status, 0)
            and status != dispute.status
            and _DISPUTE_RANK[status] < 2
        ):
            dispute.status = status
        dispute.evidence_due_by = evidence_due or dispute.evidence_due_by
        if dispute.notified_at is None:
            dispute.notified_at = timezone.now()
            from payouts import tasks

            pk = dispute.pk
            transaction.on_commit(lambda: tasks.send_dispute_opened_email.delay(pk))
        dispute.save()
        if dispute.order_id is not None:
            _sync_order_dispute(dispute)
        else:
            _sync_purchase_dispute(dispute)
        if (
            dispute.status == "lost"
            and settings.MARKETPLACE_DISPUTE_RECOVER_FROM_SELLER
            and not dispute.seller_share_reversal_id
        ):
            _recover_seller_share(dispute)
    return dispute


def _recover_seller_share(dispute: Dispute) -> None:
    """Reverse the seller's remaining net share of a lost dispute's charge (locked row)."""
    from marketplace import stripe_gateway as gw

    charge = gw.charge_retrieve(charge_id=dispute.charge_id)
    transfer_id = charge.transfer_id
    if not transfer_id and charge.transfer_group:
        _recover_separate_shares(dispute, charge)
        return
    if not transfer_id or dispute.seller_id is None:
        return
    transfer = gw.transfer_retrieve(transfer_id=transfer_id)
    remaining_transfer = transfer.amount - transfer.amount_reversed
    net = (
        LedgerEntry.objects.filter(
            seller_id=dispute.seller_id,
            account=seller_balance_account(dispute.seller_id),
            transaction__order_id=dispute.order_id,
        ).aggregate(total=Sum("amount"))["total"]
        if dispute.order_id
        else None
    )
    share = remaining_transfer if net is None else min(int(net), remaining_transfer)
    share = min(share, dispute.amount)
    if share <= 0:
        return
    from marketplace.stripe_gateway import idempotency_key

    reversal = gw.transfer_reversal_create(
        transfer_id=transfer_id,
        amount=share,
        reason=f"dispute {dispute.stripe_id} lost",
        idempotency_key=idempotency_key("dispute", dispute.stripe_id, "reversal"),
    )
    dispute.seller_share_reversal_id = reversal.id
    dispute.save(update_fields=["seller_share_reversal_id", "updated_at"])


@dataclass(frozen=True)
class EvidenceFile:
    """One file to send with a dispute's evidence, for one of Stripe's file evidence fields."""

    field: str  # receipt, shipping_documentation, uncategorized_file...
    filename: str
    content: bytes


EVIDENCE_FILE_FIELDS = {
    "receipt": "Receipt or invoice",
    "shipping_documentation": "Proof of shipping or delivery",
    "uncategorized_file": "Other document",
}
EVIDENCE_FILE_MAX = 5 * 1024 * 1024  # Stripe's limit for a dispute_evidence file


def evidence_file_problem(*, filename: str, content: bytes) -> str | None:
    """Why Stripe would refuse this evidence file (a sentence for the seller), or None: a PDF,
    JPEG or PNG (by its first bytes, not its name) of 1 byte to 5MB."""
    size = len(content)
    if size == 0:
        return f"{filename} is empty."
    if size > EVIDENCE_FILE_MAX:
        return (
            f"{filename} is {size / (1024 * 1024):.1f}MB: the bank takes files of at most 5MB. "
            "Compress it or send a smaller scan."
        )
    if not (
        content.startswith(b"%PDF-")
        or content.startswith(b"\xff\xd8\xff")
        or content.startswith(b"\x89PNG\r\n\x1a\n")
    ):
        return f"{filename} is not a PDF, JPEG or PNG file: the bank takes only those."
    return None


def dispute_submit_evidence(
    *, actor: Any, dispute_id: int, text: str, files: Sequence[EvidenceFile] = ()
) -> Dispute:
    """Staff, or the seller of the disputed sale, send evidence for an open dispute to the bank
    through Stripe: the text, and up to one file per field of ``EVIDENCE_FILE_FIELDS``.

    Refuses (``UserFacingError``) anyone else, empty text, a file Stripe would refuse
    (``evidence_file_problem``) or a field named twice, closed disputes and a passed deadline
    (by Stripe's clock). Nothing is sent unless everything is acceptable.
    Side effects: each file is uploaded to Stripe's files API (``purpose=dispute_evidence``,
    an idempotency key from the dispute and the file's content), then the dispute's evidence
    (text and file ids) is submitted; the text, the files (ids, names, sizes), who and when are
    kept; the order's pages show the dispute under review.
    """
    from marketplace import stripe_gateway as gw

    text = (text or "").strip()
    if not text:
        raise UserFacingError("Write the evidence to send.", field="text")
    seen: set[str] = set()
    for item in files:
        if item.field not in EVIDENCE_FILE_FIELDS:
            raise UserFacingError(f"Unknown kind of evidence file: {item.field}.")
        if item.field in seen:
            raise UserFacingError(f"Send one file as {EVIDENCE_FILE_FIELDS[item.field]}.")
        seen.add(item.field)
        problem = evidence_file_problem(filename=item.filename, content=item.content)
        if problem:
            raise UserFacingError(problem, field=item.field)
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update(of=("self",))
            .select_related("seller")
            .get(pk=dispute_id)
        )
        is_seller = dispute.seller is not None and dispute.seller.user_id == getattr(
            actor, "pk", None
        )
        if not (getattr(actor, "is_staff", False) or is_seller):
            raise UserFacingError("Only the seller of this sale or platform staff can answer.")
        if not dispute.is_open or dispute.status.endswith("under_review"):
            raise UserFacingError("This dispute no longer takes evidence.")
        stripe_now = datetime.fromtimestamp(gw.stripe_now(), tz=UTC)
        if dispute.evidence_due_by and dispute.evidence_due_by < stripe_now:
            raise UserFacingError("The evidence deadline has passed.")
        sent: list[dict[str, Any]] = []
        try:
            for item in files:
                digest = hashlib.sha256(item.content).hexdigest()[:16]
                file_id = gw.dispute_evidence_file_upload(
                    content=item.content,
                    filename=item.filename,
                    idempotency_key=gw.idempotency_key(
                        "dispute", dispute.stripe_id, "file", item.field, digest
                    ),
                )
                sent.append(
                    {
                        "field": item.field,
                        "file_id": file_id,
                        "filename": item.filename[:255],
                        "size": len(item.content),
                    }
                )
            gw.dispute_submit_evidence(
                dispute_id=dispute.stripe_id,
                text=text,
                files={f["field"]: f["file_id"] for f in sent},
                idempotency_key=gw.idempotency_key(
                    "dispute",
                    dispute.stripe_id,
                    "evidence",
                    zlib.crc32((text + "".join(f["file_id"] for f in sent)).encode()),
                ),
            )
        except gw.GatewayError as exc:
            raise UserFacingError(f"Stripe refused the evidence: {exc.message}") from exc
        dispute.evidence_text = text
        dispute.evidence_files = sent
        dispute.evidence_submitted_at = timezone.now()
        dispute.evidence_submitted_by = actor
        dispute.status = (
            "under_review" if not dispute.status.startswith("warning") else "warning_under_review"
        )
        dispute.save()
        if dispute.order_id is not None:
            _sync_order_dispute(dispute)
    return dispute


def _sync_purchase_dispute(dispute: Dispute) -> None:
    """A dispute of a several-seller charge: shown on every order the charge paid."""
    from buyers import services as buyer_services
    from buyers.models import Order

    for order_id in Order.objects.filter(charge_id=dispute.charge_id).values_list("pk", flat=True):
        buyer_services.order_record_dispute(
            order_id=order_id, status=dispute.status, evidence_due_by=dispute.evidence_due_by
        )


def _recover_separate_shares(dispute: Dispute, charge: Charge) -> None:
    """A lost dispute of a several-seller charge: each seller gives back their part of the
    disputed amount, pro rata to what the order was of the charge (``round_half_up``), at
    most what remains of their transfer; one reversal per seller, keyed on the dispute and the
    order, so a replay reverses nothing twice."""
    from buyers.models import Order
    from marketplace import stripe_gateway as gw
    from marketplace.money import round_half_up

    captured = charge.amount
    if captured <= 0:
        return
    last = ""
    orders = Order.objects.filter(charge_id=dispute.charge_id).exclude(transfer_id="")
    for order in orders.order_by("pk"):
        transfer = gw.transfer_retrieve(transfer_id=order.transfer_id)
        remaining = transfer.amount - transfer.amount_reversed
        part = round_half_up(order.transfer_amount * dispute.amount, captured)
        share = min(part, remaining)
        if share <= 0:
            continue
        reversal = gw.transfer_reversal_create(
            transfer_id=order.transfer_id,
            amount=share,
            reason=f"dispute {dispute.stripe_id} lost",
            idempotency_key=gw.idempotency_key("dispute", dispute.stripe_id, "reversal", order.pk),
        )
        last = reversal.id
    if last:
        dispute.seller_share_reversal_id = last
        dispute.save(update_fields=["seller_share_reversal_id", "updated_at"])


def _sync_order_dispute(dispute: Dispute) -> None:
    """Show the dispute on buyers' order (the seller's sale page and the buyer's order page)."""
    from buyers import services as buyer_services
    from buyers.models import Order

    assert dispute.order_id is not None
    try:
        buyer_services.order_record_dispute(
            order_id=dispute.order_id,
            status=dispute.status,
            evidence_due_by=dispute.evidence_due_by,
        )
    except Order.DoesNotExist:
        logger.warning("dispute %s of unknown order %s", dispute.stripe_id, dispute.order_id)
