"""Who may move the platform's money: staff with a second factor, checked recently.

Two rules, for every staff page and the Django admin:

1. A staff account without two-factor authentication (an authenticator app or a security key,
   allauth's MFA) is sent to enrol, with a message saying why; it never sees the page.
2. A money action (any request that is not GET/HEAD/OPTIONS: a refund, a fee rule, a
   suspension, a replay, a reconciliation run, an admin edit) also needs the second factor
   checked within ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds: at sign-in, or by
   re-authenticating with a code. Otherwise the request is suspended, the person enters a code,
   and the request then goes through (allauth's re-authentication flow).

Non-staff users pass through unchanged: sellers refund their own sales, and the views' selectors
keep answering 404 to anyone who is not staff on a staff page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.exceptions import ReauthenticationRequired
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
ENROL_MESSAGE = (
    "Staff pages move the platform's money, so they need two-factor authentication. "
    "Set up an authenticator app (or a security key) below, then open the page again."
)


def has_second_factor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when ``user`` has an authenticator app (TOTP) or a security key (WebAuthn)."""
    if not user.is_authenticated:
        return False
    return bool(is_mfa_enabled(user, types=SECOND_FACTORS))


def second_factor_checked_at(request: HttpRequest) -> float | None:
    """When this session last passed a second-factor check (sign-in or re-authentication),
    as a Unix time; None if it never did."""
    records = get_authentication_records(request, cast(AbstractBaseUser, request.user))
    times = [float(r["at"]) for r in records if r.get("method") == "mfa" and "at" in r]
    return max(times) if times else None


def second_factor_is_recent(request: HttpRequest) -> bool:
    checked_at = second_factor_checked_at(request)
    if checked_at is None:
        return False
    return time.time() - checked_at < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT


def staff_gate(request: HttpRequest) -> HttpResponseBase | None:
    """The response that stops a staff member who may not go on (None: go on).

    Enrol first (rule 1), then a recent second factor for an unsafe method (rule 2: raises
    allauth's ReauthenticationRequired, which its middleware turns into the code prompt and a
    replay of the suspended request).
    """
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return None
    if not has_second_factor(user):
        messages.warning(request, ENROL_MESSAGE)
        return HttpResponseRedirect(reverse("mfa_index"))
    if request.method not in SAFE_METHODS and not second_factor_is_recent(request):
        raise ReauthenticationRequired()
    return None


def staff_second_factor[View: Callable[..., HttpResponseBase]](view: View) -> View:
    """Decorate a view that staff use to see or move money (see the module docstring)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        stop = staff_gate(request)
        if stop is not None:
            return stop
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """allauth's adapter; re-authentication asks for the second factor first when the person
    has one (a password alone does not count as a recent second factor for money actions)."""

    def get_reauthentication_methods(self, user: Any) -> list[dict[str, Any]]:
        methods: list[dict[str, Any]] = super().get_reauthentication_methods(user)
        second = [m for m in methods if str(m.get("id", "")).startswith("mfa_reauthenticate")]
        return second + [m for m in methods if m not in second]
