"""Writing to and checking the audit trail."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from caretrust.audit.context import request_id
from caretrust.audit.models import AuditChainHead, AuditEvent

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


# The trail is settings.AUDIT_CHAINS hash chains ("lanes") written side by side, each ending
# at a head row (AuditChainHead). A writer locks a lane's head for the rest of its transaction,
# so within a lane rows are chained one transaction at a time, in the order their ids are
# drawn, while writers on other lanes go on. Which lane:
# - one this transaction already holds (it updated the head, so the head's xmin is its id):
#   a transaction's rows stay on one chain;
# - otherwise the first free one, starting from one that depends on the backend, so that a few
#   long-lived connections mostly keep to lanes of their own;
# - only when every lane is held by others does it wait, on its backend's own lane. A
#   transaction that holds a lane never waits for another (its own lock never counts as
#   held), so writers cannot deadlock on lanes.
def _free_lane(condition: str = "") -> str:
    return f"""
SELECT chain, hash FROM audit_auditchainhead
WHERE chain < %s{condition}
ORDER BY coalesce(xmin = xid(pg_current_xact_id_if_assigned()), false) DESC,
         (chain + %s - pg_backend_pid() %% %s) %% %s
LIMIT 1 FOR UPDATE SKIP LOCKED
"""  # noqa: S608 - condition is one of this module's constants


_FREE_LANE = _free_lane()
_OWN_LANE = """
SELECT chain, hash FROM audit_auditchainhead WHERE chain = pg_backend_pid() %% %s FOR UPDATE
"""


# The id column's identity sequence, by the name PostgreSQL gives it (a test holds it to
# pg_get_serial_sequence): as a regclass constant it is resolved once, when the statement is
# prepared, where pg_get_serial_sequence() would search the catalogue on every row.
_ID_SEQUENCE = "audit_auditevent_id_seq"


def _chain_ctes(lane: str) -> str:
    """The CTEs that take a lane (``lane`` picks and locks its head row), draw the id once it
    holds it, store the row linked to the head's hash (``row``), and move the head on. The
    row's hash is computed by PostgreSQL over exactly the text _digest() hashes: prev_hash +
    the fields' JSON, whose only unknown, the id, is spliced in between the two halves prepared
    by prepare(). No row is written if ``lane`` finds none."""
    return f"""lane AS ({lane}),
n AS (SELECT nextval('{_ID_SEQUENCE}'::regclass) AS id, chain, hash FROM lane),
row AS (
    INSERT INTO audit_auditevent (id, {", ".join(_COLUMNS)}, chain, prev_hash, hash)
    SELECT n.id, {", ".join(f"%s::{t}" for t in _COLUMNS.values())}, n.chain, n.hash,
           encode(sha256(convert_to(n.hash || %s || n.id::text || %s, 'UTF8')), 'hex')
    FROM n
    RETURNING id, chain, prev_hash, hash
),
head AS (
    UPDATE audit_auditchainhead SET (last_id, hash) = (SELECT id, hash FROM row)
    WHERE chain = (SELECT chain FROM row)
)"""  # noqa: S608 - built from the constants above; every value is a parameter


def _append(lane: str) -> str:
    """One statement that appends the row (see _chain_ctes) and returns its id, chain and
    hashes; nothing if ``lane`` finds no lane."""
    return f"WITH {_chain_ctes(lane)}\nSELECT id, chain, prev_hash, hash FROM row"


_APPEND_ON_FREE_LANE = _append(_FREE_LANE)
_APPEND_ON_OWN_LANE = _append(_OWN_LANE)
# Migration 0006 makes the heads; this makes any that are missing (in tests, after a flush
# empties every table). A head made for a chain that already has rows would let its next row
# claim the genesis, which the no-fork rule refuses.
_OPEN_LANES = """
INSERT INTO audit_auditchainhead (chain, last_id, hash)
SELECT lane, NULL, %s FROM generate_series(0, %s - 1) AS lane
ON CONFLICT (chain) DO NOTHING
"""


@functools.cache
def along_with(select: str) -> str:
    """``select`` and a pending row (see prepare()) as one statement: each row ``select``
    returns, followed by the audit row's id, chain, prev_hash and hash. The audit row is
    written only if ``select`` returns a row, and only on a free lane: where none is free, the
    four are NULL and nothing is written (Pending.written_by() then writes it as record()
    would). Its parameters are ``select``'s, then Pending.params.

    A read and its audit row thus cost one round trip, not two; the lane is held from the read
    to the commit."""
    lane = _free_lane(" AND EXISTS (SELECT FROM found)")
    return f"""WITH found AS MATERIALIZED ({select}),
{_chain_ctes(lane)}
SELECT found.*, row.id, row.chain, row.prev_hash, row.hash FROM found LEFT JOIN row ON true
"""  # noqa: S608 - ``select`` is the caller's fixed statement; every value is a parameter


def _split_at_id(fields: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of ``fields`` (as _digest writes it) in two halves, before and after
    the value of "id": sorted keys put "id" after "detail" and before "object_id", and an
    integer id is written the same by json.dumps and by PostgreSQL's bigint::text."""
    head = _CANONICAL.encode({k: v for k, v in fields.items() if k < "id"})
    tail = _CANONICAL.encode({k: v for k, v in fields.items() if k > "id"})
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


