from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from buyers import onsite_views, views
from buyers.aftersale import views as aftersale
from marketplace import converters  # noqa: F401  (registers <id:> and <stripe_id:>)

app_name = "buyers"
urlpatterns: list[URLPattern | URLResolver] = [
    # The catalogue itself is the home page: project/urls.py routes "" to views.catalogue.
    path("listing/<id:pk>/", views.listing_detail, name="listing"),
    path("listing/<id:pk>/buy/", views.listing_buy, name="listing_buy"),
    path("listing/<id:pk>/add-to-cart/", views.cart_add, name="cart_add"),
    path("shop/<slug:slug>/", views.shop, name="shop"),
    path("cart/", views.cart_view, name="cart"),
    path("cart/<id:pk>/quantity/", views.cart_quantity, name="cart_quantity"),
    path("cart/<id:pk>/remove/", views.cart_remove, name="cart_remove"),
    path("cart/<id:pk>/accept-price/", views.cart_accept_price, name="cart_accept_price"),
    path("cart/checkout/", views.cart_checkout, name="cart_checkout"),
    path("purchases/<id:pk>/", views.purchase_detail, name="purchase_detail"),
    path("purchases/<id:pk>/pay/", views.purchase_pay, name="purchase_pay"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<id:pk>/", views.order_detail, name="order_detail"),
    path("orders/<id:pk>/pay/", views.order_pay, name="order_pay"),
    path("orders/<id:pk>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<id:pk>/checkout/canceled/", views.checkout_cancel, name="checkout_cancel"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("sales/", views.sale_list, name="sale_list"),
    path("sales/<id:pk>/", views.sale_detail, name="sale_detail"),
    path("sales/<id:pk>/ship/", views.sale_ship, name="sale_ship"),
    # On-site payment (buyers/onsite_views.py)
    path("purchases/<id:pk>/payment/", onsite_views.purchase_payment, name="purchase_payment"),
    path(
        "purchases/<id:pk>/payment/save-card/",
        onsite_views.purchase_payment_save_card,
        name="purchase_payment_save_card",
    ),
    path(
        "purchases/<id:pk>/payment/saved-card/",
        onsite_views.purchase_payment_saved_card,
        name="purchase_payment_saved_card",
    ),
    path(
        "purchases/<id:pk>/payment/return/",
        onsite_views.purchase_payment_return,
        name="purchase_payment_return",
    ),
    path(
        "purchases/<id:pk>/payment/hosted/",
        onsite_views.purchase_payment_hosted,
        name="purchase_payment_hosted",
    ),
    path("payment-methods/", onsite_views.payment_methods, name="payment_methods"),
    path("payment-methods/add/", onsite_views.payment_methods_add, name="payment_methods_add"),
    path(
        "payment-methods/added/", onsite_views.payment_methods_added, name="payment_methods_added"
    ),
    path(
        "payment-methods/<stripe_id:pm>/default/",
        onsite_views.payment_method_default,
        name="payment_method_default",
    ),
    path(
        "payment-methods/<stripe_id:pm>/remove/",
        onsite_views.payment_method_remove,
        name="payment_method_remove",
    ),
    path("sales/<id:pk>/accept/", onsite_views.sale_accept, name="sale_accept"),
    path("sales/<id:pk>/decline/", onsite_views.sale_decline, name="sale_decline"),
]
urlpatterns += [
    path("orders/<id:pk>/problem/", aftersale.problem_new, name="problem_new"),
    path(
        "orders/<id:pk>/problem/<id:report_id>/escalate/",
        aftersale.problem_escalate,
        name="problem_escalate",
    ),
    path("orders/<id:pk>/messages/", aftersale.order_messages, name="order_messages"),
    path("orders/<id:pk>/review/", aftersale.review_new, name="review_new"),
    path("sales/<id:pk>/review/reply/", aftersale.review_reply, name="review_reply"),
    path("sales/requests/", aftersale.sale_problems, name="sale_problems"),
]
