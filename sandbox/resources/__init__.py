"""Resource modules: importing this package registers every route (``sandbox.router.route``).

To add a resource, create ``sandbox/resources/<name>.py`` with ``@route(...)`` functions and
import it below.
"""

from sandbox.resources import accounts, events, webhook_endpoints  # noqa: F401
