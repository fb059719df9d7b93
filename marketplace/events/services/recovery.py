"""Missed-event recovery: list recent events from Stripe and store those we never received."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from marketplace import stripe_gateway
from marketplace.events.registry import account_providers
from marketplace.events.services._common import Source
from marketplace.events.services.intake import IntakeError, event_store
from marketplace.events.services.wakeup import wake_workers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryResult:
    listed: int
    stored: int
    accounts: int
    errors: list[str]


def accounts_to_poll() -> list[str]:
    """Connected accounts whose events recovery lists: from the registered providers, or Stripe."""
    providers = account_providers()
    accounts: set[str] = set()
    if providers:
        for provider in providers:
            accounts.update(a for a in provider() if a)
    else:
        accounts.update(stripe_gateway.connected_account_ids())
    return sorted(accounts)


def events_recover(*, since: datetime, accounts: Iterable[str] | None = None) -> RecoveryResult:
    """List events created since ``since`` from Stripe and store those we never received.

    Covers the platform and each connected account (``accounts``, default ``accounts_to_poll()``).
    Stored events get source ``recovered`` and are processed like any other. An account whose
    listing fails is reported in ``errors`` and the others go on. Side effects: Stripe list calls
    (read-only), inserts, one wake-up.
    """
    created_gte = int(since.timestamp())
    errors: list[str] = []
    listed = stored = 0
    targets: list[str | None] = [None]
    try:
        targets += list(accounts_to_poll() if accounts is None else accounts)
    except stripe_gateway.GatewayError as exc:
        errors.append(f"listing connected accounts: {exc}")
    for account in targets:
        try:
            for event in stripe_gateway.event_list(created_gte=created_gte, account=account):
                listed += 1
                try:
                    if event_store(event=event, source=Source.RECOVERED, account=account or ""):
                        stored += 1
                except IntakeError as exc:
                    errors.append(f"{event.get('id')}: {exc}")
        except stripe_gateway.GatewayError as exc:
            errors.append(f"{account or 'platform'}: {exc}")
    if stored:
        logger.info("recovered %d missed Stripe events", stored)
        wake_workers()
    for error in errors:
        logger.warning("event recovery: %s", error)
    return RecoveryResult(listed=listed, stored=stored, accounts=len(targets) - 1, errors=errors)
