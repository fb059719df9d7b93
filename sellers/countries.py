"""Countries a seller can onboard from (Stripe Connect cross-border payouts: Express accounts in
these countries can receive destination charges from this platform), with a sensible default
currency for each."""

from __future__ import annotations

SUPPORTED_COUNTRIES: dict[str, tuple[str, str]] = {
    # code: (name, usual currency)
    "AT": ("Austria", "eur"),
    "BE": ("Belgium", "eur"),
    "CA": ("Canada", "cad"),
    "CH": ("Switzerland", "chf"),
    "DE": ("Germany", "eur"),
    "DK": ("Denmark", "dkk"),
    "ES": ("Spain", "eur"),
    "FI": ("Finland", "eur"),
    "FR": ("France", "eur"),
    "GB": ("United Kingdom", "gbp"),
    "IE": ("Ireland", "eur"),
    "IT": ("Italy", "eur"),
    "LU": ("Luxembourg", "eur"),
    "NL": ("Netherlands", "eur"),
    "NO": ("Norway", "nok"),
    "PL": ("Poland", "pln"),
    "PT": ("Portugal", "eur"),
    "SE": ("Sweden", "sek"),
    "US": ("United States", "usd"),
}


def country_choices() -> list[tuple[str, str]]:
    return sorted(
        ((code, name) for code, (name, _) in SUPPORTED_COUNTRIES.items()), key=lambda c: c[1]
    )
