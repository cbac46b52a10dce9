"""Audit writers in concurrent transactions, each on its own database connection (a thread
each, committing for real): they take free lanes rather than queue on one lock, wait only
when every lane is busy, and never fork a chain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings

from caretrust.audit import services as audit
from caretrust.audit.models import Action, AuditEvent
from caretrust.audit.services import verify_chain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("audit_flushable")]

WAIT = 10  # seconds: a bound on every wait here, so a regression fails instead of hanging


@pytest.fixture(autouse=True)
def _heads_made() -> None:
    """Migration 0006 makes the chains' heads; the flush after a transactional test empties
    every table, and the first row written makes them again (committed, as after migrate)."""
    audit.record(Action.LOGIN_FAILED)


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


class Holder(threading.Thread):
    """A transaction on a connection of its own that runs ``work`` and then stays open,
    holding whatever it locked, until ``release()``."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None
        self.ready, self.released = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.result = self.work()
                self.ready.set()
                assert self.released.wait(WAIT), "never released"
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.ready.set()
            connection.close()

    def release(self) -> Any:
        self.released.set()
        self.join(WAIT)
        if self.error:
            raise self.error
        return self.result


@contextmanager
def holding(work: Callable[[], Any]) -> Iterator[Holder]:
    holder = Holder(work)
    holder.start()
    assert holder.ready.wait(WAIT)
    try:
        yield holder
    finally:
        holder.released.set()
        holder.join(WAIT)


def _record() -> AuditEvent:
    return audit.record(Action.PERSON_VIEWED)


def _lock_timeout(ms: int) -> None:
    _scalar("SELECT set_config('lock_timeout', %s, true)", [f"{ms}ms"])


def _hold_lane(chain: int) -> Callable[[], Any]:
    """What a writer on ``chain`` holds until its transaction ends: the lock on the head."""
    return lambda: _scalar(
        "SELECT chain FROM audit_auditchainhead WHERE chain = %s FOR UPDATE", [chain]
    )


def _first_lane(chains: int) -> int:
    """The lane this connection tries first."""
    return _scalar("SELECT pg_backend_pid() %% %s", [chains])


@override_settings(AUDIT_CHAINS=8)
def test_a_writer_takes_a_free_lane_instead_of_waiting_for_a_busy_one():
    preferred = _first_lane(8)
    with holding(_hold_lane(preferred)) as busy, transaction.atomic():
        _lock_timeout(WAIT * 1000)
        started = time.monotonic()
        mine = _record()
        took = time.monotonic() - started
        busy.release()

    assert mine.chain == (preferred + 1) % 8
    assert took < WAIT  # it did not wait out the other's transaction
    assert list(verify_chain()) == []


@override_settings(AUDIT_CHAINS=1)
def test_with_every_lane_busy_a_writer_waits_then_links_to_the_row_it_waited_for():
    with holding(_record) as busy:
        # It waits: with a short lock timeout it gives up rather than write.
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            _lock_timeout(200)
            _record()
        assert AuditEvent.objects.count() == 1  # the busy writer's row is not yet committed

        waiter = Holder(_record)
        waiter.start()
        _wait_for_a_lock_waiter()
        theirs = busy.release()
        mine = waiter.release()

    assert mine.chain == theirs.chain == 0
    assert mine.prev_hash == theirs.hash
    assert list(verify_chain()) == []


def _wait_for_a_lock_waiter() -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        waiting = _scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        time.sleep(0.01)
    pytest.fail("no writer ever waited on the audit lane")


def test_a_transaction_that_holds_a_lane_keeps_it_and_never_waits_for_another():
    """Otherwise two transactions each holding one lane and waiting for the other's could
    deadlock."""
    chains = 8
    with override_settings(AUDIT_CHAINS=chains), transaction.atomic():
        _lock_timeout(WAIT * 1000)
        preferred = _first_lane(chains)
        # Another transaction holds this connection's first lane, so the first row goes to the
        # next; then it lets go, and the second row must still go where the first went.
        with holding(_hold_lane(preferred)) as other:
            first = _record()
            other.release()
        second = _record()

    assert first.chain == (preferred + 1) % chains
    assert second.chain == first.chain
    assert second.prev_hash == first.hash


@pytest.mark.parametrize("chains", [1, 8])
def test_many_writers_at_once_never_fork_a_chain(chains):
    """On one lane they queue, and each row must still follow the one before it in id order:
    the id is drawn only once the lane is held."""
    writers, rows_each = 8, 20
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            start.wait(WAIT)
            for _ in range(rows_each):
                with transaction.atomic():
                    _record()
                    time.sleep(0.002)  # hold the lane a while, as a request does to its commit
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    with override_settings(AUDIT_CHAINS=chains):
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 3)

    assert errors == []
    assert AuditEvent.objects.count() == 1 + writers * rows_each
    assert list(verify_chain()) == []
    mine = AuditEvent.objects.filter(action=Action.PERSON_VIEWED)
    used = mine.values("chain").distinct().count()
    assert used > 1 if chains > 1 else used == 1


@override_settings(AUDIT_CHAINS=1)
def test_a_read_that_finds_every_lane_busy_waits_and_still_writes_its_row(council, carol):
    """With every lane held by another transaction, the read's row waits for this backend's
    lane and is written, on that chain, before the person is returned."""
    from caretrust.people.selectors import get_visible_person
    from tests.factories import CaseFileFactory, PersonFactory

    person = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory()).person
    with holding(_record) as busy:
        reader = Holder(lambda: get_visible_person(user=carol, agency=council, person_id=person.pk))
        reader.start()
        _wait_for_a_lock_waiter()
        theirs = busy.release()
        seen = reader.release()

    assert seen.pk == person.pk
    row = AuditEvent.objects.get(action=Action.PERSON_VIEWED, person_id=person.pk)
    assert row.chain == theirs.chain == 0
    assert row.prev_hash == theirs.hash
    assert list(verify_chain()) == []


def test_a_row_committed_while_the_trail_is_checked_is_no_break(monkeypatch):
    """verify_chain reads the rows, then the heads. A row another request commits between the
    two moves its chain's head past the last row read: read apart, that looks like rows deleted
    from the chain's end. One snapshot for both sees neither the row nor its head's move."""
    _record()
    check_ends = audit._check_ends

    def with_a_write_in_between(*args: Any) -> Any:
        writer = threading.Thread(target=lambda: (_record(), connection.close()))
        writer.start()
        writer.join(WAIT)
        return check_ends(*args)

    monkeypatch.setattr(audit, "_check_ends", with_a_write_in_between)
    assert list(verify_chain()) == []
    assert AuditEvent.objects.count() == 3  # the row written in between did commit
    monkeypatch.undo()
    assert list(verify_chain()) == []
