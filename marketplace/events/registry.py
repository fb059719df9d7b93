"""The handler registry: one handler per Stripe event type, filled by the apps at start-up.

Apps register in their ``AppConfig.ready()`` by importing a ``handlers`` module::

    from marketplace.events.registry import handles

    @handles("account.updated")
    def on_account_updated(event: StripeEvent) -> None: ...

A handler runs inside one database transaction per event; raising rolls its effects back and the
event is retried. Handlers must be idempotent and safe out of order.

Events of one claimed batch about the same object (several ``payout.*`` of one payout, the
``charge.*``, ``refund.*``, ``transfer.*`` of one charge ...) can be handled together when the
handler syncs state from the newest snapshot anyway: an app registers a group handler with
``handles_together(types, key=...)``; the pipeline calls it once with every event of the batch
sharing a key (more than one), and they succeed or fail together. Alone, an event goes to its
handler as usual.

Work a handler leaves for later, to be done for many events at once (one Stripe request for a
batch's worth instead of one per event), runs in an after-batch hook: ``after_batch(func)``
registers ``func()``, called by ``events_drain`` after each non-empty batch, outside the batch's
transaction (its events are committed). A hook must cost nothing when it has nothing to do (a
flag its handlers set, not a query); one that raises is logged and never fails events
or the drain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


GroupHandler = Callable[[list["StripeEvent"]], None]
GroupKey = Callable[["StripeEvent"], str | None]

_groups: dict[str, tuple[GroupKey, GroupHandler]] = {}


def handles_together(*event_types: str, key: GroupKey) -> Callable[[GroupHandler], GroupHandler]:
    """Register the decorated ``func(events)`` to handle at once the events of ``event_types``
    of one batch for which ``key(event)`` is the same (not None). Each type keeps its handler
    (``handles``) for an event alone; the group handler must leave the same state as that
    handler run on each event in any order."""

    def register(func: GroupHandler) -> GroupHandler:
        for event_type in event_types:
            existing = _groups.get(event_type)
            if existing is not None and existing[1] is not func:
                raise DuplicateHandler(f"{event_type} already handled together elsewhere")
            _groups[event_type] = (key, func)
        return func

    return register


def group_of(event: StripeEvent) -> tuple[GroupHandler, str] | None:
    """The group handler of ``event`` and its key, or None (handled alone)."""
    found = _groups.get(event.type)
    if found is None or _handlers.get(event.type) is None:
        return None
    key = found[0](event)
    return (found[1], key) if key else None


def registered_types() -> list[str]:
    return sorted(_handlers)


@contextmanager
def handlers_replaced(handlers: dict[str, Handler]) -> Iterator[None]:
    """Swap the whole registry for ``handlers`` while the block runs (tests and benchmarks); no
    group handlers meanwhile."""
    saved, saved_groups = dict(_handlers), dict(_groups)
    _handlers.clear()
    _handlers.update(handlers)
    _groups.clear()
    try:
        yield
    finally:
        _handlers.clear()
        _handlers.update(saved)
        _groups.clear()
        _groups.update(saved_groups)


# --- After each batch ---------------------------------------------------------------------------

AfterBatch = Callable[[], None]

_after_batch: list[AfterBatch] = []


def after_batch(func: AfterBatch) -> AfterBatch:
    """Register ``func()`` to run after each non-empty batch of ``events_drain``, outside its
    transaction (see the module docstring). Registering the same function twice keeps one."""
    if func not in _after_batch:
        _after_batch.append(func)
    return func


def after_batch_hooks() -> list[AfterBatch]:
    return list(_after_batch)


@contextmanager
def after_batch_replaced(hooks: list[AfterBatch]) -> Iterator[None]:
    """Swap the after-batch hooks while the block runs (tests)."""
    saved = list(_after_batch)
    _after_batch[:] = hooks
    try:
        yield
    finally:
        _after_batch[:] = saved


# --- Connected accounts to poll for missed events ----------------------------------------------
#
# Missed-event recovery lists each connected account's recent events. The core does not know the
# apps' models, so an app registers a provider returning the account ids worth polling (e.g. the
# sellers app: every seller with a Stripe account). With no provider registered, recovery asks
# Stripe (``accounts.list``) for every connected account.

AccountsProvider = Callable[[], Iterable[str]]

_account_providers: list[AccountsProvider] = []


def polls_accounts(func: AccountsProvider) -> AccountsProvider:
    """Register ``func() -> Iterable[str]`` (connected account ids) for missed-event recovery."""
    if func not in _account_providers:
        _account_providers.append(func)
    return func


def account_providers() -> list[AccountsProvider]:
    return list(_account_providers)


@contextmanager
def account_providers_replaced(providers: list[AccountsProvider]) -> Iterator[None]:
    """Swap the account providers while the block runs (tests)."""
    saved = list(_account_providers)
    _account_providers[:] = providers
    try:
        yield
    finally:
        _account_providers[:] = saved
