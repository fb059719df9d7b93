import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

application = get_wsgi_application()


def _warm() -> None:
    """Do at worker start what the first request of each worker would otherwise pay (1-4 s on a
    busy machine): import every view module through the URLconf, the Stripe SDK through the
    gateway, and the template engines' loaders and built-in tag libraries."""
    from django.template import engines
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver._populate()  # imports the views of every app, reverse maps built
    for backend in engines.all():
        inner = getattr(backend, "engine", None)  # Django's template engine
        if inner is not None:
            inner.template_loaders  # noqa: B018 - a cached property: builds the loaders
    import marketplace.stripe_gateway  # noqa: F401 - the SDK is a large import


_warm()
