from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox import payment_views, views

app_name = "sandbox"
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api"),
    path("", views.control, name="control"),
    path("panel/<slug:name>/", views.panel, name="panel"),
    path("action/<slug:name>/", views.action, name="action"),
    path("onboarding/<str:token>/", views.onboarding, name="onboarding"),
    path("express/<str:token>/", views.express, name="express"),
    # payments (hosted checkout, 3D Secure challenge, receipts)
    path("checkout/<str:session_id>/", payment_views.checkout_page, name="checkout"),
    path("authenticate/<str:intent_id>/", payment_views.authenticate, name="authenticate"),
    path("receipts/<str:charge_id>/", payment_views.receipt, name="receipt"),
]
