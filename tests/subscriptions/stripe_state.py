"""Our subscriptions against Stripe's (the sandbox's), read with the SDK, never from our rows:
used by the stateful money test and the event-order property test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marketplace import stripe_gateway
from payouts.models import LedgerTransaction
from subscriptions.models import Subscription

K = LedgerTransaction.Kind


def ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def stripe_subscription_id(sdk: Any, sub: Subscription) -> str:
    """The Stripe subscription the Checkout of our subscription made."""
    return str(sdk.v1.checkout.sessions.retrieve(sub.checkout_session_id).subscription or "")


def assert_subscription_is_stripes(
    sdk: Any, sub: Subscription, stripe_id: str, *, in_ledger: set[str] | None = None
) -> list[Any]:
    """Our subscription, its invoices and its dunning state are Stripe's; each paid invoice is
    in the ledger once (those in ``in_ledger`` were already found there: skipped, the ledger's
    own check finds a movement recorded twice). Returns Stripe's invoices (newest first)."""
    sub.refresh_from_db()
    assert sub.stripe_subscription_id == stripe_id, (sub.pk, stripe_id)
    current = sdk.v1.subscriptions.retrieve(stripe_id)
    item = current["items"]["data"][0]
    ours = {
        "status": sub.status,
        "period": (sub.current_period_start, sub.current_period_end),
        "trial_end": sub.trial_end,
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": sub.canceled_at,
        "ended_at": sub.ended_at,
        "price": sub.stripe_price_id,
        "plan's price": sub.plan.stripe_price_id,
        "amount": sub.amount,
        "latest_invoice": sub.latest_invoice_id,
    }
    theirs = {
        "status": current.status,
        "period": (ts(item["current_period_start"]), ts(item["current_period_end"])),
        "trial_end": ts(current.trial_end),
        "cancel_at_period_end": current.cancel_at_period_end,
        "canceled_at": ts(current.canceled_at),
        "ended_at": ts(current.ended_at),
        "price": item["price"]["id"],
        "plan's price": item["price"]["id"],
        "amount": item["price"]["unit_amount"] * item["quantity"],
        "latest_invoice": current.latest_invoice or "",
    }
    assert ours == theirs, (sub.pk, {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]})
    invoices = sdk.v1.invoices.list({"subscription": stripe_id, "limit": 100}).data
    rows = {row.stripe_invoice_id: row for row in sub.invoices.all()}
    assert sorted(rows) == sorted(i.id for i in invoices), sub.pk
    for invoice in invoices:
        row = rows[invoice.id]
        assert (row.status, row.amount_due, row.amount_paid, row.attempt_count) == (
            invoice.status,
            invoice.amount_due,
            invoice.amount_paid,
            invoice.attempt_count,
        ), invoice.id
        if invoice.status == "paid" and invoice.amount_paid > 0:
            if in_ledger is None or invoice.id not in in_ledger:
                assert_invoice_in_the_ledger_once(sdk, row, invoice)
            if in_ledger is not None:
                in_ledger.add(invoice.id)
    # Dunning: a past-due or unpaid subscription links to its oldest open invoice that Stripe
    # failed to collect and says when Stripe tries again (the soonest attempt).
    failed = sorted(
        (i for i in invoices if i.status == "open" and i.attempt_count > 0), key=lambda i: i.created
    )
    if sub.status in (Subscription.Status.PAST_DUE, Subscription.Status.UNPAID):
        assert sub.pay_url == (failed[0].hosted_invoice_url if failed else ""), sub.pk
        attempts = [i.next_payment_attempt for i in failed if i.next_payment_attempt]
        assert sub.next_payment_attempt == ts(min(attempts, default=None)), sub.pk
    if sub.status in (Subscription.Status.ACTIVE, Subscription.Status.TRIALING):
        assert (sub.pay_url, sub.next_payment_attempt) == ("", None), sub.pk
    return invoices


def assert_invoice_in_the_ledger_once(sdk: Any, row: Any, invoice: Any) -> None:
    """A paid invoice is a destination charge recorded once: the charge for what Stripe
    charged, Stripe's fee, the seller's transfer (all of it) and the platform's application
    fee (what Stripe took of it)."""
    charge_id = stripe_gateway.invoice_charge_id(invoice_id=invoice.id)
    assert charge_id and row.charge_id == charge_id, invoice.id
    charge = sdk.v1.charges.retrieve(charge_id)
    assert charge.amount == invoice.amount_paid
    recorded: dict[str, list[int]] = {}
    for txn in LedgerTransaction.objects.filter(charge_id=charge_id).prefetch_related("entries"):
        recorded.setdefault(txn.kind, []).append(
            sum(e.amount for e in txn.entries.all() if e.amount > 0)
        )
    fee = charge.application_fee_amount or 0
    expected = {K.CHARGE: [invoice.amount_paid], K.TRANSFER: [invoice.amount_paid]}
    if fee:
        expected[K.APPLICATION_FEE] = [fee]
    money = {k: v for k, v in recorded.items() if k in (*expected, K.APPLICATION_FEE)}
    assert money == expected, (invoice.id, recorded)
    assert len(recorded.get(K.STRIPE_FEE, [])) == 1, (invoice.id, recorded)