def _append_row(cursor: Any, statement: str, params: list[Any]) -> tuple[Any, ...] | None:
    cursor.execute(statement, params)
    row: tuple[Any, ...] | None = cursor.fetchone()
    return row


@dataclass
class Pending:
    """An event prepared but not yet written: by record(), or by the caller's own statement
    through along_with(), which then hands its rows to written_by()."""

    columns: dict[str, Any]  # _COLUMNS' values, as the model's fields take them
    values: list[Any]  # the statement's parameters: the columns, then the hashed text's halves
    row: tuple[Any, ...] | None = None  # once written: its id, chain, prev_hash and hash

    @property
    def params(self) -> list[Any]:
        """along_with()'s parameters after the caller's own."""
        return [settings.AUDIT_CHAINS] * 4 + self.values

    def written_by(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` of an along_with() statement without the audit row's four columns. If the
        statement found rows but no free lane, the row is written now, as record() writes it:
        nothing the caller read goes unaccounted for."""
        if rows and rows[0][-4] is None:
            self.write()
        elif rows:
            self.row = tuple(rows[0][-4:])
        return [row[:-4] for row in rows]

    def write(self) -> AuditEvent:
        chains, values = settings.AUDIT_CHAINS, self.values
        # No savepoint: a row that cannot be written must fail the whole request, not be
        # skipped. (Outside a request this is the transaction that holds the lane until the row
        # commits.)
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            row = _append_row(cursor, _APPEND_ON_FREE_LANE, [chains] * 4 + values)
            # Every lane is held by others (wait for this backend's own), or heads are missing.
            row = row or _append_row(cursor, _APPEND_ON_OWN_LANE, [chains, *values])
            if row is None:
                cursor.execute(_OPEN_LANES, [GENESIS, chains])
                row = _append_row(cursor, _APPEND_ON_FREE_LANE, [chains] * 4 + values)
                row = row or _append_row(cursor, _APPEND_ON_OWN_LANE, [chains, *values])
        assert row is not None
        self.row = tuple(row)
        return self.event

    @property
    def event(self) -> AuditEvent:
        """The row as written (built only when asked for: a read audited by its own statement
        never needs it)."""
        assert self.row is not None, "not written yet"
        event = AuditEvent(
            **self.columns, **dict(zip(("id", "chain", "prev_hash", "hash"), self.row, strict=True))
        )
        event._state.adding, event._state.db = False, connection.alias
        return event


def prepare(
    action: str,
    *,
    actor: Any = None,
    agency: Any = None,
    obj: Any = None,
    person_id: UUID | str | None = None,
    detail: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
) -> Pending:
    """The event record() writes, ready to write. ``obj`` gives its object type and id; a read
    written by its own statement (along_with) names them instead, as ``object_type`` (the
    model's label) and ``object_id``, since it has no object yet."""
    # Everything that does not need the chain is prepared before taking a lane, which the
    # transaction then holds until it commits.
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    stored = _storable(json.loads(_PLAIN.encode(detail or {})))
    columns = {
        "occurred_at": timezone.now(),
        "action": str(action),
        "actor_id": actor.pk if authenticated else None,
        "actor_username": actor.get_username() if authenticated else "",
        "agency_id": agency.pk if agency is not None else None,
        "object_type": obj._meta.label if obj is not None else object_type,
        "object_id": str(obj.pk) if obj is not None else object_id,
        "person_id": person_id,
        "request_id": request_id.get(),
        "detail": stored,
    }
    before, after = _split_at_id(_chained_fields(SimpleNamespace(id=None, **columns)))
    values = [columns[column] for column in _COLUMNS]
    values[-1] = _PLAIN.encode(stored)  # jsonb: the statement casts the text
    return Pending(columns, [*values, before, after])


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
    return prepare(
        action, actor=actor, agency=agency, obj=obj, person_id=person_id, detail=detail
    ).write()


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
