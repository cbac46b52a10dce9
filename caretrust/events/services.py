"""Emitting domain events, subscribing to them, and handing them to their handlers.

The rules kept here:

- an event is written in the transaction of the change it announces (``emit`` refuses to run
  outside one), so a rolled-back change announces nothing and a committed one is never lost;
- each handler takes each event once: its ``HandledEvent`` row commits with its own writes;
- an aggregate's events are handled in the order they were emitted: only the oldest pending
  event of an aggregate is ever picked, so a failing one holds back the later ones (and only
  those) until it succeeds;
- delivery is after commit and never fails the request that emitted: if Celery cannot be
  reached the event waits in PostgreSQL for the sweep (``sweep_outbox``, ``run_outbox``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.db import connection, transaction
from django.utils import timezone

from caretrust.audit.context import request_id
from caretrust.events.models import HandledEvent, OutboxEvent

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
H = TypeVar("H", bound=Handler)

# Event type ("*" for every type) -> handler name -> handler.
_HANDLERS: dict[str, dict[str, Handler]] = defaultdict(dict)

# A failing event is retried after 10 s, 20 s, 40 s, ... up to an hour between attempts.
FIRST_RETRY = dt.timedelta(seconds=10)
LONGEST_RETRY = dt.timedelta(hours=1)


def handles(event_type: str, *, name: str | None = None) -> Callable[[H], H]:
    """Subscribe the decorated function to events of ``event_type`` (``"*"``: all of them).

    The handler is a service of the receiving app: it takes the ``OutboxEvent``, does its work
    in the transaction it is given (a savepoint of the dispatch), and raises to have the event
    retried. Its ``name`` (by default its dotted path) is what records that it ran, so do not
    rename a handler that has already taken events. Import the module that defines handlers
    from the receiving app's ``AppConfig.ready``."""

    def register(handler: H) -> H:
        key = name or f"{handler.__module__}.{handler.__qualname__}"
        _HANDLERS[event_type][key] = handler
        return handler

    return register


def handlers_for(event_type: str) -> dict[str, Handler]:
    return {**_HANDLERS.get("*", {}), **_HANDLERS.get(event_type, {})}


def emit(
    event_type: str,
    *,
    aggregate_type: str,
    aggregate_id: object,
    payload: Mapping[str, Any],
    agencies: Iterable[int] = (),
) -> OutboxEvent:
    """Write the event into the outbox in the caller's transaction, and hand it to its
    handlers once that transaction commits. ``payload`` holds ids and amounts only.

    ``agencies`` (ids) are the agencies the event concerns, whose partner systems may be sent
    it by webhook (each only while it may see the person the payload's ``person_id`` names,
    see ``caretrust.events.webhooks``); none, the default, means no partner is sent it."""
    if not connection.in_atomic_block:
        raise RuntimeError(
            "emit() must run inside the transaction of the change it announces "
            "(transaction.atomic), so that the two commit together or not at all."
        )
    event = OutboxEvent.objects.create(
        type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=dict(payload),
        request_id=request_id.get(),
        agencies=sorted({int(a) for a in agencies}),
    )
    transaction.on_commit(lambda: _queue_dispatch(aggregate_type, str(aggregate_id)))
    return event


def _queue_dispatch(aggregate_type: str, aggregate_id: str) -> None:
    """After commit: ask a worker to dispatch the aggregate's pending events (in-process when
    Celery runs eagerly). Nothing here may fail the request that has already committed: an
    event that cannot be queued waits for the sweep."""
    from caretrust.events.tasks import dispatch_aggregate

    try:
        dispatch_aggregate.apply_async((aggregate_type, aggregate_id), retry=False)
    except Exception:
        logger.warning(
            "could not queue dispatch of %s:%s; the outbox sweep will deliver it",
            aggregate_type,
            aggregate_id,
            exc_info=True,
        )


# The oldest pending event that is due and heads its aggregate (no older pending event of the
# same aggregate), skipping any another dispatcher has locked: two dispatchers never take one
# event, nor two events of one aggregate at once (the later one is not a head until the
# earlier commits).
_NEXT_HEAD = """
SELECT e.id FROM events_outboxevent e
WHERE e.dispatched_at IS NULL AND e.next_attempt_at <= statement_timestamp() {only}
  AND NOT EXISTS (
    SELECT 1 FROM events_outboxevent p
    WHERE p.dispatched_at IS NULL AND p.aggregate_type = e.aggregate_type
      AND p.aggregate_id = e.aggregate_id AND p.id < e.id)
ORDER BY e.id
LIMIT 1
FOR UPDATE OF e SKIP LOCKED
"""
_ANY_AGGREGATE = _NEXT_HEAD.format(only="")
_ONE_AGGREGATE = _NEXT_HEAD.format(only="AND e.aggregate_type = %s AND e.aggregate_id = %s")


def dispatch_pending(
    *, aggregate_type: str | None = None, aggregate_id: str | None = None, limit: int = 1000
) -> int:
    """Hand pending events (of one aggregate, or all) to their handlers, oldest first, one
    transaction per event; returns how many were dispatched. Safe to run in several processes
    at once."""
    done = 0
    for _ in range(limit):
        with transaction.atomic():
            with connection.cursor() as cursor:
                if aggregate_type is None:
                    cursor.execute(_ANY_AGGREGATE)
                else:
                    cursor.execute(_ONE_AGGREGATE, [aggregate_type, aggregate_id])
                row = cursor.fetchone()
            if row is None:
                return done
            if _dispatch(OutboxEvent.objects.get(pk=row[0])):
                done += 1
    return done


def _dispatch(event: OutboxEvent) -> bool:
    """Run each handler not yet recorded as having taken ``event``, each in its own savepoint
    with its HandledEvent row. If any fails, the event is retried later (the handlers that
    succeeded are not run again); else it is marked dispatched."""
    taken = set(HandledEvent.objects.filter(event=event).values_list("handler", flat=True))
    errors = []
    for name, handler in handlers_for(event.type).items():
        if name in taken:
            continue
        try:
            with transaction.atomic():
                handler(event)
                HandledEvent.objects.create(event=event, handler=name)
        except Exception as exc:
            logger.exception("handler %s failed on event %s", name, event)
            errors.append(f"{name}: {exc!r}"[:500])
    now = timezone.now()
    if errors:
        event.attempts += 1
        event.last_error = "\n".join(errors)
        event.next_attempt_at = now + retry_delay(event.attempts)
        event.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        return False
    event.dispatched_at = now
    event.save(update_fields=["dispatched_at"])
    return True


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its ``attempts``-th failure an event is tried again."""
    delay: dt.timedelta = FIRST_RETRY * (2 ** min(attempts - 1, 20))
    return min(delay, LONGEST_RETRY)
