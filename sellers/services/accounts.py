"""The seller's Stripe connected account: created once (idempotency key from our seller id, the id
committed as soon as Stripe answers), onboarding and dashboard links, and the mirror of its state
(re-read through the gateway on ``account.updated``, applied in order, never moved back;
deauthorization disconnects the seller).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from marketplace import stripe_gateway as gateway
from marketplace.compiled_sql import ByValue, update_columns
from marketplace.errors import UserFacingError
from sellers.models import Seller
from sellers.services.shops import _require_connectable

logger = logging.getLogger(__name__)


def seller_ensure_account(*, seller: Seller) -> Seller:
    """Give ``seller`` a Stripe connected account (Express dashboard) unless it has one.

    The account's id is committed as soon as Stripe returns it, before anything else can fail.
    A double submit reuses Stripe's idempotency (same key from our seller id) and the
    ``stripe_account_id IS NULL`` guard, so one seller never gets two accounts.
    Raises GatewayError when Stripe refuses (unsupported country) or is unreachable.
    """
    _require_connectable(seller)
    if seller.stripe_account_id:
        return seller
    account = gateway.account_create(
        seller_id=seller.pk, country=seller.country, email=seller.user.email
    )
    recorded = Seller.objects.filter(pk=seller.pk, stripe_account_id__isnull=True).update(
        stripe_account_id=account.id, updated_at=timezone.now()
    )
    seller.refresh_from_db()
    if not recorded and seller.stripe_account_id != account.id:
        logger.error(
            "seller %s already had account %s when Stripe returned %s",
            seller.pk,
            seller.stripe_account_id,
            account.id,
        )
    if seller.stripe_account_id == account.id:
        seller = seller_apply_account(seller_id=seller.pk, account=account, as_of=None)
    return seller


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def seller_onboarding_link(*, seller: Seller, update: bool = False) -> str:
    """A fresh Stripe-hosted onboarding link for ``seller``'s account; returns its URL.

    ``refresh_url`` is our refresh view for this account (makes a new link, owner only);
    ``return_url`` is the seller dashboard, which re-reads the account. With ``update`` the
    link also collects eventually-due requirements, so a seller can update details early
    (Express-dashboard accounts cannot get ``account_update`` links; Stripe refuses them, and
    the Express dashboard is where they edit bank and contact details).
    """
    _require_connectable(seller)
    if not seller.stripe_account_id:
        raise UserFacingError("Set up payments first.")
    link = gateway.account_link_create(
        account_id=seller.stripe_account_id,
        link_type="account_onboarding",
        refresh_url=_absolute(
            reverse("sellers:onboarding_refresh", args=[seller.stripe_account_id])
        ),
        return_url=_absolute(reverse("sellers:dashboard") + "?from=stripe"),
        request_key=uuid.uuid4().hex,
        collect_eventually_due=update,
    )
    return link.url


def seller_start_onboarding(*, seller: Seller) -> str:
    """Create the account if needed, then a fresh onboarding link; returns the link's URL."""
    seller = seller_ensure_account(seller=seller)
    return seller_onboarding_link(seller=seller)


def seller_dashboard_login_link(*, seller: Seller) -> str:
    """A single-use link into ``seller``'s Express dashboard (details submitted only)."""
    _require_connectable(seller)
    if not seller.stripe_account_id or not seller.details_submitted:
        raise UserFacingError("Finish onboarding first; then your Stripe dashboard opens here.")
    link = gateway.login_link_create(
        account_id=seller.stripe_account_id, request_key=uuid.uuid4().hex
    )
    return link.url


