"""Extension points for apps downstream (payouts: ledger entries).

Each hook is called with the order inside the transaction that marks it paid / refunded; raising
rolls that back (and the webhook is retried). Register from the app's ``ready()``:
``ORDER_PAID_HOOKS.append(func)``. The services read the lists through this module
(``hooks.ORDER_PAID_HOOKS``), so a test replaces them here.
"""

from __future__ import annotations

from collections.abc import Callable

from buyers.models import Order

ORDER_PAID_HOOKS: list[Callable[[Order], None]] = []
ORDER_REFUNDED_HOOKS: list[Callable[[Order], None]] = []
