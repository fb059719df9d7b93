"""Listing page cost against the raw SELECTs of what it shows, both served by Django in the same run.

Workload: 1,000 listings (50 shops, 12 categories); the measured listing has a category, 3
pictures and 40 reviews (20 shown, 2 hidden by staff), anonymous GET /listing/<id>/ through
Django's WSGI handler with the full middleware stack (what gunicorn calls, minus the socket).
Baseline, interleaved with the page: a bench-only view that runs the raw SQL of what the page
shows (the listing with its seller and category, its pictures, the latest 20 visible reviews,
their average and count: ``cursor.execute``, no models, no template) and returns the rows as text;
and those bare SELECTs alone (no request at all). Ratio = page time / baseline time per round;
rounds' min / median / max are printed, and the page's queries.
Target (issue 17): the page costs <= 5x the bare SELECTs. Warm caches (what a live server has):
the first requests of each round are not counted.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

ROUNDS = 7
RUNS = 60
LISTINGS = 1_000
REVIEWS = 40
HIDDEN = 2
IMAGES = 3


def main(argv: list[str] | None = None) -> int:
    """Runs in its own process: it sets Django up on a throw-away database of its own."""
    import subprocess

    return subprocess.call([sys.executable, "-m", "bench.listing_page", *(argv or [])])


def raw_statements(listing_id: int) -> list[tuple[str, tuple[Any, ...]]]:
    """The SELECTs of what the listing page shows, written by hand."""
    from buyers.aftersale.models import Review
    from sellers.models import Category, Listing, ListingImage, Seller

    listing, seller, category = (m._meta.db_table for m in (Listing, Seller, Category))
    images, reviews = ListingImage._meta.db_table, Review._meta.db_table
    return [
        (
            f"SELECT l.id, l.title, l.description, l.price_amount, l.currency, l.stock, "
            f"l.reserved, l.sold, l.status, s.slug, s.display_name, s.status, "
            f"s.charges_enabled, s.stripe_account_id, c.name "
            f'FROM "{listing}" l JOIN "{seller}" s ON s.id = l.seller_id '
            f'LEFT JOIN "{category}" c ON c.id = l.category_id WHERE l.id = %s',
            (listing_id,),
        ),
        (
            f'SELECT image FROM "{images}" WHERE listing_id = %s ORDER BY position, id',
            (listing_id,),
        ),
        (
            f'SELECT rating, body, reply, created_at FROM "{reviews}" '
            f"WHERE listing_id = %s AND hidden_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20",
            (listing_id,),
        ),
        (
            f'SELECT AVG(rating), COUNT(id) FROM "{reviews}" '
            f"WHERE listing_id = %s AND hidden_at IS NULL",
            (listing_id,),
        ),
    ]


def seed_listing() -> int:
    """The measured listing: pictures, reviews (some hidden), each review on its own order."""
    from datetime import timedelta

    from django.utils import timezone

    from bench._fixtures import new_user
    from buyers.aftersale.models import Review
    from buyers.models import Order, Purchase
    from sellers.models import Category, Listing, ListingImage

    listing = (
        Listing.objects.filter(status=Listing.Status.PUBLISHED, category__isnull=False)
        .select_related("seller")
        .order_by("pk")
        .first()
    )
    assert listing is not None and isinstance(listing.category, Category)
    for i in range(IMAGES):
        ListingImage.objects.create(listing=listing, image=f"listings/bench/{i}.jpg", position=i)
    now = timezone.now()
    for i in range(REVIEWS):
        buyer = new_user()
        purchase = Purchase.objects.create(
            buyer=buyer,
            charge_type=Purchase.ChargeType.DESTINATION,
            currency=listing.currency,
            amount=listing.price_amount,
            application_fee_amount=0,
            buyer_email=buyer.email,
            status=Purchase.Status.PAID,
            expires_at=now,
        )
        order = Order.objects.create(
            purchase=purchase,
            buyer=buyer,
            seller=listing.seller,
            listing=listing,
            title=listing.title,
            unit_amount=listing.price_amount,
            quantity=1,
            currency=listing.currency,
            amount=listing.price_amount,
            application_fee_amount=0,
            buyer_email=buyer.email,
            status=Order.Status.FULFILLED,
            expires_at=now,
        )
        Review.objects.create(
            order=order,
            buyer=buyer,
            seller=listing.seller,
            listing=listing,
            rating=1 + i % 5,
            body=f"Review {i}: lovely glaze, arrived well packed.",
            reply="Thank you!" if i % 3 == 0 else "",
            hidden_at=now if i < HIDDEN else None,
            hidden_reason="abusive" if i < HIDDEN else "",
        )
    Review.objects.filter(listing=listing).update(created_at=now - timedelta(days=1))
    return listing.pk


def run() -> int:
    from bench._django import setup

    where = setup("listing_page")
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.urls import clear_url_caches

    from bench._page_rounds import interleaved_rounds
    from bench.catalogue import seed
    from bench.catalogue_page import _Client

    settings.ROOT_URLCONF = "bench.listing_urls"
    clear_url_caches()
    seed(LISTINGS)
    pk = seed_listing()
    client = _Client(WSGIHandler())
    url, raw_url = f"/listing/{pk}/", f"/bench/raw-listing/{pk}/"
    for u in (url, raw_url):
        status = client.get(u)
        assert status.startswith("200"), (u, status)
    statements = raw_statements(pk)
    print(
        f"database: {where}; {LISTINGS} listings; the listing: {IMAGES} pictures, {REVIEWS} "
        f"reviews ({HIDDEN} hidden); {ROUNDS} rounds of {RUNS} interleaved requests (page, raw "
        f"SELECT view, bare SELECTs: {len(statements)}), anonymous"
    )
    queries = [0]

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)

    def bare() -> None:
        with connection.cursor() as db:
            for sql, params in statements:
                db.execute(sql, params)
                db.fetchall()

    ratios, page_ms, raw_ms, sel_ms, sel_ratios = interleaved_rounds(
        client, url, raw_url, bare, rounds=ROUNDS, runs=RUNS
    )
    print(
        f"{'page':>10} {'queries':>8} {'page ms':>8} {'view ms':>8} {'SELECTs ms':>10} "
        f"{'page/raw view min/med/max':>26} {'page/SELECTs min/med/max':>25}"
    )
    print(
        f"{'listing':>10} {queries[0]:>8} {statistics.median(page_ms):>8.2f} "
        f"{statistics.median(raw_ms):>8.2f} {statistics.median(sel_ms):>10.2f} "
        f"{f'{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}':>26} "
        f"{f'{sel_ratios[0]:.1f} / {statistics.median(sel_ratios):.1f} / {sel_ratios[-1]:.1f}':>25}"
    )
    ok = statistics.median(sel_ratios) <= 5
    print("target: page <= 5x the bare SELECTs (median of rounds):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
