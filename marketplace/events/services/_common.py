"""Names the event services share: statuses, sources, settings with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from marketplace.events.models import StripeEvent

Status = StripeEvent.Status
Source = StripeEvent.Source
PENDING = (Status.RECEIVED, Status.FAILED)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)
