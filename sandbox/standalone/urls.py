"""URLs of the standalone sandbox: the API at ``/v1/`` (SDKs' base URL is the server's root,
as with api.stripe.com) and at ``/sandbox/v1/``, hosted pages and the control page under
``/sandbox/``; ``/`` redirects to the control page."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView

from sandbox import views

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api_root"),
    path("sandbox/", include("sandbox.urls")),
    path("", RedirectView.as_view(url="/sandbox/", permanent=False)),
]
