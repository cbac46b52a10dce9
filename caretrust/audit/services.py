"""Writing to and checking the audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from caretrust.audit.context import deferred_denials, request_id
from caretrust.audit.models import Action, AuditChainHead, AuditEvent

GENESIS = "0" * 64
# What a row's hash covers is this encoder's text of its fields (made once, not per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_PLAIN = json.JSONEncoder(default=str)


def _digest(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = _CANONICAL.encode(fields)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _chained_fields(event: Any) -> dict[str, Any]:
    """What a row's hash covers: an AuditEvent's fields (or anything with them)."""
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


# The trail is settings.AUDIT_CHAINS hash chains ("lanes") written side by side, each ending
# at a head row (AuditChainHead). A writer locks a lane's head for the rest of its transaction,
# so within a lane rows are chained one transaction at a time, in the order their ids are
# drawn (the id is drawn once the lane is held), while writers on other lanes go on. Which lane:
# - one this transaction already holds (it updated the head, so the head's xmin is its id):
#   a transaction's rows stay on one chain;
# - otherwise the first free one, starting from one that depends on the backend, so that a few
#   long-lived connections mostly keep to lanes of their own;
# - only when every lane is held by others does it wait, on its backend's own lane. A
#   transaction that holds a lane never waits for another (its own lock never counts as
#   held), so writers cannot deadlock on lanes.
# The id column's identity sequence is named as a constant (a test holds it to
# pg_get_serial_sequence): resolved once when the statement is prepared, not on every row.
_ID_SEQUENCE = "audit_auditevent_id_seq"
_TAKE_FREE_LANE = f"""
SELECT lane.chain, lane.hash, nextval('{_ID_SEQUENCE}'::regclass) FROM (
    SELECT chain, hash FROM audit_auditchainhead
    WHERE chain < %s
    ORDER BY coalesce(xmin = xid(pg_current_xact_id_if_assigned()), false) DESC,
             (chain + %s - pg_backend_pid() %% %s) %% %s
    LIMIT 1 FOR UPDATE SKIP LOCKED
) AS lane
"""  # noqa: S608 - a constant
_TAKE_OWN_LANE = f"""
SELECT lane.chain, lane.hash, nextval('{_ID_SEQUENCE}'::regclass) FROM (
    SELECT chain, hash FROM audit_auditchainhead WHERE chain = pg_backend_pid() %% %s FOR UPDATE
) AS lane
"""  # noqa: S608 - a constant
# Migration 0006 makes the heads; this makes any that are missing (in tests, after a flush
# empties every table). A head made for a chain that already has rows would let its next row
# claim the genesis, which the no-fork rule refuses.
_OPEN_LANES = """
INSERT INTO audit_auditchainhead (chain, last_id, hash)
SELECT lane, NULL, %s FROM generate_series(0, %s - 1) AS lane
ON CONFLICT (chain) DO NOTHING
"""
_COLUMNS = [
    "id",
    "occurred_at",
    "action",
    "actor_id",
    "actor_username",
    "agency_id",
    "object_type",
    "object_id",
    "person_id",
    "request_id",
    "detail",
    "chain",
    "prev_hash",
    "hash",
]
# The row, and its lane's head moved on to it: one round trip.
_APPEND = f"""
WITH row AS (
    INSERT INTO audit_auditevent ({", ".join(_COLUMNS)})
    VALUES ({", ".join("%s::jsonb" if c == "detail" else "%s" for c in _COLUMNS)})
    RETURNING id, chain, hash
)
UPDATE audit_auditchainhead AS head SET last_id = row.id, hash = row.hash
FROM row WHERE head.chain = row.chain
"""  # noqa: S608 - built from the constant column names; every value is a parameter


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


def _take_lane(cursor: Any) -> tuple[int, str, int]:
    """Lock a lane's head for this transaction: its chain, its hash, and the new row's id."""
    chains = settings.AUDIT_CHAINS
    for attempt in range(2):
        cursor.execute(_TAKE_FREE_LANE, [chains] * 4)
        lane = cursor.fetchone()
        if lane is None:
            # Every lane is held by others (wait for this backend's own), or heads are missing.
            cursor.execute(_TAKE_OWN_LANE, [chains])
            lane = cursor.fetchone()
        if lane is not None:
            return int(lane[0]), str(lane[1]), int(lane[2])
        if attempt == 0:
            cursor.execute(_OPEN_LANES, [GENESIS, chains])
    raise RuntimeError("no audit lane could be taken")


def record(
    action: str,
    *,
    actor: Any = None,
    agency: Any = None,
    obj: Any = None,
    person_id: UUID | str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, inside the caller's transaction: take a lane, link the
    row to its head's hash (computed here, by _digest, as verify_chain recomputes it) and move
    the head on.

    If the row cannot be written the exception propagates and the caller's transaction (the
    request, under ATOMIC_REQUESTS) rolls back: nothing happens that is not accounted for.

    A denial recorded inside a request is deferred as ``record_denial`` defers it (the refusal
    that follows rolls the request back), and the event returned is not yet written.
    """
    pending = deferred_denials.get()
    if str(action) == Action.ACCESS_DENIED and pending is not None:
        deferred = {"actor": actor, "agency": agency, "obj": obj, "person_id": person_id}
        pending.append({**deferred, "detail": dict(detail or {})})
        return AuditEvent(action=str(action), detail=detail or {})
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    # What is hashed is what jsonb gives back: plain JSON values, no U+0000.
    stored = _storable(json.loads(_PLAIN.encode(detail or {})))
    event = AuditEvent(
        occurred_at=timezone.now(),
        action=str(action),
        actor_id=actor.pk if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        agency_id=agency.pk if agency is not None else None,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        person_id=UUID(str(person_id)) if person_id else None,
        request_id=request_id.get(),
        detail=stored,
    )
    # No savepoint: a row that cannot be written must fail the whole request, not be skipped.
    # (Outside a request this is the transaction that holds the lane until the row commits.)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        event.chain, event.prev_hash, event.id = _take_lane(cursor)
        event.hash = _digest(event.prev_hash, _chained_fields(event))
        values = [getattr(event, c) for c in _COLUMNS]
        values[_COLUMNS.index("detail")] = _PLAIN.encode(stored)
        cursor.execute(_APPEND, values)
    event._state.adding, event._state.db = False, connection.alias
    return event


