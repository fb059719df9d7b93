"""Stripe event handlers of the sellers app (registered at start-up by SellersConfig.ready()).

Each runs in one transaction per event (the events pipeline's contract); raising retries it.
"""

from __future__ import annotations

from marketplace.events.models import StripeEvent
from marketplace.events.registry import handles, polls_accounts
from sellers import selectors, services


@handles("account.updated")
def on_account_updated(event: StripeEvent) -> None:
    """Mirror the connected account's status: from the event's account object when it is
    complete and newer than what we hold, otherwise re-read through the gateway (events arrive
    out of order; ``seller_account_updated``)."""
    account_id = event.account or str(event.data_object.get("id") or "")
    if account_id:
        services.seller_account_updated(
            account_id=account_id, event_created=event.created, payload=event.data_object
        )


@handles("account.application.deauthorized")
def on_account_deauthorized(event: StripeEvent) -> None:
    """The seller disconnected their account from the platform: we can no longer read it, so
    there is nothing to re-fetch; mark the seller disconnected and tell the admins."""
    if event.account:
        services.seller_mark_disconnected(account_id=event.account, event_created=event.created)


@polls_accounts
def connected_seller_accounts() -> list[str]:
    """Accounts whose events missed-event recovery lists: every connected seller's."""
    ids = selectors.sellers_to_sync().values_list("stripe_account_id", flat=True)
    return [account_id for account_id in ids if account_id]
