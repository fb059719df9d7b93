"""The sandbox on its own (``make sandbox``): only the Stripe sandbox (API at ``/v1/``, hosted
pages and the control page under ``/sandbox/``, webhook deliveries, the clock), with its own
settings, port and SQLite database, for services in other languages and Stripe's other SDKs."""
