from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from marketplace.events import views

app_name = "events"
urlpatterns: list[URLPattern | URLResolver] = [
    path("webhook/", views.webhook, name="webhook"),
    path("webhook/connect/", views.webhook_connect, name="webhook_connect"),
]
