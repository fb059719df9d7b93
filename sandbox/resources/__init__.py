"""Resource modules: importing this package registers every route (``sandbox.router.route``).

To add a resource, create ``sandbox/resources/<name>.py`` with ``@route(...)`` functions and
import it below.
"""

from sandbox.resources import (  # noqa: F401
    accounts,
    balances,
    billing_meters,
    billing_portal,
    capabilities,
    checkout,
    customers,
    disputes,
    events,
    files,
    invoices,
    payments,
    payments_control,
    payouts,
    products,
    refunds,
    setup_intents,
    subscriptions,
    transfers,
    webhook_endpoints,
)
