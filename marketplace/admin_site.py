"""The Django admin behind the staff rules (marketplace/staff.py) and the audit log.

- Signing in to the admin goes through the site's own login (allauth), so the second factor is
  asked; the admin's password-only login form is never shown.
- Every admin page needs a staff account with a second factor; every POST (an edit, an action
  such as a suspension or a replay) needs it checked recently.
- Every ModelAdmin registered here is audited: add, change and delete write an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.db.models.base import ModelBase
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from marketplace.audit.admin_support import AuditedAdminMixin
from marketplace.staff import staff_gate


class StaffAdminSite(admin.AdminSite):
    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            stop = staff_gate(request)
            if stop is not None:
                return stop
            response: HttpResponse = view(request, *args, **kwargs)
            return response

        gated.__name__ = getattr(view, "__name__", "admin_view")
        gated.__doc__ = view.__doc__
        for attr in ("csrf_exempt", "login_required"):
            if hasattr(view, attr):
                setattr(gated, attr, getattr(view, attr))
        return super().admin_view(gated, cacheable)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        login: Callable[..., HttpResponse] = secure_admin_login(super().login)
        return login(request, extra_context)

    def register(
        self,
        model_or_iterable: ModelBase | Iterable[ModelBase],
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedAdminMixin):
            base = type(base.__name__, (AuditedAdminMixin, base), {"__module__": base.__module__})
        super().register(model_or_iterable, base, **options)
