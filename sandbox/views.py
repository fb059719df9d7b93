"""HTTP face of the sandbox: the API at ``/sandbox/v1/...`` (like api.stripe.com), the hosted
pages that stand in for Stripe's (onboarding behind account links, the Express dashboard behind
login links) and the control page at ``/sandbox/``."""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sandbox import clock, store
from sandbox.dispatcher import SimulatedTimeout, handle
from sandbox.forms import OnboardingForm
from sandbox.ids import random_token
from sandbox.models import SandboxObject
from sandbox.panels import ACTIONS, CONTROL_PANELS, DASHBOARD_PANELS, ordered
from sandbox.resources import accounts


@csrf_exempt
def api(request: HttpRequest, path: str) -> HttpResponse:
    """Any method on ``/sandbox/v1/<path>``: handed to the dispatcher as ``/v1/<path>``."""
    headers = dict(request.headers.items())
    refused = _refuse_shape(request, path)
    if refused is not None:
        return refused
    full_path = f"/v1/{path}"
    if request.META.get("QUERY_STRING"):
        full_path += "?" + request.META["QUERY_STRING"]
    try:
        status, response_headers, body = handle(
            request.method or "GET", full_path, headers, request.body
        )
    except SimulatedTimeout:
        return HttpResponse(
            b'{"error": {"type": "api_error", "message": "Gateway timeout (injected fault)."}}',
            status=504,
            content_type="application/json",
        )
    response = HttpResponse(body.encode(), status=status)
    for key, value in response_headers.items():
        response[key] = value
    return response


_API_PATH = re.compile(r"[A-Za-z0-9_./-]{0,400}")


def _api_error(status: int, message: str) -> HttpResponse:
    body = {"error": {"type": "invalid_request_error", "message": message}}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def _refuse_shape(request: HttpRequest, path: str) -> HttpResponse | None:
    """What no Stripe request looks like, refused before the dispatcher stores anything (its
    request log and objects are bounded ASCII columns; PostgreSQL stores no NUL)."""
    if request.method not in {"GET", "POST", "DELETE"}:
        return _api_error(405, f"Unrecognized request URL ({request.method}: /v1/{path[:100]}).")
    if not _API_PATH.fullmatch(path):
        return _api_error(404, "Unrecognized request URL.")
    texts = [
        unquote_plus(request.META.get("QUERY_STRING", "")),
        unquote_plus(request.body.decode("utf-8", "replace")),
        *request.headers.values(),
    ]
    if any("\x00" in text for text in texts):
        return _api_error(400, "Invalid request: a NUL character is not allowed.")
    for header in ("Idempotency-Key", "Stripe-Account"):
        if len(request.headers.get(header, "")) > 255:
            return _api_error(400, f"Invalid request: the {header} header is longer than 255.")
    return None


# --- hosted onboarding (account links) ----------------------------------------------------------
@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest, token: str) -> HttpResponse:
    """The page behind an account link. The URL works once: the first GET consumes it and
    starts a form session; an expired or used link redirects to ``refresh_url``."""
    with transaction.atomic():
        row = (
            SandboxObject.objects.select_for_update()
            .filter(pk=f"al_{token}", object="account_link_token")
            .first()
        )
        if row is None:
            raise Http404("No such account link")
        link = row.data
        account = store.get(link["account"], object_type="account", include_deleted=True)
        if request.method == "GET":
            expired = clock.now() >= int(link["expires_at"])
            if row.private.get("used") or expired or account.get("deleted"):
                return HttpResponseRedirect(link["refresh_url"])
            session = random_token(24)
            row.private.update(used=True, session=session)
            store.save(row)
            form = OnboardingForm(
                initial={
                    "session": session,
                    "business_name": account["business_profile"].get("name") or "",
                    "email": account.get("email") or "",
                    "business_type": account.get("business_type") or "individual",
                }
            )
            return render(
                request, "sandbox/onboarding.html", _onboarding_context(link, account, form)
            )
        if request.POST.get("exit"):
            # Leaving without finishing: Stripe sends the user to return_url all the same.
            if request.POST.get("session") != row.private.get("session"):
                return HttpResponseRedirect(link["refresh_url"])
            row.private["session"] = None
            store.save(row)
            return HttpResponseRedirect(link["return_url"])
        form = OnboardingForm(request.POST)
        if request.POST.get("session") != row.private.get("session") or not row.private.get(
            "session"
        ):
            return HttpResponseRedirect(link["refresh_url"])
        if not form.is_valid():
            return render(
                request,
                "sandbox/onboarding.html",
                _onboarding_context(link, account, form),
                status=400,
            )
        data = form.cleaned_data
        accounts.apply_onboarding(
            link["account"],
            outcome=data["outcome"],
            business_name=data["business_name"],
            business_type=data["business_type"],
            account_number=data["account_number"],
            email=data["email"] or None,
        )
        row.private["session"] = None
        row.private["submitted"] = data["outcome"]
        store.save(row)
    return HttpResponseRedirect(link["return_url"])


def _onboarding_context(
    link: dict[str, Any], account: dict[str, Any], form: OnboardingForm
) -> dict[str, Any]:
    return {"link": link, "account": account, "form": form}


# --- Express dashboard (login links) --------------------------------------------------------------
@require_http_methods(["GET"])
def express(request: HttpRequest, token: str) -> HttpResponse:
    """The Express dashboard behind a login link (single use, expires after a few minutes)."""
    with transaction.atomic():
        row = (
            SandboxObject.objects.select_for_update()
            .filter(pk=f"ll_{token}", object="login_link_token")
            .first()
        )
        if row is None:
            raise Http404("No such login link")
        expired = clock.now() >= int(row.data["expires_at"])
        if row.private.get("used") or expired:
            return render(request, "sandbox/express_expired.html", status=410)
        row.private["used"] = True
        store.save(row)
        account_row = store.get_row(
            row.data["account"], object_type="account", include_deleted=True
        )
    panels = []
    for panel in ordered(DASHBOARD_PANELS):
        panels.append((panel, panel.context(account_row.id)))
    return render(
        request,
        "sandbox/express.html",
        {
            "account": account_row.data,
            "deauthorized": account_row.private.get("deauthorized"),
            "panels": panels,
        },
    )


# --- control page -------------------------------------------------------------------------------
def control_access(view: Any) -> Any:
    """Anyone when ``SANDBOX_CONTROL_OPEN`` (the default with DEBUG), else staff only (others
    are sent to the login page)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(settings, "SANDBOX_CONTROL_OPEN", False):
            return view(request, *args, **kwargs)  # type: ignore[no-any-return]
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.is_staff:
            raise PermissionDenied("The sandbox control page is for staff.")
        return view(request, *args, **kwargs)  # type: ignore[no-any-return]

    return wrapper


@require_http_methods(["GET"])
@control_access
def control(request: HttpRequest) -> HttpResponse:
    clock.run_due()
    panels = [(panel, panel.context(request)) for panel in ordered(CONTROL_PANELS)]
    return render(request, "sandbox/control.html", {"panels": panels})


@require_http_methods(["GET"])
@control_access
def panel(request: HttpRequest, name: str) -> HttpResponse:
    """One control panel alone (htmx refresh)."""
    found = CONTROL_PANELS.get(name)
    if found is None:
        raise Http404("No such panel")
    return render(
        request, "sandbox/control.html#panel", {"panel": found, "data": found.context(request)}
    )


@require_POST
@control_access
def action(request: HttpRequest, name: str) -> HttpResponse:
    handler = ACTIONS.get(name)
    if handler is None:
        raise Http404("No such action")
    try:
        message = handler(request)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message)
    return redirect("sandbox:control")
