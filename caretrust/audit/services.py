"""Writing to and checking the audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from caretrust.audit.context import request_id
from caretrust.audit.models import AuditEvent

GENESIS = "0" * 64
# One constant key: every audit write in the cluster takes this transaction-level advisory
# lock, so rows are chained in the order their ids were drawn and no two writers fork the chain.
_CHAIN_LOCK = 0x0CA7_2057


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _chained_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "agency_id": event.agency_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "person_id": str(event.person_id) if event.person_id else None,
        "request_id": event.request_id,
        "detail": event.detail,
    }


def _storable(value: Any) -> Any:
    """PostgreSQL's jsonb cannot hold U+0000, which a caller can put in anything audited
    verbatim (an id from a URL, a query string): store it as U+FFFD instead, so that the row,
    and the request it accounts for, are not lost."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    return value


def record(
    action: str,
    *,
    actor: Any = None,
    agency: Any = None,
    obj: Any = None,
    person_id: UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, inside the caller's transaction.

    If the row cannot be written the exception propagates and the caller's transaction (the
    request, under ATOMIC_REQUESTS) rolls back: nothing happens that is not accounted for.
    """
    # Everything that does not need the chain is prepared before taking its lock, which every
    # audited request in the cluster queues on until its transaction commits.
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        occurred_at=timezone.now(),
        action=str(action),
        actor_id=actor.pk if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        agency_id=agency.pk if agency is not None else None,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        person_id=person_id,
        request_id=request_id.get(),
        detail=_storable(json.loads(json.dumps(detail or {}, default=str))),
    )
    # No savepoint: a row that cannot be written must fail the whole request, not be skipped.
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            # The lock is taken before the id is drawn (left to right in one statement), so
            # ids are drawn in chain order; the previous hash is read in a later statement,
            # whose snapshot sees what the last holder committed.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s), "
                "nextval(pg_get_serial_sequence('audit_auditevent', 'id'))",
                [_CHAIN_LOCK],
            )
            row = cursor.fetchone()
            assert row is not None
            event.id = row[1]
            cursor.execute("SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            last = cursor.fetchone()
        event.prev_hash = last[0] if last else GENESIS
        event.hash = _digest(event.prev_hash, _chained_fields(event))
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def verify_chain(events: Iterable[AuditEvent] | None = None) -> Iterator[ChainBreak]:
    """Yield every place where the stored trail disagrees with its own hashes."""
    rows = events if events is not None else AuditEvent.objects.order_by("id").iterator(2000)
    expected_prev = GENESIS
    for event in rows:
        if event.prev_hash != expected_prev:
            yield ChainBreak(
                event.id,
                "its link to the previous row is broken: a row before it was deleted or altered",
            )
        if _digest(event.prev_hash, _chained_fields(event)) != event.hash:
            yield ChainBreak(event.id, "its contents do not match its hash: the row was altered")
        expected_prev = event.hash
