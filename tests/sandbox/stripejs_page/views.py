"""A minimal page that uses the sandbox's stand-in Stripe.js, for the browser tests only (the
marketplace's own payment pages live in buyers/): ``/stripejs-test/?client_secret=...&mode=payment
|setup&redirect=always|if_required``. Its script is a separate file (the site's CSP allows no
inline script without a nonce)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import format_html

from project.urls import handler403, handler404, handler500  # noqa: F401
from project.urls import urlpatterns as project_urlpatterns

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe.js test page</title></head>
<body>
<main id="app" data-pk="{pk}" data-client-secret="{secret}" data-mode="{mode}"
      data-redirect="{redirect}" data-return-url="{return_url}" data-save="{save}"
      data-payment-method="{payment_method}">
<h1>Pay (test page)</h1>
<form id="payment-form">
  <div id="payment-element"></div>
  <button type="submit" id="pay">Pay</button>
</form>
<p id="message" role="status"></p>
</main>
<script src="/sandbox/js/v3/"></script>
<script src="/stripejs-test/app.js"></script>
</body></html>"""


def page(request: HttpRequest) -> HttpResponse:
    html = format_html(
        PAGE,
        pk=request.GET.get("pk", settings.SANDBOX_PUBLISHABLE_KEY),
        secret=request.GET.get("client_secret", ""),
        mode=request.GET.get("mode", "payment"),
        redirect=request.GET.get("redirect", "if_required"),
        return_url=request.build_absolute_uri("/stripejs-test/returned/"),
        save=request.GET.get("save", ""),
        payment_method=request.GET.get("payment_method", ""),
    )
    return HttpResponse(html)


def app_js(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        (Path(__file__).parent / "app.js").read_bytes(), content_type="text/javascript"
    )


def returned(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        format_html(
            '<!doctype html><html lang="en"><head><title>Returned</title></head><body><main>'
            '<h1>Returned</h1><p id="query">{}</p></main></body></html>',
            request.META.get("QUERY_STRING", ""),
        )
    )


urlpatterns = [
    path("stripejs-test/", page),
    path("stripejs-test/app.js", app_js),
    path("stripejs-test/returned/", returned),
    *project_urlpatterns,
]
