"""Where the action being audited comes from: a request (its user and address), a management
command, or the system. Set once per request by AuditOriginMiddleware and per command by
``audit_origin``; ``audit_record`` reads it, so services need no request parameter."""

from __future__ import annotations

import getpass
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest


@dataclass(frozen=True)
class AuditOrigin:
    via: str
    user: Any = None
    ip_address: str | None = None
    label: str = ""


_SYSTEM = AuditOrigin(via="system", label="system")
_current: ContextVar[AuditOrigin] = ContextVar("audit_origin", default=_SYSTEM)


def current_origin() -> AuditOrigin:
    return _current.get()


@contextmanager
def audit_origin(
    *, via: str, user: Any = None, ip_address: str | None = None, label: str = ""
) -> Iterator[AuditOrigin]:
    """Audit everything inside as coming from ``via`` (web, admin, command, system)."""
    origin = AuditOrigin(via=via, user=user, ip_address=ip_address, label=label)
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


@contextmanager
def command_origin(command: str) -> Iterator[AuditOrigin]:
    """Audit everything inside as done by ``manage.py <command>`` and the shell user running it."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):
        who = "unknown user"
    with audit_origin(via="command", label=f"manage.py {command} ({who})") as origin:
        yield origin


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind AUDIT_TRUSTED_PROXIES reverse proxies the
    address the outermost trusted proxy saw (counted from the right of X-Forwarded-For, so a
    client cannot choose it). None when it is not an IP address."""
    candidate = request.META.get("REMOTE_ADDR", "")
    proxies = settings.AUDIT_TRUSTED_PROXIES
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