def record_denial(
    *,
    actor: Any,
    agency: Any,
    what: str,
    reason: str,
    object_id: object = "",
    obj: Any = None,
    person_id: UUID | str | None = None,
    **detail: Any,
) -> None:
    """Account for a refused read or write (every denial is audited): what was asked for
    (``what``, ``object_id``) and why not (``not_found``, ``not_permitted``, or the caller's
    own reason). The caller then raises Http404 or PermissionDenied.

    Inside a request the row is written by ``DenialMiddleware`` once the request's own
    transaction has ended: a refused request rolls back everything it did (ATOMIC_REQUESTS),
    and its denial must outlive that. Outside a request (a task, a shell, a test calling a
    selector) it is written at once, in the caller's transaction."""
    event = {
        "actor": actor,
        "agency": agency,
        "obj": obj,
        "person_id": person_id,
        "detail": {"object": what, "id": str(object_id)[:64], "reason": reason, **detail},
    }
    pending = deferred_denials.get()
    if pending is None:
        record(Action.ACCESS_DENIED, **event)
    else:
        pending.append(event)


def record_deferred_denials(events: list[dict[str, Any]]) -> None:
    """Write the denials a request deferred, in a transaction of their own."""
    if events:
        with transaction.atomic():
            for event in events:
                record(Action.ACCESS_DENIED, **event)


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


def verify_chain(
    events: Iterable[AuditEvent] | None = None, heads: Mapping[int, str] | None = None
) -> Iterator[ChainBreak]:
    """Yield every place where the stored trail disagrees with its own hashes.

    Each chain is followed on its own, in id order. By default that is the whole trail, from
    each chain's genesis, and each chain must end where its head says (so rows removed from
    the end of a chain are found too). Given ``events`` (in id order), only they are checked,
    from ``heads``: the hash of each chain's last row before them (see ``chain_ends``)."""
    if events is not None:
        yield from _follow(events, dict(heads or {}), {})
        return
    # The rows and the heads from one snapshot: read apart, a row committed between the two
    # reads would move its head past the last row seen, and look like rows deleted.
    with one_snapshot():
        expected: dict[int, str] = {}
        last_id: dict[int, int] = {}
        yield from _follow(AuditEvent.objects.order_by("id").iterator(2000), expected, last_id)
        yield from _check_ends(expected, last_id)


def _follow(
    rows: Iterable[AuditEvent], expected: dict[int, str], last_id: dict[int, int]
) -> Iterator[ChainBreak]:
    """Check each row against its own hash and its chain's previous one (``expected``: each
    chain's last hash so far); leaves each chain's last hash and id in the two dicts."""
    for event in rows:
        if event.prev_hash != expected.get(event.chain, GENESIS):
            yield ChainBreak(
                event.id,
                "its link to the previous row is broken: a row before it was deleted or altered",
            )
        if _digest(event.prev_hash, _chained_fields(event)) != event.hash:
            yield ChainBreak(event.id, "its contents do not match its hash: the row was altered")
        expected[event.chain], last_id[event.chain] = event.hash, event.id


@contextmanager
def one_snapshot() -> Iterator[None]:
    """Every query inside sees the database as of the first: a read-only REPEATABLE READ
    transaction. Inside a transaction already, that transaction's own (whose isolation can no
    longer be set)."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _check_ends(hashes: dict[int, str], last_id: dict[int, int]) -> Iterator[ChainBreak]:
    """Each chain's last row against its head. The head moves on in the statement that writes
    the row, so they differ only if rows or heads were removed or altered."""
    heads = {h.chain: h for h in AuditChainHead.objects.order_by("chain")}
    for chain in sorted(heads.keys() | last_id.keys()):
        head, end = heads.get(chain), last_id.get(chain)
        if head is None:
            assert end is not None  # a chain without a head is known from its rows
            yield ChainBreak(end, f"it ends chain {chain}, which has no head: the head was removed")
        elif head.last_id is None:
            if end is not None:
                yield ChainBreak(
                    end, f"it ends chain {chain}, whose head says it has no rows: altered"
                )
        elif head.last_id != end or head.hash != hashes[chain]:
            ending = f"ends at row #{end}" if end is not None else "has no rows"
            yield ChainBreak(
                head.last_id,
                f"chain {chain} should end at this row but {ending}: "
                "rows at its end were deleted or altered",
            )


def chain_ends(up_to_id: int) -> dict[int, str]:
    """The hash of each chain's last row with an id up to ``up_to_id``: where verify_chain
    starts for the rows after it."""
    rows = (
        AuditEvent.objects.filter(id__lte=up_to_id)
        .order_by("chain", "-id")
        .distinct("chain")
        .values_list("chain", "hash")
    )
    return dict(rows)
