"""Writing to and checking the audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
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


# Column and type: the SELECT below must say each type, as it has no table to infer it from.
_COLUMNS = {
    "occurred_at": "timestamptz",
    "action": "text",
    "actor_id": "bigint",
    "actor_username": "text",
    "agency_id": "bigint",
    "object_type": "text",
    "object_id": "text",
    "person_id": "uuid",
    "request_id": "text",
    "detail": "jsonb",
}
_INSERT_CHAINED = f"""
INSERT INTO audit_auditevent (id, {", ".join(_COLUMNS)}, prev_hash, hash)
SELECT n.id, {", ".join(f"%s::{t}" for t in _COLUMNS.values())}, p.hash,
       encode(sha256(convert_to(p.hash || %s || n.id::text || %s, 'UTF8')), 'hex')
FROM (SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id')) AS id) AS n,
     (SELECT coalesce((SELECT hash FROM audit_auditevent ORDER BY id DESC LIMIT 1), %s)
      AS hash) AS p
RETURNING id, prev_hash, hash
"""  # noqa: S608 - built from the constants above; every value is a parameter


def _row_values(event: AuditEvent) -> list[Any]:
    values = [getattr(event, column) for column in _COLUMNS]
    values[-1] = json.dumps(event.detail)
    return values


def _split_at_id(fields: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of ``fields`` (as _digest writes it) in two halves, before and after
    the value of "id": sorted keys put "id" after "detail" and before "object_id", and an
    integer id is written the same by json.dumps and by PostgreSQL's bigint::text."""
    dump = partial(json.dumps, sort_keys=True, separators=(",", ":"), default=str)
    head = dump({k: v for k, v in fields.items() if k < "id"})
    tail = dump({k: v for k, v in fields.items() if k > "id"})
    return head[:-1] + ',"id":', "," + tail[1:]


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
    fields = _chained_fields(event)
    before, after = _split_at_id(fields)
    # No savepoint: a row that cannot be written must fail the whole request, not be skipped.
    # (Outside a request this is the transaction that holds the lock until the row commits.)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # Two statements, the first taking the lock: a statement's snapshot is taken when it
        # starts, so only a statement begun after the lock was granted sees the row the last
        # holder committed. The second draws the id (in chain order, under the lock), reads the
        # previous hash and stores the row with its hash, computed by PostgreSQL over exactly
        # the text _digest() hashes: prev_hash + the fields' JSON, whose only unknown, the id,
        # is spliced in between the two halves prepared here.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
        cursor.execute(_INSERT_CHAINED, [*_row_values(event), before, after, GENESIS])
        row = cursor.fetchone()
    assert row is not None
    event.id, event.prev_hash, event.hash = row
    event._state.adding, event._state.db = False, connection.alias
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
