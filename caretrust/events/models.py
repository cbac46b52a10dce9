"""The outbox: every domain event, written in the transaction of the change it announces."""

from __future__ import annotations

import uuid

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
