"""Benchmarks (`make bench` -> `python -m bench`). Each prints its workload, a baseline measured
in the same run, and the ratio. Register a benchmark in ``BENCHMARKS`` (name -> module with
``main(argv: list[str]) -> int``)."""

BENCHMARKS: dict[str, str] = {
    "events_intake": "bench.events_intake",
    "events_processing": "bench.events_processing",
    "catalogue": "bench.catalogue",
    "catalogue_page": "bench.catalogue_page",
    "listing_page": "bench.listing_page",
    "checkout": "bench.checkout",
    "onsite_checkout": "bench.onsite_checkout",
    "cart_checkout": "bench.cart_checkout",
    "balance_page": "bench.balance_page",
    "reconciliation": "bench.reconciliation",
    "sandbox_balance": "bench.sandbox_balance",
    "subscription_renewals": "bench.subscription_renewals",
    "stripe_requests": "bench.stripe_requests",
    "stripe_rate_limit": "bench.stripe_rate_limit",
}
