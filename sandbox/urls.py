from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox import views

app_name = "sandbox"
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api"),
    path("", views.control, name="control"),
    path("panel/<slug:name>/", views.panel, name="panel"),
    path("action/<slug:name>/", views.action, name="action"),
    path("onboarding/<str:token>/", views.onboarding, name="onboarding"),
    path("express/<str:token>/", views.express, name="express"),
]
