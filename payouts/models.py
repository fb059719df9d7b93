"""Money of the marketplace: the double-entry ledger, seller balances and payouts.

Amounts are integer minor units of a lower-case ISO 4217 currency (see marketplace/money.py),
never floats. Ledger amounts are signed: an entry adds ``amount`` to its account's balance.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

# Fee rules live in sellers (the layer checkout's fee quote can reach) and the immutable-row base
# in the core; both stay importable from here.
from marketplace.models import ImmutableModel as ImmutableModel
from marketplace.models import ImmutableQuerySet as ImmutableQuerySet
from marketplace.models import ImmutableRowError as ImmutableRowError
from sellers.models import FeeRule as FeeRule
from sellers.models import Seller

# --- Ledger -------------------------------------------------------------------------------------


class LedgerTransaction(ImmutableModel):
    """One money movement, mirrored from one Stripe object (unique per kind).

    Its entries sum to zero per currency (``ledger_record`` refuses anything else).
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        APPLICATION_FEE = "application_fee", "Application fee"
        TRANSFER = "transfer", "Transfer to seller"
        REFUND = "refund", "Refund"
        FEE_REFUND = "fee_refund", "Application fee refund"
        TRANSFER_REVERSAL = "transfer_reversal", "Transfer reversal"
        DISPUTE_FUNDS_WITHDRAWN = "dispute_funds_withdrawn", "Dispute: funds withdrawn"
        DISPUTE_FUNDS_REINSTATED = "dispute_funds_reinstated", "Dispute: funds reinstated"
        PAYOUT = "payout", "Payout"
        PAYOUT_FAILED = "payout_failed", "Payout failed or canceled (returned)"
        ADJUSTMENT = "adjustment", "Adjustment"
        STRIPE_FEE = "stripe_fee", "Stripe processing fee"
        # Separate charges and transfers: the platform's fee is what it keeps of an order
        # (order amount - the seller's transfer); keyed on that transfer's id.
        SEPARATE_FEE = "separate_fee", "Platform fee kept (separate charge and transfer)"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The Stripe object the movement comes from (ch_, fee_, tr_, re_, fr_, trr_, dp_, po_ ...;
    # txn_ for Stripe's processing fee, which lives on the charge's balance transaction).
    stripe_object_id = models.CharField(max_length=255)
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transactions"
    )
    # The order, where known (buyers.Order id; kept as a plain id so the ledger survives any
    # order lifecycle and so payouts does not depend on buyers' table layout).
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The charge the movement belongs to (ch_...), so a transfer finds its fee, refunds, reversals.
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    # When the movement happened at Stripe (object's ``created``); recorded_at is when we wrote it.
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "stripe_object_id"], name="ledger_txn_unique_stripe_object"
            )
        ]
        indexes = [models.Index(fields=["seller", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_object_id}"


class LedgerEntry(ImmutableModel):
    """One leg of a ledger transaction: ``amount`` minor units (signed) on ``account``.

    Accounts: ``platform:stripe_balance``, ``platform:fees``, ``stripe:fees``, ``buyer:payments``,
    ``buyer:refunds``, ``buyer:disputes``, ``seller:<id>:balance``, ``seller:<id>:payouts``.
    """

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.CharField(max_length=64)
    # Set for seller accounts, so a seller's entries are one indexed range scan.
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    amount = models.BigIntegerField(help_text="Signed, minor units")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["account", "currency"]),
            models.Index(fields=["seller", "id"]),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.account} {self.amount} {self.currency}"


