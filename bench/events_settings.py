"""Settings of the events benchmarks: the project's settings plus a bench-only URLconf and a
middleware that reports, per request, the SQL queries run and the Stripe calls made."""

from marketplace.settings import *  # noqa: F403
from marketplace.settings import MIDDLEWARE

ROOT_URLCONF = "bench.events_urls"
MIDDLEWARE = ["bench.events_urls.CountingMiddleware", *MIDDLEWARE]
CELERY_TASK_DEFAULT_QUEUE = "bench-events"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
