"""Turn the usual start-up failures (database or broker down) into one readable line."""

from __future__ import annotations


def describe_startup_error(exc: BaseException) -> str | None:
    """A one-line description of a known start-up failure, or None to let it propagate."""
    from django.conf import settings
    from django.db.utils import OperationalError

    if isinstance(exc, OperationalError):
        db = settings.DATABASES["default"]
        where = db.get("HOST") or db.get("NAME")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot reach the database ({db['ENGINE'].rsplit('.', 1)[-1]} at {where}): {first}"
    try:
        from kombu.exceptions import OperationalError as BrokerError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, BrokerError):
        return f"cannot reach the Celery broker at REDIS_URL: {exc}"
    return None
