from __future__ import annotations

from django.urls import URLPattern, URLResolver, re_path

from sandbox import views

app_name = "sandbox"
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api"),
]
