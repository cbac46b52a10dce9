"""What the webhook endpoints read and write."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from caretrust.api.serializers import StrictSerializerMixin
from caretrust.events import webhooks
from caretrust.events.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription

EVENT_TYPES_HELP = "Exact types (referral.accepted), a prefix (referral.*) or every type (*)."


class SubscriptionSerializer(serializers.ModelSerializer):
    enabled = serializers.SerializerMethodField()
    previous_secret_valid_until = serializers.SerializerMethodField()
    event_types = serializers.ListField(child=serializers.CharField(), help_text=EVENT_TYPES_HELP)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "enabled",
            "disabled_reason",
            "previous_secret_valid_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_enabled(self, obj: WebhookSubscription) -> bool:
        return obj.is_active

    def get_previous_secret_valid_until(self, obj: WebhookSubscription) -> str | None:
        """Until when the previous secret signs as well (after a rotation), else null."""
        until = obj.previous_secret_expires_at
        return until.isoformat() if obj.previous_secret and until else None


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (whsec_...). Shown only in this response: keep it."
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    url = serializers.CharField(
        max_length=2000, help_text="https:// (http only for localhost in development)."
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=80),
        min_length=1,
        max_length=webhooks.MAX_EVENT_TYPES,
        help_text=EVENT_TYPES_HELP,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SubscriptionUpdateSerializer(SubscriptionCreateSerializer):
    enabled = serializers.BooleanField(
        required=False, help_text="false stops sending; true resumes, in order."
    )


class RotateSecretSerializer(StrictSerializerMixin, serializers.Serializer):
    grace_period_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(webhooks.LONGEST_GRACE.total_seconds()),
        default=int(webhooks.DEFAULT_GRACE.total_seconds()),
        help_text="How long the old secret keeps signing as well (default a day, at most 7).",
    )


class DeliverySerializer(serializers.ModelSerializer):
    subscription = serializers.UUIDField(source="subscription_id", read_only=True)
    event_id = serializers.UUIDField(
        source="event.event_id", read_only=True, help_text="The webhook-id header it is sent with."
    )
    event_type = serializers.CharField(source="event.type", read_only=True)
    next_attempt_at = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
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
        ]
        read_only_fields = fields

    def get_next_attempt_at(self, obj: WebhookDelivery) -> str | None:
        """When it is next tried (pending only), else null."""
        return obj.next_attempt_at.isoformat() if obj.status == "pending" else None


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "attempted_at",
            "status_code",
            "duration_ms",
            "response_excerpt",
            "error",
        ]
        read_only_fields = fields


def with_secret(subscription: WebhookSubscription, secret: str) -> dict[str, Any]:
    data = dict(SubscriptionSerializer(subscription).data)
    data["secret"] = secret
    return data
