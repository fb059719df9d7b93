"""Writes of the sellers app, one module per concern.

- ``shops``: becoming a seller, the shop's profile, suspension and reinstatement.
- ``accounts``: the seller's Stripe connected account, onboarding and dashboard links, and the
  mirror of its state.
- ``listings``: listings, their images and status moves.

Stripe calls go through ``marketplace.stripe_gateway`` only. Services that call Stripe and then
write must not run inside a transaction that could roll the write back: the Stripe object exists
as soon as Stripe answers, so its id is committed right away (no orphan account unrecorded).
New code imports from the concern module; the names below are re-exported so
``from sellers import services`` keeps working.
"""

from sellers.services.accounts import (
    seller_account_updated,
    seller_apply_account,
    seller_dashboard_login_link,
    seller_email_requirements_due,
    seller_ensure_account,
    seller_mark_disconnected,
    seller_onboarding_link,
    seller_start_onboarding,
    seller_sync_account,
)
from sellers.services.listings import (
    MAX_PRICE_MINOR,
    MAX_STOCK,
    listing_create,
    listing_delete,
    listing_image_delete,
    listing_pause,
    listing_publish,
    listing_unpause,
    listing_update,
    validate_price,
)
from sellers.services.shops import (
    RESERVED_SLUGS,
    SLUG_RE,
    STATUS_FIELDS,
    seller_clear_attention,
    seller_create,
    seller_reinstate,
    seller_suspend,
    seller_update_profile,
    validate_currency,
    validate_shop_slug,
)

__all__ = [
    "MAX_PRICE_MINOR",
    "MAX_STOCK",
    "RESERVED_SLUGS",
    "SLUG_RE",
    "STATUS_FIELDS",
    "listing_create",
    "listing_delete",
    "listing_image_delete",
    "listing_pause",
    "listing_publish",
    "listing_unpause",
    "listing_update",
    "seller_account_updated",
    "seller_apply_account",
    "seller_clear_attention",
    "seller_create",
    "seller_dashboard_login_link",
    "seller_email_requirements_due",
    "seller_ensure_account",
    "seller_mark_disconnected",
    "seller_onboarding_link",
    "seller_reinstate",
    "seller_start_onboarding",
    "seller_suspend",
    "seller_sync_account",
    "seller_update_profile",
    "validate_currency",
    "validate_price",
    "validate_shop_slug",
]
