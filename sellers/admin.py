"""Admin for sellers, listings and categories. Status changes go through the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.errors import UserFacingError
from marketplace.stripe_gateway import GatewayError
from sellers import services
from sellers.models import Category, Listing, ListingImage, Seller
from sellers.requirements import requirements_text

if TYPE_CHECKING:
    SellerAdminBase = admin.ModelAdmin[Seller]
    ListingAdminBase = admin.ModelAdmin[Listing]
    CategoryAdminBase = admin.ModelAdmin[Category]
    ImageInlineBase = admin.TabularInline[ListingImage, Listing]
else:
    SellerAdminBase = ListingAdminBase = CategoryAdminBase = admin.ModelAdmin
    ImageInlineBase = admin.TabularInline

MIRROR_FIELDS = (
    "stripe_account_id",
    "charges_enabled",
    "payouts_enabled",
    "details_submitted",
    "requirements_currently_due",
    "requirements_past_due",
    "requirements_eventually_due",
    "requirements_current_deadline",
    "requirements_disabled_reason",
    "account_synced_at",
)


@admin.register(Seller)
class SellerAdmin(SellerAdminBase):
    list_display = (
        "display_name",
        "slug",
        "email",
        "country",
        "status",
        "charges_enabled",
        "payouts_enabled",
        "details_submitted",
        "requirements_due",
        "needs_attention",
    )
    list_filter = ("status", "needs_attention", "charges_enabled", "payouts_enabled", "country")
    search_fields = ("display_name", "slug", "user__email", "stripe_account_id")
    readonly_fields = (
        *MIRROR_FIELDS,
        "status",
        "status_reason",
        "status_changed_at",
        "disconnected_at",
        "requirements_in_words",
        "created_at",
        "updated_at",
    )
    fields = (
        "user",
        "display_name",
        "slug",
        "country",
        "default_currency",
        "status",
        "status_reason",
        "status_changed_at",
        "disconnected_at",
        "needs_attention",
        *MIRROR_FIELDS,
        "requirements_in_words",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("user",)
    actions = ("suspend", "reinstate", "sync_from_stripe", "clear_attention")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Seller]:
        return super().get_queryset(request).select_related("user")

    @admin.display(ordering="user__email")
    def email(self, seller: Seller) -> str:
        return str(seller.user.email)

    @admin.display(description="Due now")
    def requirements_due(self, seller: Seller) -> int:
        return len(seller.requirements_currently_due or []) + len(
            seller.requirements_past_due or []
        )

    @admin.display(description="Requirements in plain words")
    def requirements_in_words(self, seller: Seller) -> str:
        due = requirements_text(
            (seller.requirements_past_due or []) + (seller.requirements_currently_due or [])
        )
        return "; ".join(due) or "nothing due"

    @admin.action(description="Suspend selected sellers (listings hidden, no new checkouts)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Seller]) -> None:
        self._each(
            request,
            queryset,
            "suspended",
            lambda s: services.seller_suspend(seller=s, reason=f"Suspended by {request.user}"),
        )

    @admin.action(description="Reinstate selected sellers")
    def reinstate(self, request: HttpRequest, queryset: QuerySet[Seller]) -> None:
        self._each(request, queryset, "reinstated", lambda s: services.seller_reinstate(seller=s))

    @admin.action(description="Re-read the Stripe account of selected sellers")
    def sync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Seller]) -> None:
        self._each(request, queryset, "synced", lambda s: services.seller_sync_account(seller=s))

    @admin.action(description="Mark as looked at (clear the attention flag)")
    def clear_attention(self, request: HttpRequest, queryset: QuerySet[Seller]) -> None:
        self._each(
            request, queryset, "cleared", lambda s: services.seller_clear_attention(seller=s)
        )

    def _each(self, request: HttpRequest, queryset: QuerySet[Seller], done: str, call: Any) -> None:
        count = 0
        for seller in queryset:
            try:
                call(seller)
            except (UserFacingError, GatewayError) as exc:
                self.message_user(request, f"{seller}: {exc}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, f"{count} seller(s) {done}.", messages.SUCCESS)


class ListingImageInline(ImageInlineBase):
    model = ListingImage
    extra = 0


@admin.register(Listing)
class ListingAdmin(ListingAdminBase):
    list_display = (
        "title",
        "seller",
        "category",
        "price_display",
        "stock",
        "reserved",
        "sold",
        "status",
        "created_at",
    )
    list_filter = ("status", "currency", "category")
    search_fields = ("title", "seller__display_name", "seller__slug")
    raw_id_fields = ("seller",)
    readonly_fields = ("reserved", "sold", "published_at", "created_at", "updated_at")
    inlines = (ListingImageInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Listing]:
        return super().get_queryset(request).select_related("seller", "category")

    @admin.display(description="Price", ordering="price_amount")
    def price_display(self, listing: Listing) -> str:
        return str(listing.price)


@admin.register(Category)
class CategoryAdmin(CategoryAdminBase):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
