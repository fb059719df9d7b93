"""Panels of the sandbox control page (``/sandbox/``) and of the Express dashboard page, and
the control page's POST actions. Resource modules register their own, e.g. the payments
resources add a balances panel:

    from sandbox.panels import register_control_panel, register_dashboard_panel, register_action

    register_control_panel("balances", "Balances", "sandbox/panels/balances.html",
                           lambda request: {"balances": ...}, order=20)
    register_dashboard_panel("balance", "Balance", "sandbox/dashboard/balance.html",
                             lambda account_id: {...})
    register_action("pay_out_now", run_payouts)   # POST /sandbox/action/pay_out_now/
                                                  # handler(request) -> message for the page

A panel template receives its context dict as ``data`` (plus ``panel`` and ``request``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    name: str
    title: str
    template: str
    context: Callable[..., dict[str, Any]]
    order: int = 100


CONTROL_PANELS: dict[str, Panel] = {}
DASHBOARD_PANELS: dict[str, Panel] = {}
ACTIONS: dict[str, Callable[[HttpRequest], str]] = {}


def register_control_panel(
    name: str,
    title: str,
    template: str,
    context: Callable[[HttpRequest], dict[str, Any]],
    *,
    order: int = 100,
) -> None:
    CONTROL_PANELS[name] = Panel(name, title, template, context, order)


def register_dashboard_panel(
    name: str,
    title: str,
    template: str,
    context: Callable[[str], dict[str, Any]],
    *,
    order: int = 100,
) -> None:
    """A panel of the Express dashboard page; ``context(account_id)``."""
    DASHBOARD_PANELS[name] = Panel(name, title, template, context, order)


def register_action(name: str, handler: Callable[[HttpRequest], str]) -> None:
    """``handler(request)`` runs for ``POST /sandbox/action/<name>/`` (CSRF-protected) and
    returns the message shown on the control page; raise ``ValueError`` for bad input."""
    ACTIONS[name] = handler


def ordered(panels: dict[str, Panel]) -> list[Panel]:
    return sorted(panels.values(), key=lambda p: (p.order, p.name))
