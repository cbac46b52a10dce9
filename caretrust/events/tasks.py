"""Celery tasks for the outbox. Each takes ids and is safe to run twice, or at once."""

from __future__ import annotations

from celery import shared_task

from caretrust.events import services


@shared_task(ignore_result=True)
def dispatch_aggregate(aggregate_type: str, aggregate_id: str) -> int:
    """Right after a commit: the pending events of the aggregate that emitted."""
    return services.dispatch_pending(aggregate_type=aggregate_type, aggregate_id=aggregate_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Every few seconds (beat): whatever is pending and due, e.g. events that could not be
    queued while Redis was down, or that are waiting to be retried."""
    return services.dispatch_pending()


@shared_task(ignore_result=True)
def deliver_webhooks(subscription_id: str | None = None) -> int:
    """After a fan-out or a resend (one subscription), and every few seconds from beat (all):
    the webhook deliveries that are due, e.g. retries, or those queued while Redis was down."""
    from caretrust.events import webhooks

    return webhooks.deliver_due(subscription_id=subscription_id)
