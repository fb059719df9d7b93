"""Pages of the after-sale for buyers and sellers: report a problem, escalate it, write in an
order's conversation, review, reply to a review, the seller's list of requests. Granting and
declining a request are refunds' business: ``payouts/aftersale_views.py``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from buyers import selectors as buyer_selectors
from buyers.aftersale import selectors, services
from buyers.aftersale.forms import MessageForm, ProblemForm, ReplyForm, ReviewForm
from buyers.aftersale.models import OrderMessage
from buyers.models import Order
from marketplace.errors import UserFacingError


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _form_error(form: Any, exc: UserFacingError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _buyer_order(request: HttpRequest, pk: int) -> Order:
    return get_object_or_404(buyer_selectors.buyer_orders(buyer=request.user), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def problem_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The buyer reports a problem with an order or asks for a refund."""
    order = _buyer_order(request, pk)
    form = ProblemForm(
        request.POST or None, currency=order.currency, lines=order.lines.order_by("pk")
    )
    active = selectors.active_problem(order=order)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.problem_report_create(
                    buyer=request.user,
                    order_id=order.pk,
                    reason=data["reason"],
                    message=data["message"],
                    wants_refund=data["wants_refund"],
                    amount=data["amount"],
                    lines=form.chosen_lines(),
                )
            except UserFacingError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Sent to the seller; you will be emailed their answer.")
                return _see_other(reverse("buyers:order_detail", args=[order.pk]))
        status = 400
    else:
        status = 200
    return render(
        request,
        "buyers/aftersale/problem_form.html",
        {"order": order, "form": form, "active": active},
        status=status,
    )


@login_required
@require_POST
def problem_escalate(request: HttpRequest, pk: int, report_id: int) -> HttpResponse:
    order = _buyer_order(request, pk)
    report = selectors.buyer_problem(buyer=request.user, report_id=report_id)
    if report is None or report.order_id != order.pk:
        raise Http404("No such request")
    try:
        services.problem_report_escalate(buyer=request.user, report_id=report.pk)
    except UserFacingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The platform team will read your request and decide.")
    return _see_other(reverse("buyers:order_detail", args=[order.pk]))


def _conversation_page(role: str, order: Order) -> str:
    if role == OrderMessage.Role.BUYER:
        return reverse("buyers:order_detail", args=[order.pk])
    if role == OrderMessage.Role.SELLER:
        return reverse("buyers:sale_detail", args=[order.pk])
    return reverse("buyers:order_messages", args=[order.pk])


@login_required
@require_http_methods(["GET", "POST"])
def order_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation of an order: its buyer, its seller, and staff while a dispute or a
    request is open (anyone else: 404). POST adds a message."""
    found = selectors.conversation_order(user=request.user, order_id=pk)
    if found is None:
        raise Http404("No such order")
    order, role = found
    form = MessageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.order_message_post(
                    author=request.user, order_id=order.pk, body=form.cleaned_data["body"]
                )
            except UserFacingError as exc:
                _form_error(form, exc)
            except PermissionDenied:
                raise Http404("No such order") from None
            else:
                messages.success(request, "Message sent; the other side has been emailed.")
                return _see_other(_conversation_page(role, order) + "#conversation")
        status = 400
    return render(
        request,
        "buyers/aftersale/messages.html",
        {
            "order": order,
            "role": role,
            "thread": selectors.order_messages(order=order),
            "form": form,
            "back": _conversation_page(role, order),
            "problems": selectors.order_problems(order=order),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The buyer rates and reviews a shipped order, once."""
    order = _buyer_order(request, pk)
    existing = selectors.order_review(order=order)
    form = ReviewForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.review_create(
                    buyer=request.user,
                    order_id=order.pk,
                    rating=form.cleaned_data["rating"],
                    body=form.cleaned_data["body"],
                )
            except UserFacingError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Thank you: your review is published.")
                return _see_other(reverse("buyers:order_detail", args=[order.pk]))
        status = 400
    return render(
        request,
        "buyers/aftersale/review_form.html",
        {"order": order, "form": form, "existing": existing},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """The seller replies, once, to the review of one of their sales."""
    seller = buyer_selectors.seller_for_user(request.user)
    order = get_object_or_404(buyer_selectors.seller_orders(seller=seller), pk=pk)
    review = selectors.order_review(order=order)
    if review is None:
        raise Http404("No review on this sale")
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.review_reply(
                    seller_user=request.user, review_id=review.pk, reply=form.cleaned_data["reply"]
                )
            except UserFacingError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Your reply is published under the review.")
                return _see_other(reverse("buyers:sale_detail", args=[order.pk]))
        status = 400
    return render(
        request,
        "buyers/aftersale/reply_form.html",
        {"order": order, "review": review, "form": form},
        status=status,
    )


@login_required
@require_GET
def sale_problems(request: HttpRequest) -> HttpResponse:
    """The seller's refund requests and problem reports, across their sales."""
    seller = buyer_selectors.seller_for_user(request.user)
    if seller is None:
        raise Http404("Not a seller")
    reports = list(selectors.seller_problems(seller=seller)[:100])
    return render(request, "buyers/aftersale/sale_problems.html", {"reports": reports})
