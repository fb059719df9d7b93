"""Seller balances and payouts as Stripe reports them: balance snapshots and mirrored payouts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.compiled_sql import update_columns
from marketplace.errors import UserFacingError
from payouts.models import (
    LedgerTransaction,
    Payout,
    SellerBalance,
)
from payouts.services._common import _insert_new_rows, _ts
from payouts.services.ledger import (
    LedgerMovement,
    ledger_record_many,
    movement_postings,
    upsert_sql,
)
from sellers.models import Seller


def seller_balance_refresh(*, seller_id: int) -> SellerBalance:
    """Fetch Stripe's balance of the seller's connected account and store it as the snapshot.

    Raises ``UserFacingError`` when the seller has no connected account, and when Stripe cannot be
    reached (the error is kept on the row, the previous snapshot stays). Side effects: updates the
    seller's SellerBalance stripe_* fields.
    """
    from marketplace import stripe_gateway

    seller = Seller.objects.get(pk=seller_id)
    if not seller.stripe_account_id:
        raise UserFacingError("Connect your Stripe account first to see its balance.")
    SellerBalance.objects.get_or_create(seller=seller)
    try:
        stripe_balance = stripe_gateway.balance_retrieve(stripe_account=seller.stripe_account_id)
    except stripe_gateway.GatewayError as exc:
        SellerBalance.objects.filter(seller=seller).update(stripe_refresh_error=exc.message[:255])
        raise UserFacingError(f"Could not refresh the balance from Stripe: {exc.message}") from exc
    with transaction.atomic():
        row = SellerBalance.objects.select_for_update().get(seller=seller)
        row.stripe_available = stripe_balance.by_currency("available")
        row.stripe_pending = stripe_balance.by_currency("pending")
        row.stripe_refreshed_at = timezone.now()
        row.stripe_refresh_error = ""
        row.save(
            update_fields=[
                "stripe_available",
                "stripe_pending",
                "stripe_refreshed_at",
                "stripe_refresh_error",
                "updated_at",
            ]
        )
    return row


def payout_sync(*, seller: Seller, data: Mapping[str, Any]) -> Payout:
    """Mirror a Stripe payout of ``seller``'s connected account (``data`` = the payout object).

    Status moves only forward (pending -> in_transit -> paid | failed | canceled), so a stale
    event never moves it back. Ledger: the payout is recorded when first seen (the money left the
    balance when Stripe created it); a failed or canceled payout records the money's return.
    A newly failed payout emails the seller (after commit) with the reason and a link to update
    their bank details, once. Idempotent.
    """
    return payout_sync_from(seller=seller, data=data)[0]


def _insert_unless_recorded(payout: Payout) -> bool:
    """INSERT a new payout row unless one with its Stripe id exists (one statement, no
    savepoint, the new row locked until commit). True and the id set when inserted."""
    from django.db import connection

    fields = [f for f in Payout._meta.concrete_fields if not f.primary_key]
    new = _insert_new_rows(
        table=Payout._meta.db_table,
        columns=[str(f.column) for f in fields],
        rows=[[f.get_db_prep_save(f.pre_save(payout, True), connection) for f in fields]],
        unique=["stripe_id"],
        returning=["id"],
    )
    if not new:
        return False
    payout.pk = new[0][0]
    payout._state.adding = False
    payout._state.db = "default"
    return True


def _insert_or_lock(payout: Payout) -> tuple[Payout, bool]:
    """PostgreSQL: INSERT the new payout row, or lock and read the one recorded with its Stripe
    id (a no-op ``DO UPDATE`` takes the row lock and returns the row as it was), in one
    statement. Returns the row and whether it was inserted (``xmax = 0``: no prior version)."""
    from django.db import connection

    fields = Payout._meta.concrete_fields
    columns = [str(f.column) for f in fields if not f.primary_key]
    values = [
        f.get_db_prep_save(f.pre_save(payout, True), connection)
        for f in fields
        if not f.primary_key
    ]
    quote = connection.ops.quote_name
    table = quote(Payout._meta.db_table)
    sql = (
        f"INSERT INTO {table} AS p ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        'ON CONFLICT ("stripe_id") DO UPDATE SET "stripe_id" = EXCLUDED."stripe_id" '
        f"RETURNING {', '.join('p.' + quote(str(f.column)) for f in fields)}, (p.xmax = 0)"
    )  # only the model's own quoted identifiers are interpolated; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        *row, inserted = cursor.fetchone()
    return Payout.from_db("default", [f.attname for f in fields], row), bool(inserted)


def payout_sync_from(*, seller: Seller, data: Mapping[str, Any]) -> tuple[Payout, str | None]:
    """``payout_sync``, also returning the payout's status before (None: first seen), read
    under the same row lock. PostgreSQL: one INSERT that inserts or locks and reads the row;
    elsewhere one locked read (and one INSERT when first seen). Then an UPDATE of the changed
    columns only (none when nothing changed), the ledger in one ``ledger_record_many``; no
    savepoint of its own."""
    from django.db import connection

    payout_id = str(data["id"])
    status = str(data.get("status") or "pending")
    if status not in Payout.Status.values:
        status = Payout.Status.PENDING

    def new_payout() -> Payout:
        return Payout(
            stripe_id=payout_id,
            seller=seller,
            amount=int(data["amount"]),
            currency=str(data["currency"]).lower(),
            status=status,
            arrival_date=_ts(data.get("arrival_date")),
            stripe_created=_ts(data.get("created")) or timezone.now(),
        )

    with transaction.atomic(savepoint=False):
        if upsert_sql(connection):
            payout, created = _insert_or_lock(new_payout())
            if payout.seller_id == seller.pk:
                Payout.seller.field.set_cached_value(payout, seller)
        else:
            found = Payout.objects.select_for_update().filter(stripe_id=payout_id).first()
            created = found is None
            if found is None:
                payout = new_payout()
                created = _insert_unless_recorded(payout)
                if not created:  # recorded meanwhile by a concurrent handler: take its row
                    payout = Payout.objects.select_for_update().get(stripe_id=payout_id)
            else:
                payout = found
        prior = None if created else payout.status
        changed: list[str] = []
        if not created and Payout.RANK[status] > Payout.RANK[payout.status]:
            payout.status = status
            changed.append("status")
            arrival = _ts(data.get("arrival_date")) or payout.arrival_date
            if arrival != payout.arrival_date:
                payout.arrival_date = arrival
                changed.append("arrival_date")
        if payout.status == Payout.Status.FAILED:
            code = str(data.get("failure_code") or payout.failure_code or "")[:64]
            message = str(data.get("failure_message") or payout.failure_message or "")[:500]
            if (code, message) != (payout.failure_code, payout.failure_message):
                payout.failure_code, payout.failure_message = code, message
                changed += ["failure_code", "failure_message"]
        if changed:
            update_columns(payout, [*changed, "updated_at"])  # the row locked above
        movements = [
            LedgerMovement(
                kind=LedgerTransaction.Kind.PAYOUT,
                stripe_object_id=payout_id,
                seller=seller,
                occurred_at=payout.stripe_created,
                description=f"payout {payout_id}",
                postings=movement_postings(
                    kind=LedgerTransaction.Kind.PAYOUT,
                    amount=payout.amount,
                    currency=payout.currency,
                    seller_id=seller.pk,
                ),
            )
        ]
        if payout.status in (Payout.Status.FAILED, Payout.Status.CANCELED):
            movements.append(
                LedgerMovement(
                    kind=LedgerTransaction.Kind.PAYOUT_FAILED,
                    stripe_object_id=payout_id,
                    seller=seller,
                    occurred_at=timezone.now(),
                    description=f"payout {payout_id} {payout.status}: returned to the balance",
                    postings=movement_postings(
                        kind=LedgerTransaction.Kind.PAYOUT_FAILED,
                        amount=payout.amount,
                        currency=payout.currency,
                        seller_id=seller.pk,
                    ),
                )
            )
        ledger_record_many(movements)
        if payout.status == Payout.Status.FAILED and payout.failure_notified_at is None:
            payout.failure_notified_at = timezone.now()
            update_columns(payout, ["failure_notified_at", "updated_at"])
            from payouts import tasks

            payout_pk = payout.pk
            transaction.on_commit(lambda: tasks.send_payout_failed_email.delay(payout_pk))
    return payout, prior
