"""The root URL configuration: mounts every app (it sits above all of them, see pyproject's
import-linter contracts); the sandbox only in sandbox mode."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from buyers import views as buyers_views
from marketplace import converters, views  # noqa: F401  (converters: <id:>, <stripe_id:>)

urlpatterns: list[URLPattern | URLResolver] = [
    # The home page is the catalogue.
    path("", buyers_views.catalogue, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # The audit log of staff actions (staff with a second factor).
    path("staff/audit/", include("marketplace.audit.urls")),
    # Stripe webhooks: /stripe/webhook/ and /stripe/webhook/connect/.
    path("stripe/", include("marketplace.events.urls")),
    # Seller onboarding, dashboard and listings.
    path("sell/", include("sellers.urls")),
    # Subscriptions: plans on listings, buyers' subscriptions, sellers' subscribers.
    path("subscriptions/", include("subscriptions.urls")),
    # Balances, payouts, refunds, fee rules, transfer review.
    path("money/", include("payouts.urls")),
    # Catalogue, checkout and orders.
    path("", include("buyers.urls")),
]

if settings.STRIPE_SANDBOX:
    # The offline Stripe: API at /sandbox/v1/..., hosted pages and the control page.
    # Never mounted when real Stripe keys are set.
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))

if settings.SERVE_MEDIA:
    # static() only works with DEBUG on; serve uploads explicitly so production images show too.
    urlpatterns.append(
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$",
            views.media,
        )
    )

handler403 = "marketplace.views.error_403"
handler404 = "marketplace.views.error_404"
handler500 = "marketplace.views.error_500"

admin.site.site_header = "Marketplace administration"
admin.site.site_title = "Marketplace admin"
