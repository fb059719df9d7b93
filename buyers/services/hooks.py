"""Extension points for apps downstream (payouts: ledger entries).

Each hook is called with the order inside the transaction that marks it paid / refunded; raising
rolls that back (and the webhook is retried). Register from the app's ``ready()``:
``ORDER_PAID_HOOKS.append(func)``. The services read the lists through this module
(``hooks.ORDER_PAID_HOOKS``), so a test replaces them here.
"""

from __future__ import annotations

from collections.abc import Callable

from buyers.models import Order
from marketplace.stripe_results import Charge

ORDER_PAID_HOOKS: list[Callable[[Order], None]] = []
# Called with the payment's charge as the fulfilment's one read of the Checkout Session told it
# (``CheckoutSession.charge``, its balance transaction expanded), once the purchase is recorded
# paid, so that the ledger records it without reading it again. In a savepoint of its own:
# a hook that raises is logged and rolled back alone (the charge's own events record it then).
PAYMENT_READ_HOOKS: list[Callable[[Charge], None]] = []
ORDER_REFUNDED_HOOKS: list[Callable[[Order], None]] = []
