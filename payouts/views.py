"""Views of the payouts app: they parse, call one service or selector, render."""

from __future__ import annotations

import csv
import functools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace import stripe_gateway
from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.staff import staff_second_factor
from payouts import selectors, services, tasks
from payouts.charts import daily_bar_chart
from payouts.forms import (
    EvidenceForm,
    FeeRuleForm,
    FeeSimulatorForm,
    ReconcileForm,
    RefundForm,
    TransferFilterForm,
)
from payouts.models import RefundRequest, SellerBalance
from payouts.order_refund_steps import RefundPage, order_refund_steps, proposed_by_link
from payouts.reconciliation import reconciliation_request
from sellers import fees
from sellers.models import FeeRule, Seller
from subscriptions import selectors as subscription_selectors


def _staff_only(user: Any) -> None:
    """404 for anyone but platform staff (the staff pages do not exist for them)."""
    if not selectors.is_staff(user):
        raise Http404("No such page")


def _seller_of(user: Any) -> Seller:
    """The seller profile of ``user``; 404 for anyone who is not a seller."""
    seller = selectors.seller_of(user)
    if seller is None:
        raise Http404("No such page")
    return seller


# --- Fee rules (staff) ------------------------------------------------------------------------


@login_required
@require_GET
@staff_second_factor
def fee_rules(request: HttpRequest) -> HttpResponse:
    _staff_only(request.user)
    lineages = selectors.fee_rule_lineages(user=request.user)
    return render(
        request,
        "payouts/fee_rules.html",
        {
            "lineages": lineages,
            "default_bps": settings.MARKETPLACE_DEFAULT_FEE_BPS,
            "default_fixed": settings.MARKETPLACE_DEFAULT_FEE_FIXED,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def fee_rule_new(request: HttpRequest) -> HttpResponse:
    _staff_only(request.user)
    previous: FeeRule | None = None
    raw_previous = request.GET.get("supersedes") or request.POST.get("supersedes")
    if raw_previous:
        if not raw_previous.isdigit():
            return redirect("payouts:fee_rules")
        previous = selectors.fee_rule_for_staff(user=request.user, rule_id=int(raw_previous))
        if previous is None:
            raise Http404("No such fee rule")
    currencies = list(settings.MARKETPLACE_CURRENCIES)
    if previous is not None:
        currencies += [c for c in previous.currencies if c not in currencies]
    if request.method == "POST":
        form = FeeRuleForm(request.POST, currencies=currencies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rule = fees.fee_rule_create(
                    actor=request.user,
                    scope=data["scope"],
                    seller=data.get("seller"),
                    category=data.get("category"),
                    starts_on=data["starts_on"],
                    bps=data["bps"],
                    currencies=data["currencies"],
                    fixed_fees=data["fixed_fees"],
                    minimums=data["minimums"],
                    maximums=data["maximums"],
                    supersedes=previous,
                    note=data.get("note") or "",
                )
            except fees.FeeRuleError as exc:
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
            else:
                messages.success(request, f"Saved: {rule}.")
                return redirect("payouts:fee_rules")
    else:
        initial = FeeRuleForm.initial_from(previous) if previous else {}
        form = FeeRuleForm(initial=initial, currencies=currencies)
    return render(request, "payouts/fee_rule_form.html", {"form": form, "previous": previous})


@login_required
@require_POST
@staff_second_factor
def fee_rule_retire(request: HttpRequest, rule_id: int) -> HttpResponse:
    _staff_only(request.user)
    rule = selectors.fee_rule_for_staff(user=request.user, rule_id=rule_id)
    if rule is None:
        raise Http404("No such fee rule")
    try:
        fees.fee_rule_retire(actor=request.user, rule=rule, note=request.POST.get("note", ""))
    except fees.FeeRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Retired the {rule.target_label.lower()} rule.")
    return redirect("payouts:fee_rules")


@login_required
@require_GET
@staff_second_factor
def fee_simulate(request: HttpRequest) -> HttpResponse:
    """A staff page: quote the fee of a sale; the quote partial updates live through htmx."""
    _staff_only(request.user)
    form = FeeSimulatorForm(request.GET or None)
    quote = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        quote = fees.fee_quote(
            amount=data["money"], seller=data.get("seller"), category=data.get("category")
        )
    template = "payouts/fee_simulate.html"
    if getattr(request, "htmx", False):
        template += "#quote"
    return render(request, template, {"form": form, "quote": quote})


# --- Seller balance ---------------------------------------------------------------------------

CSV_HEADER = [
    "date",
    "kind",
    "stripe_object_id",
    "order_id",
    "account",
    "amount",
    "currency",
    "description",
]


def _balance_context(request: HttpRequest) -> dict[str, Any]:
    seller = _seller_of(request.user)
    request.user.seller = seller  # type: ignore[union-attr]  # cache for the nav: no extra query
    balance = selectors.seller_balance_row(seller=seller) or SellerBalance(seller=seller)
    today = timezone.now().date()
    rows = [
        {
            "currency": currency,
            "ledger": balance.ledger_total(currency),
            "paid_out": int(balance.paid_out.get(currency, 0)),
            "available": balance.stripe_available.get(currency),
            "pending": balance.stripe_pending.get(currency),
            "disagrees": currency in balance.disagreements(),
        }
        for currency in balance.currencies()
    ]
    charts = [
        daily_bar_chart(values=days, currency=currency, today=today, days=30)
        for currency, days in sorted(balance.earnings_by_day.items())
    ]
    return {
        "seller": seller,
        "balance": balance,
        "rows": rows,
        "disagreements": balance.disagreements(),
        "charts": charts,
    }


@login_required
@require_GET
def balance(request: HttpRequest) -> HttpResponse:
    """The seller's money: Stripe's balance and the ledger's, payouts, earnings chart."""
    context = _balance_context(request)
    context["payouts"] = list(selectors.seller_payouts(seller=context["seller"])[:20])
    negative = [
        row["currency"]
        for row in context["rows"]
        if (row["available"] is not None and row["available"] < 0) or row["ledger"] < 0
    ]
    context["negative"] = negative
    if negative:
        context["taken_back"] = selectors.seller_taken_back(seller=context["seller"])
    return render(request, "payouts/balance.html", context)


@login_required
@require_POST
def balance_refresh(request: HttpRequest) -> HttpResponse:
    """Re-read the balance from Stripe now; htmx swaps the balance card, others redirect."""
    seller = _seller_of(request.user)
    error = None
    try:
        services.seller_balance_refresh(seller_id=seller.pk)
    except UserFacingError as exc:
        error = exc.message
    if getattr(request, "htmx", False):
        context = _balance_context(request)
        context["refresh_error"] = error
        return render(request, "payouts/balance.html#stripe-balance", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Balance refreshed from Stripe.")
    return redirect("payouts:balance")


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def balance_export(request: HttpRequest) -> StreamingHttpResponse:
    """The seller's ledger entries as CSV, streamed (memory flat in the number of entries)."""
    seller = _seller_of(request.user)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for entry in selectors.seller_ledger_entries(seller=seller).iterator(chunk_size=2000):
            txn = entry.transaction
            yield writer.writerow(
                [
                    txn.occurred_at.isoformat(),
                    txn.kind,
                    txn.stripe_object_id,
                    txn.order_id or "",
                    entry.account.rsplit(":", 1)[1],
                    Money(entry.amount, entry.currency).major_str(),
                    entry.currency.upper(),
                    txn.description,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"{seller.slug}-ledger-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Transfer review (staff) --------------------------------------------------------------------


def _transfers(request: HttpRequest) -> tuple[TransferFilterForm, Any]:
    form = TransferFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "seller_id": data["seller"].pk if data.get("seller") else None,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "status": data.get("status") or "",
            "currency": data.get("currency") or "",
        }
    return form, selectors.transfers_for_review(user=request.user, **filters)


@login_required
@require_GET
@staff_second_factor
def transfers(request: HttpRequest) -> HttpResponse:
    """Every transfer with seller, order, amount, fee, status; filters, totals, CSV."""
    _staff_only(request.user)
    form, qs = _transfers(request)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "payouts/transfers.html",
        {
            "form": form,
            "page": page,
            "totals": selectors.transfer_totals(qs),
            "query": query.urlencode(),
            "statuses": selectors.TRANSFER_STATUSES,
            "waiting": selectors.transfers_waiting(user=request.user)[:100],
            "reversals_waiting": selectors.reversals_waiting(user=request.user)[:100],
        },
    )


@login_required
@require_GET
@staff_second_factor
def transfers_export(request: HttpRequest) -> StreamingHttpResponse:
    _staff_only(request.user)
    _, qs = _transfers(request)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(
            [
                "created",
                "transfer_id",
                "charge_id",
                "order_id",
                "seller_id",
                "seller",
                "amount",
                "fee",
                "reversed",
                "currency",
                "status",
            ]
        )
        for t in qs.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    t.occurred_at.isoformat(),
                    t.stripe_object_id,
                    t.charge_id,
                    t.order_id or "",
                    t.seller_id or "",
                    t.seller.display_name if t.seller else "",
                    Money(t.amount or 0, t.currency or "eur").major_str(),
                    Money(t.fee or 0, t.currency or "eur").major_str(),
                    Money(t.reversed_amount or 0, t.currency or "eur").major_str(),
                    (t.currency or "").upper(),
                    t.status,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="transfers-{timezone.now():%Y%m%d}.csv"'
    )
    return response


@login_required
@require_GET
@staff_second_factor
def transfer_detail(request: HttpRequest, transaction_id: int) -> HttpResponse:
    """One transfer and everything that happened to its charge: fee, refunds, reversals, disputes."""
    _staff_only(request.user)
    transfer = get_object_or_404(
        selectors.transfers_for_review(user=request.user), pk=transaction_id
    )
    movements = (
        selectors.charge_movements(user=request.user, charge_id=transfer.charge_id)
        if transfer.charge_id
        else []
    )
    disputes = (
        selectors.disputes_for_staff(user=request.user).filter(charge_id=transfer.charge_id)
        if transfer.charge_id
        else []
    )
    return render(
        request,
        "payouts/transfer_detail.html",
        {"transfer": transfer, "movements": movements, "disputes": disputes},
    )


# --- Disputes (staff) ---------------------------------------------------------------------------


@login_required
@require_GET
@staff_second_factor
def disputes(request: HttpRequest) -> HttpResponse:
    _staff_only(request.user)
    items = selectors.disputes_for_staff(user=request.user)
    return render(
        request,
        "payouts/disputes.html",
        {
            "open": [d for d in items if d.is_open],
            "closed": [d for d in items if not d.is_open][:50],
            "now": timezone.now(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = get_object_or_404(selectors.disputes_for_staff(user=request.user), pk=dispute_id)
    form = EvidenceForm(request.POST or None, initial={"text": dispute.evidence_text})
    if request.method == "POST" and form.is_valid():
        try:
            services.dispute_submit_evidence(
                actor=request.user, dispute_id=dispute.pk, text=form.cleaned_data["text"]
            )
        except UserFacingError as exc:
            form.add_error("text" if exc.field == "text" else None, exc.message)
        else:
            messages.success(request, "Evidence sent to the bank through Stripe.")
            return redirect("payouts:dispute_detail", dispute_id=dispute.pk)
    return render(request, "payouts/dispute_detail.html", {"dispute": dispute, "form": form})


@login_required
@require_POST
def sale_dispute_answer(request: HttpRequest, order_id: int) -> HttpResponse:
    """The seller answers the dispute on one of their sales, from the sale page: text and files.
    A refusal shows this form again with the text kept (browsers cannot keep chosen files)."""
    dispute = selectors.sale_dispute(user=request.user, order_id=order_id)
    if dispute is None:
        raise Http404("No dispute on this sale")
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.dispute_submit_evidence(
                actor=request.user,
                dispute_id=dispute.pk,
                text=form.cleaned_data["text"],
                files=form.evidence_files(),
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, "Your answer went to the buyer's bank; you will be emailed its decision."
            )
            return redirect("buyers:sale_detail", pk=order_id)
    return render(
        request,
        "payouts/dispute_answer.html",
        {"form": form, "dispute": dispute, "order_id": order_id},
        status=400,
    )


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def reconciliation(request: HttpRequest) -> HttpResponse:
    """Staff: the latest reconciliation reports (a queued or running one refreshes itself every
    2 s with its progress), failed payouts, and a form that runs one now (audited, queued)."""
    _staff_only(request.user)
    # Days by Stripe's clock: the sandbox's may have been advanced, and Stripe's objects carry it.
    today = datetime.fromtimestamp(stripe_gateway.stripe_now(), tz=UTC).date()
    form = ReconcileForm(
        request.POST or None, initial={"start_day": today - timedelta(days=1), "end_day": today}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                reconciliation_request(
                    start_day=form.cleaned_data["start_day"],
                    end_day=form.cleaned_data["end_day"],
                    actor=request.user,
                )
            except UserFacingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Reconciliation queued; its progress shows below.")
                return redirect("payouts:reconciliation")
        status = 400
    runs = list(
        selectors.reconciliation_runs(user=request.user).select_related("requested_by")[:20]
    )
    context = {
        "form": form,
        "runs": runs,
        "busy": any(run.status in ("queued", "running") for run in runs),
        "failed_payouts": selectors.failed_payouts_for_staff(user=request.user)[:50],
    }
    if getattr(request, "htmx", False) and request.method == "GET":
        return render(request, "payouts/reconciliation.html#runs", context)
    return render(request, "payouts/reconciliation.html", context, status=status)


# --- Refunds (sellers: their own sales within the window; staff: any) ----------------------------


@login_required
@require_GET
@staff_second_factor
def refunds(request: HttpRequest) -> HttpResponse:
    if not selectors.is_staff(request.user):
        _seller_of(request.user)  # 404 for anyone who is neither staff nor a seller
    sales = list(selectors.refundable_sales_listed(user=request.user)[:50])
    requests = selectors.refund_requests_for(user=request.user)[:50]
    problems = list(selectors.problem_reports_for(user=request.user)[:50])
    return render(
        request,
        "payouts/refunds.html",
        {"sales": sales, "requests": requests, "problems": problems},
    )


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def refund_new(request: HttpRequest, charge_id: str) -> HttpResponse:
    sale = get_object_or_404(
        selectors.refundable_sales(user=request.user), stripe_object_id=charge_id
    )
    refundable = services.refundable_of(charge_id=charge_id)
    if refundable is None:
        raise Http404("No such sale")
    invoice_id = subscription_selectors.invoice_id_of_charge(charge_id=charge_id)
    if invoice_id is not None:  # a subscription invoice: refunded from its own page
        return redirect("payouts:invoice_refund", invoice_id=invoice_id)
    if sale.seller is None:
        # A several-seller charge: staff refund one seller's order of it (its share reversed).
        orders = selectors.orders_of_separate_charge(user=request.user, charge_id=charge_id)
        if orders:
            return render(
                request,
                "payouts/refund_orders.html",
                {
                    "sale": sale,
                    "refundable": refundable,
                    "orders": [(o, services.order_refundable(order=o)) for o in orders],
                },
            )
    form = RefundForm(
        request.POST or None,
        currency=refundable.currency,
        staff=request.user.is_staff,
        initial={
            "client_token": uuid.uuid4(),
            "amount": Money(refundable.remaining, refundable.currency).major_str(),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            refund = services.refund_request_create(
                actor=request.user,
                charge_id=charge_id,
                amount=data["amount"],
                reason=data["reason"],
                note=data.get("note") or "",
                client_token=data["client_token"],
                platform_covers=bool(data.get("platform_covers")),
            )
        except UserFacingError as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        except PermissionDenied:
            raise Http404("No such sale") from None
        else:
            if (
                refund.status == RefundRequest.Status.SUCCEEDED
                and refund.seller is not None
                and refund.seller.user_id != request.user.pk
            ):
                # Staff refunded someone else's sale: the seller hears it from us.
                transaction.on_commit(
                    functools.partial(tasks.send_staff_refund_email.delay, refund.pk)
                )
            messages.success(
                request, f"Refund of {Money(data['amount'], refundable.currency)} sent to Stripe."
            )
            return redirect("payouts:refunds")
    held = None
    if sale.seller is not None:
        row = selectors.seller_balance_row(seller=sale.seller)
        held = row.ledger_total(refundable.currency) if row else 0
    return render(
        request,
        "payouts/refund_form.html",
        {"form": form, "sale": sale, "refundable": refundable, "seller_holds": held},
    )


@login_required
@require_http_methods(["GET", "POST"])
def sale_refund(request: HttpRequest, order_id: int) -> HttpResponse:
    """The seller refunds (part of) their own order from its sale page, in two steps: the form
    (everything, an amount or some items), then a confirmation naming the amount and what it
    takes back from their balance; only the confirmed POST (``confirm``) reaches Stripe.
    Another seller's order (of the same purchase too) is a 404."""
    order = selectors.sale_to_refund(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such sale")
    paid_at = order.paid_at or order.created_at

    def refund(data: dict[str, Any], amount: int) -> str:
        made = services.sale_refund_create(
            actor=request.user,
            order_id=order.pk,
            amount=data["refund_amount"],
            lines=data["refund_lines"],
            reason=data["reason"],
            note=data.get("note") or "",
            client_token=data["client_token"],
        )
        # A request the buyer has waiting on this order is granted by this refund.
        services.problem_reports_settle(actor=request.user, order_id=order.pk, refund=made)
        return f"Refund of {Money(amount, order.currency)} sent to Stripe."

    return order_refund_steps(
        request,
        order,
        page=RefundPage(
            template="payouts/sale_refund.html",
            confirm_template="payouts/sale_refund_confirm.html",
            back=reverse("buyers:sale_detail", kwargs={"pk": order.pk}),
            not_found="No such sale",
        ),
        refund=refund,
        proposed=proposed_by_link(request),
        context={
            "window_passed": paid_at + settings.MARKETPLACE_REFUND_WINDOW < timezone.now(),
            "window_days": settings.MARKETPLACE_REFUND_WINDOW.days,
        },
    )


@login_required
@require_GET
@staff_second_factor
def dashboard(request: HttpRequest) -> HttpResponse:
    """Staff: money per day (gross volume, fees, refunds, disputes), open disputes, failed
    payouts and failed events."""
    _staff_only(request.user)
    daily = selectors.dashboard_daily(user=request.user, days=30)
    today = timezone.now().date()
    charts = [
        (currency, name, daily_bar_chart(values=values, currency=currency, today=today, days=30))
        for currency, series in sorted(daily.items())
        for name, values in series.items()
        if any(values.values())  # a series with no money moved says nothing
    ]
    return render(
        request,
        "payouts/dashboard.html",
        {
            "charts": charts,
            "open_disputes_count": selectors.open_disputes_for_staff(user=request.user).count(),
            "failed_payouts": selectors.failed_payouts_for_staff(user=request.user)[:20],
            "in_debt": selectors.sellers_in_debt(user=request.user),
            "failed_events": selectors.failed_events_count(user=request.user),
            # Subscriptions: MRR, new and churned over 30 days, past due (staff checked above).
            "subscription_figures": subscription_selectors.platform_figures(),
        },
    )
