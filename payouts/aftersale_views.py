"""Pages where a buyer's request is answered (the seller, or staff) and where staff moderate
reviews. Granting is a refund (``payouts.services.problem_refunds``); declining and hiding are
the after-sale's own services (``buyers.aftersale.services``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from buyers.aftersale import selectors as aftersale_selectors
from buyers.aftersale import services as aftersale
from buyers.aftersale.forms import DeclineForm, GrantForm, HideForm
from buyers.aftersale.models import ProblemReport
from marketplace.errors import UserFacingError
from marketplace.money import Money
from marketplace.staff import staff_second_factor
from payouts import selectors
from payouts.services.problem_refunds import problem_report_grant


def _report_for(user: Any, report_id: int) -> ProblemReport:
    """The report, for staff or for the seller of its order; 404 for anyone else."""
    report = aftersale_selectors.problems_for_staff(user=user).filter(pk=report_id).first()
    if report is None:
        report = aftersale_selectors.seller_problem(
            seller=selectors.seller_of(user), report_id=report_id
        )
    if report is None:
        raise Http404("No such request")
    return report


def _page(
    request: HttpRequest,
    report: ProblemReport,
    *,
    grant: GrantForm | None = None,
    decline: DeclineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    order = report.order
    staff = selectors.is_staff(request.user)
    remaining = order.amount - order.refunded_amount
    asked = report.amount or remaining
    grant = grant or GrantForm(
        currency=order.currency,
        staff=staff,
        initial={
            "client_token": uuid.uuid4(),
            "amount": Money(min(asked, remaining), order.currency).major_str(),
        },
    )
    return render(
        request,
        "payouts/problem_detail.html",
        {
            "report": report,
            "order": order,
            "remaining": remaining,
            "grant": grant,
            "decline": decline or DeclineForm(),
            "thread": aftersale_selectors.order_messages(order=order),
            "history": aftersale_selectors.order_problems(order=order).exclude(pk=report.pk),
            "is_staff_view": staff and order.seller.user_id != request.user.pk,
        },
        status=status,
    )


@login_required
@require_GET
@staff_second_factor
def problem_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    return _page(request, _report_for(request.user, report_id))


@login_required
@require_POST
@staff_second_factor
def problem_grant(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report_for(request.user, report_id)
    form = GrantForm(
        request.POST, currency=report.order.currency, staff=selectors.is_staff(request.user)
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            problem_report_grant(
                actor=request.user,
                report_id=report.pk,
                amount=data["amount"],
                client_token=data["client_token"],
                answer=data.get("answer") or "",
                platform_covers=bool(data.get("platform_covers")),
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            raise Http404("No such request") from None
        else:
            amount = Money(data["amount"], report.order.currency)
            messages.success(request, f"Refunded {amount}; the buyer has been emailed.")
            return redirect("payouts:problem_detail", report_id=report.pk)
    # A new token for the next try: a refund Stripe refused keeps its row under the old one.
    fresh = request.POST.copy()
    fresh["client_token"] = str(uuid.uuid4())
    form.data = fresh
    report.refresh_from_db()
    return _page(request, report, grant=form, status=400)


@login_required
@require_POST
@staff_second_factor
def problem_decline(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report_for(request.user, report_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            aftersale.problem_report_decline(
                actor=request.user, report_id=report.pk, answer=form.cleaned_data["answer"]
            )
        except UserFacingError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except PermissionDenied:
            raise Http404("No such request") from None
        else:
            messages.success(request, "Declined; the buyer has been emailed your reason.")
            return redirect("payouts:problem_detail", report_id=report.pk)
    return _page(request, report, decline=form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
@staff_second_factor
def reviews(request: HttpRequest) -> HttpResponse:
    """Staff: the latest reviews; hide an abusive one with a reason (audited)."""
    if not selectors.is_staff(request.user):
        raise Http404("No such page")
    form = HideForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            review = (
                aftersale_selectors.reviews_for_staff(user=request.user)
                .filter(pk=form.cleaned_data["review_id"])
                .first()
            )
            if review is None:
                raise Http404("No such review")
            try:
                aftersale.review_hide(
                    actor=request.user, review_id=review.pk, reason=form.cleaned_data["reason"]
                )
            except UserFacingError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Review of order #{review.order_id} hidden.")
                return redirect("payouts:reviews")
        status = 400
    latest = list(aftersale_selectors.reviews_for_staff(user=request.user)[:100])
    return render(request, "payouts/reviews.html", {"reviews": latest, "form": form}, status=status)
