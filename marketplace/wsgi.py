import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

application = get_wsgi_application()


def _warm() -> None:
    """Do at worker start what the first request of each worker would otherwise pay (1-4 s on a
    busy machine): import every view module through the URLconf, the Stripe SDK through the
    gateway, the template engines' loaders and built-in tag libraries, the cache's Redis client
    and Celery's producer (the first webhook of a worker wakes the event workers through both:
    about 1 s of imports and set-up on a busy machine). Nothing here connects to anything."""
    from django.core.cache import caches
    from django.template import engines
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver._populate()  # imports the views of every app, reverse maps built
    for backend in engines.all():
        inner = getattr(backend, "engine", None)  # Django's template engine
        if inner is not None:
            inner.template_loaders  # noqa: B018 - a cached property: builds the loaders
    import marketplace.stripe_gateway  # noqa: F401 - the SDK is a large import

    cache = caches["default"]
    make_client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if make_client is not None:  # RedisCache: imports redis-py, builds the pool (no connection)
        make_client(write=True)
    from marketplace.celery import app

    app.finalize(auto=True)  # registers every task (autodiscovery imports each tasks module)
    # Cached properties, built on first use: the sender of task messages (with its event
    # dispatcher), the result backend, the producer pool, and the broker's transport (imported).
    app.amqp.send_task_message  # noqa: B018
    app.backend  # noqa: B018
    app.producer_pool  # noqa: B018
    app.connection_for_write().transport  # noqa: B018


_warm()
# Everything loaded so far (Django, the apps, the SDK: most of the process's objects) lives as long
# as the worker: moved out of the collector's generations, so the full collections a request
# sometimes triggers no longer walk it (tens of ms on a busy machine, seen in the p99 latency).
# Applies to every view alike; the objects' memory stays as it was.
gc.collect()
gc.freeze()
