from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketplace.audit import selectors
from marketplace.audit.forms import AuditFilterForm
from marketplace.staff import staff_second_factor


@login_required
@require_GET
@staff_second_factor
def audit_log(request: HttpRequest) -> HttpResponse:
    """Staff: the audit log with filters; htmx requests get the results partial only."""
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    qs = selectors.audit_entries(user=request.user, **filters)
    if qs is None:
        raise Http404("No such page")
    if form.is_bound and not form.is_valid():
        qs = qs.none()
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "audit/log.html"
    if getattr(request, "htmx", False):
        template += "#results"
    return render(request, template, {"form": form, "page": page, "query": query.urlencode()})
