from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page needs: whether the offline Stripe sandbox is on, the site name."""
    return {
        "STRIPE_SANDBOX": settings.STRIPE_SANDBOX,
        "STRIPE_MODE": settings.STRIPE_MODE,
        "SITE_NAME": settings.SITE_NAME,
    }
