from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox import billing_views, payment_views, stripejs, views
from sandbox.access import require_open

# Path parameters that reach the database are Stripe-shaped ids or link tokens (ASCII letters,
# digits, underscores, bounded length); anything else (a NUL byte, "..", unicode) is a 404 here.
_TOKEN = r"[A-Za-z0-9]{1,64}"


def _id(prefix: str) -> str:
    return rf"{prefix}_[A-Za-z0-9_]{{1,250}}"


app_name = "sandbox"
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^v1/(?P<path>.*)$", views.api, name="api"),
    path("", views.control, name="control"),
    path("panel/<slug:name>/", views.panel, name="panel"),
    path("action/<slug:name>/", views.action, name="action"),
    re_path(rf"^onboarding/(?P<token>{_TOKEN})/$", views.onboarding, name="onboarding"),
    re_path(rf"^express/(?P<token>{_TOKEN})/$", views.express, name="express"),
    # payments (hosted checkout, 3D Secure challenge, receipts)
    re_path(
        rf"^checkout/(?P<session_id>{_id('cs')})/$", payment_views.checkout_page, name="checkout"
    ),
    re_path(
        rf"^authenticate/(?P<intent_id>{_id('(?:pi|seti)')})/$",
        payment_views.authenticate,
        name="authenticate",
    ),
    # the stand-in Stripe.js (https://js.stripe.com/v3/) and its stylesheet
    path("js/v3/", stripejs.stripe_js, name="stripe_js"),
    path("js/v3/elements.css", stripejs.elements_css, name="stripe_js_css"),
    re_path(
        rf"^receipts/(?P<charge_id>{_id('(?:ch|py)')})/$", payment_views.receipt, name="receipt"
    ),
    # billing (hosted invoice page, customer portal)
    re_path(
        rf"^invoice/(?P<invoice_id>{_id('in')})/(?P<token>{_TOKEN})/$",
        billing_views.invoice_page,
        name="invoice",
    ),
    re_path(
        rf"^portal/(?P<session_id>{_id('bps')})/(?P<token>{_TOKEN})/$",
        billing_views.portal_page,
        name="portal",
    ),
]

# Every sandbox URL, including any added above later, answers only when the sandbox is open to
# HTTP (sandbox.access): closed, each one is a 404 whatever the path.
for _pattern in urlpatterns:
    if isinstance(_pattern, URLPattern):
        _pattern.callback = require_open(_pattern.callback)
