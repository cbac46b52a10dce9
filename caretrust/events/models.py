"""The outbox: every domain event, written in the transaction of the change it announces."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class OutboxEvent(models.Model):
    """One event: what happened (``type``, e.g. ``care_package.authorised``), to which
    aggregate, with a payload of ids and amounts (never people's data beyond ids).

    ``dispatched_at`` is set once every handler has taken it; until then it is retried, and the
    later events of the same aggregate wait behind it, so each aggregate's events are handled
    in the order they happened."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=80)
    aggregate_type = models.CharField(max_length=60)
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(db_default=Now())
    request_id = models.CharField(max_length=64, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    last_error = models.TextField(blank=True)
    # The agencies the event concerns (ids), the only ones whose partners may be sent it:
    # empty, as by default, means no partner delivery at all (see webhooks.py).
    agencies = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["aggregate_type", "aggregate_id", "id"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_pending_by_aggregate",
            ),
            models.Index(
                fields=["id"], condition=Q(dispatched_at__isnull=True), name="outbox_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.aggregate_type}:{self.aggregate_id} (#{self.id})"


class HandledEvent(models.Model):
    """That handler ``handler`` has taken event ``event``, committed with the handler's own
    writes: a handler runs once per event, however often the event is dispatched."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="handled")
    handler = models.CharField(max_length=200)
    handled_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="handled_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} took #{self.event_id}"


class WebhookAction(models.TextChoices):
    """The audit trail's actions for partner webhooks."""

    SUBSCRIPTION_CREATED = "webhook.subscription_created", "Webhook subscription created"
    SUBSCRIPTION_CHANGED = "webhook.subscription_changed", "Webhook subscription changed"
    SUBSCRIPTION_DELETED = "webhook.subscription_deleted", "Webhook subscription deleted"
    SECRET_ROTATED = "webhook.secret_rotated", "Webhook secret rotated"
    SUBSCRIPTION_DISABLED = "webhook.subscription_disabled", "Webhook subscription disabled"
    DELIVERY_RESENT = "webhook.delivery_resent", "Webhook delivery resent"
    EVENT_SENT = "webhook.event_sent", "Event about a person sent to a partner"


class WebhookSubscription(models.Model):
    """A partner client's endpoint and the event types it wants (exact, ``prefix.*`` or
    ``*``). It is sent only events that concern its client's agency (``OutboxEvent.agencies``)
    and, when an event names a person, only while that agency may see the person.

    ``secret`` signs every delivery (Standard Webhooks: ``whsec_`` + base64); after a rotation
    ``previous_secret`` signs as well until ``previous_secret_expires_at``. Both are kept in
    clear because signing needs them; the API shows a secret once, when it is made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        "api.PartnerClient", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=2000)
    event_types = ArrayField(models.CharField(max_length=80))
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=120)
    previous_secret = models.CharField(max_length=120, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.client_id})"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
    WITHHELD = "withheld", "Withheld (no longer visible to the partner's agency)"


class WebhookDelivery(models.Model):
    """One event for one subscription: made in the outbox's dispatch transaction (so it is
    never lost), then attempted until the receiver answers 2xx or the schedule gives up.
    Pending deliveries of one (subscription, aggregate) go out in event order: only the
    oldest is ever attempted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="deliveries")
    # Copied from the event, for the ordering rule's index.
    aggregate_type = models.CharField(max_length=60)
    aggregate_id = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Attempts since it was made or last resent (the retry schedule's position).
    tries = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now())
    created_at = models.DateTimeField(db_default=Now())
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="webhook_delivery_once_per_subscription"
            ),
        ]
        indexes = [
            models.Index(
                fields=["subscription", "aggregate_type", "aggregate_id", "event"],
                condition=Q(status="pending"),
                name="webhook_pending_by_aggregate",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.subscription_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """The delivery log: one row per POST tried, whatever came of it."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at}: {self.status_code or self.error}"
