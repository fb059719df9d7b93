from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from marketplace import converters  # noqa: F401  (registers <id:> and <stripe_id:>)
from sellers import views

app_name = "sellers"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    path("start/", views.start, name="start"),
    path("settings/", views.shop_settings, name="settings"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("onboarding/update/", views.onboarding_update, name="onboarding_update"),
    path(
        "onboarding/refresh/<stripe_id:account_id>/",
        views.onboarding_refresh,
        name="onboarding_refresh",
    ),
    path("stripe-dashboard/", views.stripe_dashboard, name="stripe_dashboard"),
    path("listings/new/", views.listing_new, name="listing_new"),
    path("listings/fee-preview/", views.fee_preview, name="fee_preview"),
    path("listings/<id:listing_id>/edit/", views.listing_edit, name="listing_edit"),
    path("listings/<id:listing_id>/publish/", views.listing_publish, name="listing_publish"),
    path("listings/<id:listing_id>/pause/", views.listing_pause, name="listing_pause"),
    path("listings/<id:listing_id>/unpause/", views.listing_unpause, name="listing_unpause"),
    path("listings/<id:listing_id>/delete/", views.listing_delete, name="listing_delete"),
    path(
        "listings/<id:listing_id>/images/<id:image_id>/delete/",
        views.listing_image_delete,
        name="listing_image_delete",
    ),
]
