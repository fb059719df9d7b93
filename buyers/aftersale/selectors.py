"""Reads of the after-sale, scoped to the person asking (someone else's ids find nothing)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, QuerySet

from buyers.aftersale.models import OrderMessage, ProblemReport, Review
from buyers.aftersale.services import conversation_role
from buyers.models import Order
from sellers.models import Listing, Seller


@dataclass(frozen=True)
class Rating:
    average: float | None
    count: int

    @property
    def stars(self) -> str:
        """The average as text: "4.5 out of 5"."""
        return f"{self.average:.1f} out of 5" if self.average is not None else ""


def _is_staff(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def order_problems(*, order: Order) -> QuerySet[ProblemReport]:
    """The problem reports of an order the caller may already read (buyer's or seller's)."""
    return ProblemReport.objects.filter(order=order).select_related("answered_by")


def active_problem(*, order: Order) -> ProblemReport | None:
    return order_problems(order=order).filter(status__in=ProblemReport.ACTIVE).first()


def buyer_problem(*, buyer: Any, report_id: int) -> ProblemReport | None:
    if not buyer.is_authenticated:
        return None
    return ProblemReport.objects.filter(pk=report_id, buyer=buyer).select_related("order").first()


def seller_problems(*, seller: Seller | None) -> QuerySet[ProblemReport]:
    """Every problem report on ``seller``'s sales, newest first."""
    if seller is None:
        return ProblemReport.objects.none()
    return ProblemReport.objects.filter(order__seller=seller).select_related("order", "buyer")


def seller_problem(*, seller: Seller | None, report_id: int) -> ProblemReport | None:
    return seller_problems(seller=seller).filter(pk=report_id).first()


def problems_for_staff(*, user: Any) -> QuerySet[ProblemReport]:
    """Staff only (nothing for anyone else): every problem report, newest first."""
    if not _is_staff(user):
        return ProblemReport.objects.none()
    return ProblemReport.objects.select_related("order__seller", "buyer", "answered_by")


def conversation_order(*, user: Any, order_id: int) -> tuple[Order, str] | None:
    """The order ``order_id`` and ``user``'s role in its conversation, or None when ``user`` is
    neither its buyer nor its seller (nor staff while a dispute or a request is open)."""
    order = Order.objects.select_related("seller").filter(pk=order_id).first()
    if order is None:
        return None
    role = conversation_role(user=user, order=order)
    return None if role is None else (order, role)


def order_messages(*, order: Order) -> QuerySet[OrderMessage]:
    """The conversation of an order the caller may read (see ``conversation_order``)."""
    return OrderMessage.objects.filter(order=order).select_related("author")


def order_review(*, order: Order) -> Review | None:
    return Review.objects.filter(order=order).first()


def listing_reviews(*, listing: Listing) -> QuerySet[Review]:
    """What anyone reads on a listing's page: its reviews not hidden by staff."""
    return Review.objects.filter(listing=listing, hidden_at__isnull=True)


def shop_reviews(*, seller: Seller) -> QuerySet[Review]:
    return Review.objects.filter(seller=seller, hidden_at__isnull=True).select_related("listing")


def rating_and_version(*, listing: Listing) -> tuple[Rating, tuple[object, ...]]:
    """The rating of a listing's visible reviews (as ``rating_of(listing_reviews(...))``) and,
    from the same query, a version of that set: it changes when a review is added, hidden (or
    shown again) or replied to, so a page part built from the reviews can be cached under it.
    Reviews are never edited otherwise.

    Written in SQL: on every view of a listing page, and the ORM's aggregate() costs more to
    build than the query takes to run (bench/listing_page.py)."""
    sql, params = _rating_sql(), (listing.pk,)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, rating_sum, id_sum, replied = cursor.fetchone()
    rating = Rating(average=float(rating_sum) / count if count else None, count=count)
    return rating, (count, id_sum, replied)


@functools.cache
def _rating_sql() -> str:
    q = connection.ops.quote_name
    meta = Review._meta
    col = {
        name: q(str(getattr(meta.get_field(name), "column", name)))
        for name in ("id", "rating", "listing", "hidden_at", "replied_at")
    }
    replied = col["replied_at"]
    # Table and column names come from the model, quoted; the listing id is a parameter.
    select = f"COUNT({col['id']}), SUM({col['rating']}), SUM({col['id']}), MAX({replied})"
    where = f"{col['listing']} = %s AND {col['hidden_at']} IS NULL"
    return f"SELECT {select} FROM {q(meta.db_table)} WHERE {where}"  # noqa: S608


def rating_of(reviews: QuerySet[Review]) -> Rating:
    row = reviews.aggregate(avg=Avg("rating"), n=Count("id"))
    return Rating(average=float(row["avg"]) if row["avg"] is not None else None, count=row["n"])


def seller_review(*, seller: Seller | None, review_id: int) -> Review | None:
    if seller is None:
        return None
    return Review.objects.filter(pk=review_id, seller=seller).first()


def reviews_for_staff(*, user: Any) -> QuerySet[Review]:
    """Staff only: every review (hidden ones too), newest first."""
    if not _is_staff(user):
        return Review.objects.none()
    return Review.objects.select_related("seller", "listing", "buyer")
