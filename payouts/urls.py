from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from marketplace import converters  # noqa: F401  (registers <id:> and <stripe_id:>)
from payouts import aftersale_views, invoice_refund_views, staff_order_refund_views, views

app_name = "payouts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("fees/", views.fee_rules, name="fee_rules"),
    path("fees/new/", views.fee_rule_new, name="fee_rule_new"),
    path("fees/<id:rule_id>/retire/", views.fee_rule_retire, name="fee_rule_retire"),
    path("fees/simulate/", views.fee_simulate, name="fee_simulate"),
]
urlpatterns += [
    path("balance/", views.balance, name="balance"),
    path("balance/refresh/", views.balance_refresh, name="balance_refresh"),
    path("balance/export.csv", views.balance_export, name="balance_export"),
]
urlpatterns += [
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/export.csv", views.transfers_export, name="transfers_export"),
    path("transfers/<id:transaction_id>/", views.transfer_detail, name="transfer_detail"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<id:dispute_id>/", views.dispute_detail, name="dispute_detail"),
    path("sales/<id:order_id>/refund/", views.sale_refund, name="sale_refund"),
    path("sales/<id:order_id>/dispute/", views.sale_dispute_answer, name="sale_dispute_answer"),
]
urlpatterns += [
    path("reconciliation/", views.reconciliation, name="reconciliation"),
]
urlpatterns += [
    path("refunds/", views.refunds, name="refunds"),
    path("refunds/<stripe_id:charge_id>/new/", views.refund_new, name="refund_new"),
]
urlpatterns += [path("dashboard/", views.dashboard, name="dashboard")]
urlpatterns += [
    path("refunds/requests/<id:report_id>/", aftersale_views.problem_detail, name="problem_detail"),
    path(
        "refunds/requests/<id:report_id>/grant/",
        aftersale_views.problem_grant,
        name="problem_grant",
    ),
    path(
        "refunds/requests/<id:report_id>/decline/",
        aftersale_views.problem_decline,
        name="problem_decline",
    ),
    path("reviews/", aftersale_views.reviews, name="reviews"),
]
urlpatterns += [
    path(
        "subscriptions/invoices/<id:invoice_id>/refund/",
        invoice_refund_views.invoice_refund,
        name="invoice_refund",
    ),
]
urlpatterns += [
    path(
        "refunds/orders/<id:order_id>/new/",
        staff_order_refund_views.staff_order_refund,
        name="staff_order_refund",
    ),
]
