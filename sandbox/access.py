"""Who may reach the sandbox from outside the process: the one opening rule.

The marketplace itself calls the sandbox in-process (``sandbox.client``), which needs no opening.
Every HTTP entry into the sandbox (the API at ``/sandbox/v1/``, the hosted pages, the control
page, and any server that exposes them) answers only when ``SANDBOX_HTTP_OPEN`` is on (the
default with DEBUG, i.e. ``make demo`` and the tests); otherwise it is a plain 404, as if the
sandbox were not there. When open, the API still requires the configured ``SANDBOX_SECRET_KEY``
(``key_matches``) and the control page follows ``SANDBOX_CONTROL_OPEN`` (anyone, or staff only).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

DEFAULT_SECRET_KEY = "sk_test_sandbox"


def http_open() -> bool:
    """Whether requests from outside may reach the sandbox at all (read on every request)."""
    return bool(getattr(settings, "SANDBOX_HTTP_OPEN", False))


def secret_key() -> str:
    """The sandbox's API secret key: the in-process client sends it, HTTP callers must."""
    return str(getattr(settings, "SANDBOX_SECRET_KEY", "") or DEFAULT_SECRET_KEY)


def key_matches(key: str) -> bool:
    """Constant-time comparison with the configured key (never "any key of the right shape")."""
    return hmac.compare_digest(key.encode("utf-8", "replace"), secret_key().encode())


View = Callable[..., HttpResponse]


def require_open(view: View) -> View:
    """Wrap a view so that it is a 404 unless ``http_open()``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not http_open():
            raise Http404("Not found")
        return view(request, *args, **kwargs)

    wrapper.sandbox_gated = True  # type: ignore[attr-defined]
    return wrapper
