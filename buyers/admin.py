from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from buyers.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: orders change through services (Stripe events, buyers, sellers), never by hand."""

    list_display = ["id", "title", "quantity", "amount", "currency", "status", "buyer_email"]
    list_filter = ["status", "currency"]
    search_fields = ["id", "title", "buyer_email", "checkout_session_id", "payment_intent_id"]
    list_select_related = ["seller"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False