class SellerBalance(models.Model):
    """The pre-aggregated money view of one seller: read by the balance page in one row.

    ``ledger`` is {currency: minor units} of ``seller:<id>:balance``, kept up to date by
    ``ledger_record`` in the same transaction as the entries (the ledger_check command verifies it
    against the entries). ``paid_out`` is the same for ``seller:<id>:payouts``. ``earnings_by_day``
    is {currency: {"YYYY-MM-DD": net change of the balance that day, payouts excluded}}.
    ``stripe_available``/``stripe_pending`` are the last snapshot of Stripe's balance of the
    connected account, taken at ``stripe_refreshed_at``.
    """

    seller = models.OneToOneField(Seller, on_delete=models.PROTECT, related_name="money")
    ledger = models.JSONField(default=dict)
    paid_out = models.JSONField(default=dict)
    earnings_by_day = models.JSONField(default=dict)
    entry_count = models.PositiveBigIntegerField(default=0)
    stripe_available = models.JSONField(default=dict)
    stripe_pending = models.JSONField(default=dict)
    stripe_refreshed_at = models.DateTimeField(null=True, blank=True)
    stripe_refresh_error = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"balance of seller {self.seller_id}"

    def currencies(self) -> list[str]:
        keys = set(self.ledger) | set(self.stripe_available) | set(self.stripe_pending)
        return sorted(keys)

    def ledger_total(self, currency: str) -> int:
        """The seller's balance in ``currency`` as the ledger has it (minor units)."""
        return int(self.ledger.get(currency, 0))

    def stripe_total(self, currency: str) -> int:
        return int(self.stripe_available.get(currency, 0)) + int(
            self.stripe_pending.get(currency, 0)
        )

    def disagreements(self) -> list[str]:
        """Currencies where Stripe's balance (available + pending) differs from the ledger's."""
        if self.stripe_refreshed_at is None:
            return []
        return [c for c in self.currencies() if self.stripe_total(c) != self.ledger_total(c)]


# --- Payouts --------------------------------------------------------------------------------


class Payout(models.Model):
    """A payout from a seller's connected account to their bank, mirrored from ``payout.*`` events."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_TRANSIT = "in_transit", "In transit"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    # Forward-only order of the statuses: a stale event never moves a payout back.
    RANK: ClassVar[dict[str, int]] = {
        "pending": 0,
        "in_transit": 1,
        "paid": 2,
        "failed": 3,
        "canceled": 3,
    }

    stripe_id = models.CharField(max_length=255, unique=True)
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="payouts")
    amount = models.BigIntegerField(help_text="Minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    arrival_date = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    stripe_created = models.DateTimeField()
    failure_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]
        indexes = [models.Index(fields=["seller", "-stripe_created"])]

    def __str__(self) -> str:
        return f"{self.stripe_id} {self.status}"


class Dispute(models.Model):
    """A dispute (chargeback) on a charge, mirrored from ``charge.dispute.*`` events.

    It flags the order (``order_id``) for the seller's and admins' pages.
    """

    class Status(models.TextChoices):
        WARNING_NEEDS_RESPONSE = "warning_needs_response", "Inquiry: needs response"
        WARNING_UNDER_REVIEW = "warning_under_review", "Inquiry: under review"
        WARNING_CLOSED = "warning_closed", "Inquiry closed"
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        PREVENTED = "prevented", "Prevented"

    CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})

    stripe_id = models.CharField(max_length=255, unique=True)
    charge_id = models.CharField(max_length=255, db_index=True)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    amount = models.BigIntegerField(help_text="Minor units")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, choices=Status.choices)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    evidence_text = models.TextField(blank=True)
    # Files sent with the evidence: [{"field": "receipt", "file_id": "file_…", "filename", "size"}]
    evidence_files = models.JSONField(default=list, blank=True)
    evidence_submitted_at = models.DateTimeField(null=True, blank=True)
    evidence_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seller_share_reversal_id = models.CharField(max_length=255, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    stripe_created = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_id} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED


class ReconciliationRun(models.Model):
    """One comparison of Stripe's balance transactions with the ledger over a period."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CLEAN = "clean", "Clean"
        MISMATCHES = "mismatches", "Mismatches found"
        FAILED = "failed", "Failed"

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    stripe_transactions = models.PositiveBigIntegerField(default=0)
    missing_in_ledger = models.PositiveBigIntegerField(default=0)
    missing_in_stripe = models.PositiveBigIntegerField(default=0)
    amount_mismatches = models.PositiveBigIntegerField(
        default=0, help_text="Movements on both sides whose amount or currency differ"
    )
    unreadable_accounts = models.PositiveIntegerField(default=0)
    # Progress while it runs: Stripe balances to read (the platform's and each connected
    # account's) and how many are done.
    scopes_total = models.PositiveIntegerField(default=0)
    scopes_done = models.PositiveIntegerField(default=0)
    # Who started it from the staff page (None: the daily job or the command).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The first issues found, as lines (the counts above are complete).
    issues = models.JSONField(default=list)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return (
            f"reconciliation {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d} {self.status}"
        )


