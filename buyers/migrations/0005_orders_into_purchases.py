"""Each existing order becomes a one-order purchase (a destination charge, as it was paid) with
one line: the listing, title, unit price and quantity the order already held as its snapshot.
The checkout state the purchase now owns (session, deadline, attempts) moves with it."""

from __future__ import annotations

from typing import Any

from django.db import migrations

PURCHASE_STATUS = {"fulfilled": "paid"}


def forwards(apps: Any, schema_editor: Any) -> None:
    Order = apps.get_model("buyers", "Order")
    Purchase = apps.get_model("buyers", "Purchase")
    OrderLine = apps.get_model("buyers", "OrderLine")
    for order in Order.objects.filter(purchase__isnull=True).order_by("pk").iterator():
        purchase = Purchase.objects.create(
            buyer_id=order.buyer_id,
            client_token=order.client_token,
            charge_type="destination",
            currency=order.currency,
            amount=order.amount,
            application_fee_amount=order.application_fee_amount,
            buyer_email=order.buyer_email,
            status=PURCHASE_STATUS.get(order.status, order.status),
            expires_at=order.expires_at,
            payment_processing_since=order.payment_processing_since,
            checkout_attempts=order.checkout_attempts,
            checkout_last_error=order.checkout_last_error,
            checkout_session_id=order.checkout_session_id,
            checkout_url=order.checkout_url,
            payment_intent_id=order.payment_intent_id,
            charge_id=order.charge_id,
            receipt_url=order.receipt_url,
            paid_at=order.paid_at,
            cancel_requested_at=order.cancel_requested_at,
            closed_at=order.closed_at,
        )
        # auto_now_add ignores the value given to create(): keep the order's own dates.
        Purchase.objects.filter(pk=purchase.pk).update(created_at=order.created_at)
        OrderLine.objects.create(
            order_id=order.pk,
            listing_id=order.listing_id,
            title=order.title,
            unit_amount=order.unit_amount,
            quantity=order.quantity,
            amount=order.unit_amount * order.quantity,
        )
        Order.objects.filter(pk=order.pk).update(purchase=purchase)


def backwards(apps: Any, schema_editor: Any) -> None:
    Order = apps.get_model("buyers", "Order")
    for order in Order.objects.select_related("purchase").iterator():
        purchase = order.purchase
        if purchase is None:
            continue
        if order.lines.count() != 1 or purchase.orders.count() != 1:
            raise RuntimeError(
                f"order {order.pk} has several lines or shares its purchase: cannot unmigrate"
            )
        Order.objects.filter(pk=order.pk).update(
            checkout_attempts=purchase.checkout_attempts,
            checkout_last_error=purchase.checkout_last_error,
            checkout_url=purchase.checkout_url,
            cancel_requested_at=purchase.cancel_requested_at,
        )
    apps.get_model("buyers", "OrderLine").objects.all().delete()
    Order.objects.update(purchase=None)
    apps.get_model("buyers", "Purchase").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("buyers", "0004_purchase_orderline_cart")]

    operations = [migrations.RunPython(forwards, backwards)]
