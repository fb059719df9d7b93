"""Control-page panels and actions of the payments resources: balances per account, open
disputes (win / lose), payouts (run due payouts now); and a balance panel on the Express
dashboard."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from sandbox import display, store
from sandbox.ledger_models import BalanceEntry
from sandbox.models import SandboxObject
from sandbox.panels import register_action, register_control_panel, register_dashboard_panel
from sandbox.resources import balances, disputes, payouts

JSON = dict[str, Any]


def _fmt(amount: int, currency: str) -> str:
    return display.money(amount, currency)


def _balance_rows(account: str) -> list[JSON]:
    return [
        {
            "currency": currency,
            "available": _fmt(v["available"], currency),
            "pending": _fmt(v["pending"], currency),
        }
        for currency, v in sorted(balances.totals(account).items())
    ]


def balances_panel(request: HttpRequest) -> JSON:
    owners = list(BalanceEntry.objects.values_list("account", flat=True).distinct()[:50])
    names = {
        row.id: (row.data.get("business_profile") or {}).get("name") or row.data.get("email")
        for row in SandboxObject.objects.filter(pk__in=owners, object="account")
    }
    rows = []
    for owner in sorted(owners, key=lambda a: (a != "", a)):
        rows.append(
            {
                "account": owner or "platform",
                "name": "Platform" if not owner else names.get(owner) or "",
                "balances": _balance_rows(owner),
            }
        )
    return {"accounts": rows}


def disputes_panel(request: HttpRequest) -> JSON:
    rows = store.queryset("dispute", account=None).order_by("-created", "-seq")[:20]
    return {
        "disputes": [
            {
                **row.data,
                "display": _fmt(row.data["amount"], row.data["currency"]),
                "open": row.data["status"] in disputes.OPEN,
            }
            for row in rows
        ]
    }


def payouts_panel(request: HttpRequest) -> JSON:
    rows = store.queryset("payout", account=None).order_by("-created", "-seq")[:20]
    return {
        "payouts": [
            {
                **row.data,
                "account": row.account,
                "display": _fmt(row.data["amount"], row.data["currency"]),
            }
            for row in rows
        ]
    }


def _dispute_action(request: HttpRequest, *, won: bool) -> str:
    dispute_id = str(request.POST.get("dispute") or "")
    if not SandboxObject.objects.filter(pk=dispute_id, object="dispute").exists():
        raise ValueError(f"No such dispute: {dispute_id!r}")
    from sandbox.errors import StripeError

    try:
        with transaction.atomic():
            disputes.resolve(dispute_id, won=won)
    except StripeError as exc:
        raise ValueError(exc.message) from exc
    return f"Dispute {dispute_id} {'won' if won else 'lost'}."


def run_payouts(request: HttpRequest) -> str:
    with transaction.atomic():
        created = payouts.run_automatic(force=True)
        payouts.advance_payouts()
    return f"{len(created)} automatic payout(s) created."


register_control_panel(
    "balances", "Balances", "sandbox/panels/balances.html", balances_panel, order=20
)
register_control_panel(
    "disputes", "Disputes", "sandbox/panels/disputes.html", disputes_panel, order=25
)
register_control_panel("payouts", "Payouts", "sandbox/panels/payouts.html", payouts_panel, order=26)
register_action("dispute_win", lambda request: _dispute_action(request, won=True))
register_action("dispute_lose", lambda request: _dispute_action(request, won=False))
register_action("run_payouts", run_payouts)
register_dashboard_panel(
    "balance",
    "Balance",
    "sandbox/dashboard/balance.html",
    lambda account_id: {"balances": _balance_rows(account_id)},
    order=40,
)


# --- authorisations awaiting capture (capture_method=manual) -----------------------------------
def authorisations_panel(request: HttpRequest) -> JSON:
    rows = (
        store.queryset("payment_intent", account=None)
        .filter(data__status="requires_capture")
        .order_by("-created", "-seq")[:20]
    )
    return {
        "authorisations": [
            {
                "id": row.id,
                "display": _fmt(row.data["amount_capturable"], row.data["currency"]),
                "capture_before": display.datetime(row.private["capture_before"])
                if row.private.get("capture_before")
                else "",
            }
            for row in rows
        ]
    }


def expire_authorisation(request: HttpRequest) -> str:
    """Let one authorisation lapse now (as 7 days passing would): canceled, ``automatic``."""
    from sandbox import clock
    from sandbox.resources.payments.attempts import expire_authorizations

    intent_id = str(request.POST.get("payment_intent") or "")
    with transaction.atomic():
        row = (
            SandboxObject.objects.select_for_update()
            .filter(pk=intent_id, object="payment_intent", data__status="requires_capture")
            .first()
        )
        if row is None:
            raise ValueError(f"No uncaptured PaymentIntent {intent_id!r}.")
        row.private["capture_before"] = clock.now()
        store.save(row)
        expire_authorizations()
    return f"The authorisation of {intent_id} lapsed (canceled, reason automatic)."


register_control_panel(
    "authorisations",
    "Authorisations awaiting capture",
    "sandbox/panels/authorisations.html",
    authorisations_panel,
    order=24,
)
register_action("expire_authorisation", expire_authorisation)
