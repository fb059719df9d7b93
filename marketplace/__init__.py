"""The marketplace project package and the shared core the apps lean on."""

from marketplace.celery import app as celery_app

__all__ = ["celery_app"]