class ReconciliationSeen(models.Model):
    """Stripe movements met by a running reconciliation (scratch rows, removed when it ends),
    one per ledger transaction a balance transaction calls for, with what the ledger should
    show: the comparison with the ledger is one set-based query per account read, and finding
    ledger entries without their Stripe movement one more, memory flat in N."""

    # No index of its own: both indexes below start with the run.
    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Order met in Stripe's stream (issues are reported in that order).
    seq = models.BigIntegerField(default=0)
    kind = models.CharField(max_length=32)
    stripe_object_id = models.CharField(max_length=255)
    # The balance transaction: its id, type, amount and currency (for the issue's wording).
    txn_id = models.CharField(max_length=255, blank=True, default="")
    bt_type = models.CharField(max_length=64, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    # What the ledger transaction should have moved; None: matched only (converted currency).
    expected = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "kind", "stripe_object_id"]),
            models.Index(fields=["run", "seq"], name="payouts_recseen_run_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_object_id}"


class RefundRequest(models.Model):
    """A refund asked by an admin or the seller, sent to Stripe with its own idempotency key.

    The ledger and the order follow from Stripe's events; this row keeps who asked, why, and
    what Stripe answered.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Sending to Stripe"
        SUCCEEDED = "succeeded", "Accepted by Stripe"
        FAILED = "failed", "Refused"

    class Reason(models.TextChoices):
        REQUESTED = "requested_by_customer", "The buyer asked"
        DAMAGED = "damaged", "Damaged or not as described"
        NOT_DELIVERED = "not_delivered", "Not delivered"
        OUT_OF_STOCK = "out_of_stock", "Out of stock"
        OTHER = "other", "Other"

    client_token = models.UUIDField(unique=True, help_text="From the form: a double submit is one")
    charge_id = models.CharField(max_length=255, db_index=True)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="refund_requests"
    )
    amount = models.PositiveBigIntegerField(help_text="Minor units")
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    platform_covers = models.BooleanField(
        default=False,
        help_text="Paid from the platform's balance: the seller's share was not taken back",
    )

    class ReversalStatus(models.TextChoices):
        NONE = "", "Nothing to reverse"
        PENDING = "pending", "To be reversed"
        FAILED = "failed", "Reversal failed, will retry"
        DONE = "done", "Reversed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # One seller's order of a several-seller purchase: after the refund, the seller's share
    # (``reversal_amount``) is taken back by reversing their transfer. A reversal that fails
    # once the buyer is refunded is retried with backoff by a job until it is made, once.
    reversal_amount = models.PositiveBigIntegerField(default=0, help_text="Minor units")
    reversal_status = models.CharField(
        max_length=8,
        choices=ReversalStatus.choices,
        default=ReversalStatus.NONE,
        blank=True,
        db_index=True,
    )
    reversal_attempts = models.PositiveSmallIntegerField(default=0)
    reversal_error = models.CharField(max_length=255, blank=True)
    reversal_next_attempt_at = models.DateTimeField(null=True, blank=True)
    reversal_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_request_amount_positive")
        ]

    def __str__(self) -> str:
        return f"refund request {self.pk} of {self.charge_id}: {self.amount} {self.currency}"


class AwaitedStripeFee(models.Model):
    """A charge recorded in the ledger without Stripe's processing fee: the fee is on the
    charge's balance transaction, which the signed ``charge.succeeded`` names but does not
    carry. ``stripe_fee_expect`` writes the row (no request), ``stripe_fees_record`` lists the
    platform's balance transactions around ``created`` a page of 100 at a time, records each
    fee (ledger kind ``stripe_fee``) and deletes the row. Rows left (Stripe unreachable,
    another process's) are taken by the ``payouts.record_stripe_fees`` beat task."""

    charge_id = models.CharField(max_length=255)
    balance_transaction_id = models.CharField(max_length=255, unique=True)
    # The charge's currency: a fee settled in another (converted) is not recorded.
    currency = models.CharField(max_length=3)
    # Unix seconds (Stripe's clock) of the charge: its balance transaction is listed around it.
    created = models.BigIntegerField()
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    order_id = models.BigIntegerField(null=True, blank=True)
    awaited_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"fee of {self.charge_id} on {self.balance_transaction_id}"
