"""The handler registry: one handler per Stripe event type, filled by the apps at start-up.

Apps register in their ``AppConfig.ready()`` by importing a ``handlers`` module::

    from marketplace.events.registry import handles

    @handles("account.updated")
    def on_account_updated(event: StripeEvent) -> None: ...

A handler runs inside one database transaction per event; raising rolls its effects back and the
event is retried. Handlers must be idempotent and safe out of order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marketplace.events.models import StripeEvent

Handler = Callable[["StripeEvent"], None]

_handlers: dict[str, Handler] = {}


class DuplicateHandler(RuntimeError):
    pass


def handles(*event_types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``event_types``."""

    def register(func: Handler) -> Handler:
        for event_type in event_types:
            existing = _handlers.get(event_type)
            if existing is not None and existing is not func:
                raise DuplicateHandler(
                    f"{event_type} already handled by {existing.__module__}.{existing.__qualname__}"
                )
            _handlers[event_type] = func
        return func

    return register


def handler_for(event_type: str) -> Handler | None:
    return _handlers.get(event_type)


def registered_types() -> list[str]:
    return sorted(_handlers)
