from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from marketplace import converters  # noqa: F401  (registers <id:>)
from subscriptions import onsite_views, refund_request_views, views

app_name = "subscriptions"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.subscription_list, name="list"),
    path("success/", views.success, name="success"),
    path("listing/<id:pk>/", views.plans, name="plans"),
    path("plans/<id:pk>/subscribe/", views.subscribe, name="subscribe"),
    path("<id:pk>/", views.subscription_detail, name="detail"),
    path("<id:pk>/change/", views.change_plan, name="change"),
    path("<id:pk>/cancel/", views.cancel, name="cancel"),
    path("<id:pk>/resume/", views.resume, name="resume"),
    path("<id:pk>/cancel-now/", views.cancel_now, name="cancel_now"),
    path("<id:pk>/portal/", views.portal, name="portal"),
    path("<id:pk>/pay/", onsite_views.pay, name="pay"),
    path("<id:pk>/pay/card/", onsite_views.pay_saved_card, name="pay_saved_card"),
    path("<id:pk>/pay/done/", onsite_views.pay_return, name="pay_return"),
    path(
        "<id:pk>/invoices/<id:invoice_pk>/refund-request/",
        refund_request_views.refund_request_new,
        name="refund_request_new",
    ),
    path("seller/", views.seller_home, name="seller"),
    path("seller/listings/<id:pk>/plans/new/", views.plan_new, name="plan_new"),
    path("seller/plans/<id:pk>/", views.plan_edit, name="plan_edit"),
    path("seller/subscribers/<id:pk>/", views.subscriber, name="subscriber"),
    path(
        "seller/subscribers/<id:pk>/usage/<id:record_pk>/correct/",
        views.usage_correct,
        name="usage_correct",
    ),
    path(
        "seller/subscribers/<id:pk>/refund-requests/<id:request_pk>/decline/",
        refund_request_views.refund_request_decline,
        name="refund_request_decline",
    ),
    path("seller/usage.csv/", views.usage_csv, name="usage_csv"),
]
