"""Admin of the payouts app: read-only views of immutable money rows (changes go through the
staff pages and services, which keep the history)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payouts.models import (
    AwaitedStripeFee,
    Dispute,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    ReconciliationRun,
    SellerBalance,
)
from sellers.models import FeeRule


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FeeRule)
class FeeRuleAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "scope",
        "seller",
        "category",
        "starts_on",
        "bps",
        "is_active",
        "created_by",
        "created_at",
    )
    list_filter = ("scope", "is_active")
    list_select_related = ("seller", "category", "created_by")


class LedgerEntryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LedgerEntry
    extra = 0
    can_delete = False
    fields = ("account", "amount", "currency")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "stripe_object_id", "seller", "order_id", "occurred_at")
    list_filter = ("kind",)
    search_fields = ("stripe_object_id",)
    list_select_related = ("seller",)
    inlines = [LedgerEntryInline]


@admin.register(AwaitedStripeFee)
class AwaitedStripeFeeAdmin(ReadOnlyAdmin):
    """Stripe processing fees not recorded yet (``payouts/services/stripe_fees.py``): usually
    empty; rows that stay mean Stripe's balance transactions could not be read."""

    list_display = ("balance_transaction_id", "charge_id", "currency", "seller", "awaited_at")
    search_fields = ("balance_transaction_id", "charge_id")
    list_select_related = ("seller",)


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = (
        "stripe_id",
        "seller",
        "amount",
        "currency",
        "status",
        "arrival_date",
        "failure_code",
    )
    list_filter = ("status", "currency")
    search_fields = ("stripe_id",)


@admin.register(SellerBalance)
class SellerBalanceAdmin(ReadOnlyAdmin):
    list_display = ("seller", "ledger", "stripe_available", "stripe_pending", "stripe_refreshed_at")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "period_start",
        "period_end",
        "status",
        "stripe_transactions",
        "missing_in_ledger",
        "missing_in_stripe",
        "amount_mismatches",
    )
    list_filter = ("status",)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = (
        "stripe_id",
        "order_id",
        "seller",
        "amount",
        "currency",
        "status",
        "evidence_due_by",
    )
    list_filter = ("status",)
    search_fields = ("stripe_id", "charge_id")
