"""Admin for Stripe events: filter, search, read payload and error, replay. Read-only otherwise."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from marketplace.events.models import StripeEvent, WebhookEndpoint
from marketplace.events.services.replay import events_replay

if TYPE_CHECKING:
    EventAdminBase = admin.ModelAdmin[StripeEvent]
    EndpointAdminBase = admin.ModelAdmin[WebhookEndpoint]
else:
    EventAdminBase = EndpointAdminBase = admin.ModelAdmin

EVENT_FIELDS = [
    "stripe_id",
    "type",
    "account",
    "livemode",
    "api_version",
    "created",
    "source",
    "status",
    "ignored_reason",
    "attempts",
    "next_attempt_at",
    "received_at",
    "processed_at",
    "updated_at",
    "error",
    "payload_pretty",
]
ENDPOINT_FIELDS = ["kind", "url", "stripe_id", "created_at"]


@admin.register(StripeEvent)
class StripeEventAdmin(EventAdminBase):
    list_display = [
        "stripe_id",
        "type",
        "account",
        "status",
        "source",
        "attempts",
        "created",
        "received_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "source", "type", "livemode", "account"]
    search_fields = ["=stripe_id", "=account", "type"]
    date_hierarchy = "created"
    ordering = ["-id"]
    show_full_result_count = False
    actions = ["replay"]
    fields = tuple(EVENT_FIELDS)
    readonly_fields = EVENT_FIELDS

    @admin.display(description="Payload")
    def payload_pretty(self, obj: StripeEvent) -> str:
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    @admin.display(description="Last error")
    def error(self, obj: StripeEvent) -> str:
        if not obj.last_error and not obj.last_traceback:
            return "-"
        return format_html(
            '<strong>{}</strong><pre style="white-space: pre-wrap">{}</pre>',
            obj.last_error,
            obj.last_traceback,
        )

    @admin.action(
        description="Replay selected events (run their handlers again)", permissions=["replay"]
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[StripeEvent]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        count = events_replay(event_ids=ids)
        skipped = len(ids) - count
        message = f"Re-queued {count} event(s) for processing."
        if skipped:
            message += f" {skipped} being processed right now were left alone."
        self.message_user(request, message, messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        replay = self.admin_site.admin_view(require_POST(self.replay_one))
        return [
            path("<int:event_id>/replay/", replay, name="events_stripeevent_replay"),
            *super().get_urls(),
        ]

    def replay_one(self, request: HttpRequest, event_id: int) -> HttpResponse:
        """The detail page's "Replay this event" button."""
        if not self.has_replay_permission(request):
            raise PermissionDenied
        event = get_object_or_404(StripeEvent, pk=event_id)
        if events_replay(event_ids=[event.pk]):
            self.message_user(request, f"Re-queued {event.stripe_id} for processing.")
        else:
            self.message_user(
                request, f"{event.stripe_id} is being processed right now.", messages.WARNING
            )
        return HttpResponseRedirect(reverse("admin:events_stripeevent_change", args=[event.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        context["can_replay"] = self.has_replay_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("events.change_stripeevent")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(EndpointAdminBase):
    list_display = ["kind", "url", "stripe_id", "created_at"]
    fields = tuple(ENDPOINT_FIELDS)
    readonly_fields = ENDPOINT_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
