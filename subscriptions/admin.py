from __future__ import annotations

from django.contrib import admin

from subscriptions.models import Plan, Subscription, SubscriptionInvoice, UsageRecord


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id",
        "name",
        "listing",
        "seller",
        "amount",
        "currency",
        "interval",
        "is_active",
    )
    readonly_fields = [f.name for f in Plan._meta.fields]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "buyer", "plan", "seller", "status", "current_period_end")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Subscription._meta.fields]


@admin.register(SubscriptionInvoice)
class SubscriptionInvoiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("stripe_invoice_id", "subscription", "status", "amount_due", "currency")
    readonly_fields = [f.name for f in SubscriptionInvoice._meta.fields]


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "subscription", "quantity", "status", "occurred_at")
    readonly_fields = [f.name for f in UsageRecord._meta.fields]
