"""Writes of the payouts app, one module per concern.

- ``ledger``: the double-entry ledger (accounts, postings, ``ledger_record``).
- ``charge_sync``: the ledger brought in line with one destination charge from Stripe.
- ``refunds``: refundable amounts, the seller's share of a refund, refund requests.
- ``disputes``: mirrored disputes, a lost dispute's recovery, evidence.
- ``balances``: seller balance snapshots from Stripe and mirrored payouts.
- ``problem_refunds``: a buyer's problem report granted by a refund.
- ``stripe_fees``: Stripe's processing fees of charges, awaited then recorded in batches.

Every function is keyword-only and typed, states its contract and side effects, and is atomic
where it touches more than one row. Fee rules and ledger rows are never edited or deleted:
changes are new rows. The fee rules and the fee quote live in ``sellers/fees.py`` (re-exported
here for old imports). New code imports from the concern module; the names below are re-exported
so ``from payouts.services import X`` keeps working.
"""

from payouts.services.balances import payout_sync, seller_balance_refresh
from payouts.services.charge_sync import ChargeSyncResult, ledger_sync_charge, order_id_for_charge
from payouts.services.disputes import (
    EVIDENCE_FILE_FIELDS,
    EvidenceFile,
    dispute_submit_evidence,
    dispute_sync,
    evidence_file_problem,
)
from payouts.services.ledger import (
    BUYER_DISPUTES,
    BUYER_PAYMENTS,
    BUYER_REFUNDS,
    EARNINGS_DAYS_KEPT,
    PAYOUT_KINDS,
    PLATFORM_BALANCE,
    PLATFORM_FEES,
    STRIPE_FEES,
    LedgerError,
    Posting,
    default_currencies,
    dispute_withdrawal_postings,
    ledger_record,
    movement_postings,
    pro_rata_part,
    seller_balance_account,
    seller_balance_for,
    seller_payouts_account,
)
from payouts.services.problem_refunds import problem_report_grant, problem_reports_settle
from payouts.services.refunds import (
    OrderRefundable,
    Refundable,
    order_refund_amount,
    order_refund_create,
    order_refund_share,
    order_refundable,
    refund_request_create,
    refund_reversal_make,
    refund_reversals_retry_due,
    refundable_of,
    reversal_backoff,
    reversals_owed,
    sale_refund_create,
    seller_share_of_refund,
)
from payouts.services.stripe_fees import (
    stripe_fee_expect,
    stripe_fees_awaited_count,
    stripe_fees_record,
)
from sellers.fees import (
    FeeRuleError,
    applicable_fee_rule,
    current_fee_rules,
    fee_rule_create,
    fee_rule_retire,
    fee_terms_of,
)

__all__ = [
    "BUYER_DISPUTES",
    "BUYER_PAYMENTS",
    "BUYER_REFUNDS",
    "EARNINGS_DAYS_KEPT",
    "EVIDENCE_FILE_FIELDS",
    "PAYOUT_KINDS",
    "PLATFORM_BALANCE",
    "PLATFORM_FEES",
    "STRIPE_FEES",
    "ChargeSyncResult",
    "EvidenceFile",
    "FeeRuleError",
    "LedgerError",
    "OrderRefundable",
    "Posting",
    "Refundable",
    "applicable_fee_rule",
    "current_fee_rules",
    "default_currencies",
    "dispute_submit_evidence",
    "dispute_sync",
    "dispute_withdrawal_postings",
    "evidence_file_problem",
    "fee_rule_create",
    "fee_rule_retire",
    "fee_terms_of",
    "ledger_record",
    "ledger_sync_charge",
    "movement_postings",
    "order_id_for_charge",
    "order_refund_amount",
    "order_refund_create",
    "order_refund_share",
    "order_refundable",
    "payout_sync",
    "pro_rata_part",
    "problem_report_grant",
    "problem_reports_settle",
    "refund_request_create",
    "refund_reversal_make",
    "refund_reversals_retry_due",
    "refundable_of",
    "reversal_backoff",
    "reversals_owed",
    "sale_refund_create",
    "seller_balance_account",
    "seller_balance_for",
    "seller_balance_refresh",
    "seller_payouts_account",
    "seller_share_of_refund",
    "stripe_fee_expect",
    "stripe_fees_awaited_count",
    "stripe_fees_record",
]
