"""Writes of the buying side, one module per concern.

Stock lives on the listing (``stock`` ever added, ``reserved`` by pending orders, ``sold``); the
database refuses ``sold + reserved > stock``. A purchase reserves every line's units when created
(conditional UPDATEs under row locks, all lines or none, so two buyers of the last unit get
exactly one reservation), turns them into ``sold`` when Stripe says it is paid, and releases them
all together when it is canceled, expires or fails.

Stripe is the source of truth for payment: ``purchase_fulfil`` re-reads the Checkout Session
through the gateway and never trusts a URL or a webhook payload. Every service here is idempotent
and moves statuses only forward (``Order.TRANSITIONS``, ``Purchase.TRANSITIONS``). The
``order_*`` services of the one-listing flow ("buy now") go through the same purchase code.

- ``purchases``: creating a purchase (or a one-line "buy now" order), reserving its stock.
- ``checkout``: the Checkout Session of a pending purchase.
- ``fulfilment``: the purchase brought in line with its session (paid, processing, failed).
- ``expiry``: canceling and expiring pending purchases, releasing their reservations.
- ``transfers``: paying each seller of a several-seller purchase.
- ``refunds``: refunds and disputes recorded on an order.
- ``shipping``: the seller marks an order shipped.
- ``hooks``: code other apps run when an order is paid or refunded.
- ``onsite``: a purchase paid on our own page (Stripe.js, PaymentIntents), saved cards used
  in one click, orders the seller accepts before the card is charged.
- ``_common``: status moves, releasing reservations, emails after commit, deadlines.

New code imports from the concern module; the names below are re-exported so
``from buyers import services`` keeps working.
"""

from buyers.services._common import (
    SESSION_HEADROOM,
    InvalidTransition,
    _move,
    _release,
)
from buyers.services.checkout import order_checkout_url, purchase_checkout_url
from buyers.services.expiry import (
    order_close,
    orders_expire_stale,
    purchase_close,
    purchases_expire_stale,
)
from buyers.services.fulfilment import (
    order_fulfil,
    order_payment_failed,
    purchase_charge_told,
    purchase_fulfil,
    purchase_payment_failed,
)
from buyers.services.hooks import ORDER_PAID_HOOKS, ORDER_REFUNDED_HOOKS
from buyers.services.purchases import (
    SOLD_OUT,
    LineRequest,
    check_quantity,
    order_create,
    purchase_create,
)
from buyers.services.refunds import order_record_dispute, order_record_refund
from buyers.services.shipping import order_mark_fulfilled
from buyers.services.transfers import (
    TRANSFER_BACKOFF,
    order_transfer_create,
    purchase_transfers_create,
    transfer_backoff,
    transfers_retry_due,
)

__all__ = [
    "ORDER_PAID_HOOKS",
    "ORDER_REFUNDED_HOOKS",
    "SESSION_HEADROOM",
    "SOLD_OUT",
    "TRANSFER_BACKOFF",
    "InvalidTransition",
    "LineRequest",
    "_move",
    "_release",
    "check_quantity",
    "order_checkout_url",
    "order_close",
    "order_create",
    "order_fulfil",
    "order_mark_fulfilled",
    "order_payment_failed",
    "order_record_dispute",
    "order_record_refund",
    "order_transfer_create",
    "orders_expire_stale",
    "purchase_charge_told",
    "purchase_checkout_url",
    "purchase_close",
    "purchase_create",
    "purchase_fulfil",
    "purchase_payment_failed",
    "purchase_transfers_create",
    "purchases_expire_stale",
    "transfer_backoff",
    "transfers_retry_due",
]
