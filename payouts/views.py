"""Views of the payouts app: they parse, call one service or selector, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.fees import fee_quote
from payouts import selectors, services
from payouts.forms import FeeRuleForm, FeeSimulatorForm
from payouts.models import FeeRule

# --- Fee rules (staff) ------------------------------------------------------------------------


@login_required
@require_GET
def fee_rules(request: HttpRequest) -> HttpResponse:
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
def fee_rule_new(request: HttpRequest) -> HttpResponse:
    selectors.staff_only(request.user)
    previous: FeeRule | None = None
    raw_previous = request.GET.get("supersedes") or request.POST.get("supersedes")
    if raw_previous:
        if not raw_previous.isdigit():
            return redirect("payouts:fee_rules")
        previous = get_object_or_404(FeeRule, pk=int(raw_previous))
    currencies = list(settings.MARKETPLACE_CURRENCIES)
    if previous is not None:
        currencies += [c for c in previous.currencies if c not in currencies]
    if request.method == "POST":
        form = FeeRuleForm(request.POST, currencies=currencies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                rule = services.fee_rule_create(
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
            except services.FeeRuleError as exc:
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
def fee_rule_retire(request: HttpRequest, rule_id: int) -> HttpResponse:
    selectors.staff_only(request.user)
    rule = get_object_or_404(FeeRule, pk=rule_id)
    try:
        services.fee_rule_retire(actor=request.user, rule=rule, note=request.POST.get("note", ""))
    except services.FeeRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Retired the {rule.target_label.lower()} rule.")
    return redirect("payouts:fee_rules")


@login_required
@require_GET
def fee_simulate(request: HttpRequest) -> HttpResponse:
    """A staff page: quote the fee of a sale; the quote partial updates live through htmx."""
    selectors.staff_only(request.user)
    form = FeeSimulatorForm(request.GET or None)
    quote = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        quote = fee_quote(
            amount=data["money"], seller=data.get("seller"), category=data.get("category")
        )
    template = "payouts/fee_simulate.html"
    if getattr(request, "htmx", False):
        template += "#quote"
    return render(request, template, {"form": form, "quote": quote})
