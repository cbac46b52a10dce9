"""Partner webhooks in the admin: for an operator to see what was sent where and what came
back, disable or enable a subscription, and resend deliveries. Secrets and payloads are never
shown (a payload may name a person; the admin acts for no agency). Every change goes through
``caretrust.events.webhooks``, so it is audited like the API's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from caretrust.events import webhooks
from caretrust.events.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription
from caretrust.sharing.admin import ReadOnlyAdmin


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "client", "url", "event_types", "disabled_at", "created_at"]
    list_filter = ["disabled_at"]
    fields = (
        "id",
        "client",
        "url",
        "event_types",
        "description",
        "disabled_at",
        "disabled_reason",
        "previous_secret_expires_at",
        "version",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["disable", "enable"]

    @admin.action(description="Disable the selected subscriptions")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset.select_related("client__agency"):
            webhooks.disable_subscription(
                subscription=subscription, reason="Disabled by an administrator.", by=request.user
            )
        self.message_user(request, "Disabled.", messages.SUCCESS)

    @admin.action(description="Enable the selected subscriptions (pending deliveries resume)")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset.select_related("client__agency"):
            webhooks.update_subscription(
                subscription=subscription,
                expected_version=subscription.version,
                changes={"enabled": True},
                by=request.user,
            )
        self.message_user(request, "Enabled.", messages.SUCCESS)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "duration_ms", "response_excerpt", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "subscription",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "status",
        "tries",
        "last_status_code",
        "next_attempt_at",
    ]
    list_filter = ["status"]
    list_select_related = ["event", "subscription"]
    fields = (
        "id",
        "subscription",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "status",
        "tries",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "last_status_code",
        "last_error",
    )
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["resend"]

    @admin.display(description="event type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.action(description="Resend the selected deliveries")
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for delivery in queryset:
            webhooks.resend_delivery(delivery=delivery, by=request.user)
            count += 1
        self.message_user(request, f"{count} delivery(ies) queued to be sent again.")