def _timestamp(value: int | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


@transaction.atomic
def seller_apply_account(
    *, seller_id: int, account: gateway.Account, as_of: datetime | None
) -> Seller:
    """Copy a Stripe account's status (the gateway's ``Account``) onto the seller (row locked).

    ``as_of`` is the ``created`` of the event that asked for this state; an event older than the
    newest one applied is ignored, so events arriving out of order never move the mirror back.
    ``as_of=None`` means a fresh read outside any event (always applied). Either way
    ``account_refreshed_at`` records when we last read the account.
    Raises ValueError when the account is not this seller's.
    """
    seller = Seller.objects.select_for_update().get(pk=seller_id)
    return _apply_account(seller, account, as_of)


def _apply_account(
    seller: Seller, account: gateway.Account, as_of: datetime | None, *, read: bool = True
) -> Seller:
    """``seller_apply_account`` on a seller already locked by the caller (read once). Writes
    only the columns that changed (and, when ``read``, when the account was read: an event's
    payload applied as is leaves ``account_refreshed_at`` alone)."""
    if account.id != seller.stripe_account_id:
        raise ValueError(f"account {account.id} is not seller {seller.pk}'s")
    if as_of is not None and seller.account_synced_at and as_of < seller.account_synced_at:
        logger.info("ignoring stale state of %s (%s)", seller.stripe_account_id, as_of)
        return seller
    requirements = account.requirements
    known = set(seller.requirements_currently_due) | set(seller.requirements_past_due)
    was_onboarded = seller.details_submitted
    state: dict[str, object] = {
        "charges_enabled": account.charges_enabled,
        "payouts_enabled": account.payouts_enabled,
        "details_submitted": account.details_submitted,
        "requirements_currently_due": list(requirements.currently_due),
        "requirements_past_due": list(requirements.past_due),
        "requirements_eventually_due": list(requirements.eventually_due),
        "requirements_current_deadline": _timestamp(requirements.current_deadline),
        "requirements_disabled_reason": requirements.disabled_reason,
    }
    if as_of is not None:
        state["account_synced_at"] = as_of
    if read:
        state["account_refreshed_at"] = timezone.now()
    changed = [name for name, value in state.items() if getattr(seller, name) != value]
    for name in changed:
        setattr(seller, name, state[name])
    update_columns(seller, [*changed, "updated_at"])  # no ORM compile per event
    due = set(seller.requirements_currently_due) | set(seller.requirements_past_due)
    if was_onboarded and due - known:
        # Stripe asks an onboarded seller for more: tell them once per new request.
        transaction.on_commit(functools.partial(_email_requirements_due, seller.pk))
    return seller


def _email_requirements_due(seller_id: int) -> None:
    from sellers import tasks

    tasks.send_requirements_due_email.delay(seller_id)


def seller_email_requirements_due(*, seller_id: int) -> None:
    """Email the seller what Stripe now needs (plain words), by when, and where to give it.

    Side effects: one email to the seller's address; nothing is stored."""
    from sellers.requirements import requirements_text

    seller = Seller.objects.select_related("user").get(pk=seller_id)
    needed = requirements_text(seller.requirements_past_due + seller.requirements_currently_due)
    if not needed or not seller.user.email:
        return
    deadline = (
        f" by {seller.requirements_current_deadline:%Y-%m-%d %H:%M} UTC"
        if seller.requirements_current_deadline
        else ""
    )
    lines = "\n".join(f"- {item}" for item in needed)
    send_mail(
        subject="Stripe needs more information to keep paying you",
        message=(
            f"Hello {seller.display_name},\n\n"
            f"Stripe, which handles the payments and payouts of your shop, needs more "
            f"information{deadline}:\n{lines}\n\n"
            "Until you give it, Stripe may pause your sales or payouts. Give it on Stripe's secure "
            f"page:\n{settings.SITE_URL}{reverse('sellers:onboarding_update')}\n"
        ),
        from_email=None,
        recipient_list=[seller.user.email],
    )


def seller_sync_account(*, seller: Seller) -> Seller:
    """Re-read ``seller``'s account from Stripe and update the mirror (raises GatewayError)."""
    if not seller.stripe_account_id:
        return seller
    account = gateway.account_retrieve(account_id=seller.stripe_account_id)
    return seller_apply_account(seller_id=seller.pk, account=account, as_of=None)


@transaction.atomic(savepoint=False)  # inside the handler's transaction: no savepoint of its own
def seller_account_updated(
    *, account_id: str, event_created: datetime, payload: Mapping[str, Any] | None = None
) -> Seller | None:
    """Handle ``account.updated`` for ``account_id``: apply the account's state, unless a newer
    event was already applied. The seller row stays locked from before the state is taken to
    after the write, so concurrent handlers apply it in order.

    ``payload``: the event's ``data.object`` (signed by Stripe, verified at intake). It is the
    account as it was when the event was created, so it is applied as is, without a request,
    when it is complete (status and requirements present) and strictly newer than anything we
    applied or read (``_newer_than_known``). Otherwise (a thin payload, an event of the same
    second as the state we hold, or as old) the account is re-read from Stripe: the same-second
    case cannot tell which snapshot is the later one. Unknown accounts and disconnected sellers
    are ignored. Returns the seller, or None.
    """
    seller: Seller | None = _SELLER_OF_ACCOUNT_LOCKED.first(account_id)
    if seller is None:
        return _adopt_unrecorded_account(account_id=account_id, event_created=event_created)
    if seller.status == Seller.Status.DISCONNECTED:
        return None
    if seller.account_synced_at and event_created < seller.account_synced_at:
        return seller
    if _complete_account(payload, account_id) and _newer_than_known(seller, event_created):
        account = gateway.Account.from_stripe(dict(payload or {}))
        return _apply_account(seller, account, event_created, read=False)
    account = gateway.account_retrieve(account_id=account_id)
    return _apply_account(seller, account, event_created)  # the row locked above: read once


def _seller_of_account_locked(account_id: str) -> QuerySet[Seller]:
    return Seller.objects.select_for_update().filter(stripe_account_id=account_id)[:1]


# Read on every account.updated: SQL compiled once (marketplace/compiled_sql.py).
_SELLER_OF_ACCOUNT_LOCKED = ByValue(_seller_of_account_locked, Seller, "stripe_account_id")

_ACCOUNT_STATE = ("charges_enabled", "payouts_enabled", "details_submitted")
_REQUIREMENT_LISTS = ("currently_due", "past_due", "eventually_due")


def _complete_account(payload: Mapping[str, Any] | None, account_id: str) -> bool:
    """True when an event's account object states everything the mirror copies (Stripe sends
    the whole account in ``account.updated``; a recovered or hand-made event may not)."""
    if not payload or payload.get("object") != "account" or payload.get("id") != account_id:
        return False
    requirements = payload.get("requirements")
    return (
        all(isinstance(payload.get(key), bool) for key in _ACCOUNT_STATE)
        and isinstance(requirements, Mapping)
        and all(isinstance(requirements.get(key), list) for key in _REQUIREMENT_LISTS)
    )


def _newer_than_known(seller: Seller, event_created: datetime) -> bool:
    """An event created strictly after the newest event applied and after our last read of the
    account (that read's time put on Stripe's clock: the sandbox's may be advanced)."""
    if seller.account_synced_at and event_created <= seller.account_synced_at:
        return False
    if seller.account_refreshed_at is None:
        return True
    skew = timedelta(seconds=gateway.stripe_now() - int(time.time()))
    return event_created > seller.account_refreshed_at + skew


def _adopt_unrecorded_account(*, account_id: str, event_created: datetime) -> Seller | None:
    """An event for an account we never recorded: if Stripe created it for one of our sellers
    (``metadata.seller_id``) and that seller has no account yet (the process died between
    Stripe's answer and our write), record it now instead of leaving an orphan."""
    try:
        account = gateway.account_retrieve(account_id=account_id)
    except gateway.GatewayError as exc:
        if exc.http_status in (403, 404):  # not (or no longer) connected to us
            logger.warning("account.updated for unknown account %s", account_id)
            return None
        raise
    seller_id = account.seller_id
    seller = (
        Seller.objects.select_for_update()
        .filter(pk=int(seller_id), stripe_account_id__isnull=True)
        .first()
        if seller_id.isdigit()
        else None
    )
    if seller is None:
        logger.warning("account.updated for unknown account %s", account_id)
        return None
    logger.warning("recording account %s of seller %s from an event", account_id, seller.pk)
    seller.stripe_account_id = account_id
    seller.save(update_fields=["stripe_account_id", "updated_at"])
    return seller_apply_account(seller_id=seller.pk, account=account, as_of=event_created)


def _notify_admins(subject: str, body: str) -> None:
    # After commit: a mail server hiccup must not undo the state change (the flag stays).
    try:
        mail_admins(subject, body)
    except Exception:
        logger.exception("could not email admins: %s", subject)


@transaction.atomic
def seller_mark_disconnected(*, account_id: str, event_created: datetime) -> Seller | None:
    """Handle ``account.application.deauthorized``: the seller disconnected their account.

    The seller becomes ``disconnected`` (listings hidden, nothing purchasable), is flagged for
    admins, and admins are emailed after commit. Idempotent: a repeat changes nothing.
    """
    seller = Seller.objects.select_for_update().filter(stripe_account_id=account_id).first()
    if seller is None:
        logger.warning("deauthorization of unknown account %s", account_id)
        return None
    if seller.status == Seller.Status.DISCONNECTED:
        return seller
    seller.status = Seller.Status.DISCONNECTED
    seller.status_reason = "The seller disconnected their Stripe account from the platform."
    seller.status_changed_at = timezone.now()
    seller.disconnected_at = event_created
    seller.charges_enabled = False
    seller.payouts_enabled = False
    seller.needs_attention = True
    seller.save()
    subject = f"Seller {seller.display_name} ({seller.slug}) disconnected their Stripe account"
    body = (
        f"Stripe account {account_id} of seller {seller.display_name} ({seller.user.email}) "
        "was disconnected from the platform. Their listings are hidden and nobody can buy "
        "from them. Check for open orders, refunds or disputes in the admin."
    )
    transaction.on_commit(lambda: _notify_admins(subject, body))
    return seller
