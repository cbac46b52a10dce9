"""The outbox: an event commits with its change or not at all, reaches each handler once, and an
aggregate's events are handled in the order they happened."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from caretrust.events import services as events
from caretrust.events.models import HandledEvent, OutboxEvent

SEEN: list[tuple[str, int]] = []
SEEN_LOCK = threading.Lock()
FAILING: set[str] = set()


@events.handles("test.counted", name="tests.events.record")
def _record(event: OutboxEvent) -> None:
    if event.aggregate_id in FAILING:
        raise RuntimeError(f"receiver for {event.aggregate_id} is down")
    with SEEN_LOCK:
        SEEN.append((event.aggregate_id, event.payload["n"]))


@pytest.fixture(scope="module", autouse=True)
def _flushable(audit_flushable: None) -> None:
    """Two tests here commit (transaction=True): see tests/conftest.py."""


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    SEEN.clear()
    FAILING.clear()
    yield
    FAILING.clear()


def _emit(aggregate: str, n: int) -> OutboxEvent:
    return events.emit(
        "test.counted", aggregate_type="thing", aggregate_id=aggregate, payload={"n": n}
    )


def test_an_event_is_handed_to_its_handler_after_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = _emit("a", 1)
        assert SEEN == [], "handled before the change committed"

    assert SEEN == [("a", 1)]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert HandledEvent.objects.filter(event=event, handler="tests.events.record").count() == 1


def test_a_rolled_back_change_announces_nothing(db, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        _emit("a", 1)
        1 / 0  # noqa: B018 - the change fails after emitting

    assert not OutboxEvent.objects.exists()
    assert callbacks == []
    assert SEEN == []


def test_a_handler_takes_an_event_once_however_often_it_is_dispatched(db):
    _emit("a", 1)

    assert events.dispatch_pending() == 1
    OutboxEvent.objects.update(dispatched_at=None)  # as if a second worker had it too
    events.dispatch_pending()

    assert SEEN == [("a", 1)]


def test_a_failing_event_holds_back_only_its_own_aggregate(db):
    FAILING.add("a")
    first, second = _emit("a", 1), _emit("a", 2)
    _emit("b", 1)

    assert events.dispatch_pending() == 1

    assert SEEN == [("b", 1)]
    first.refresh_from_db()
    assert first.dispatched_at is None
    assert first.attempts == 1
    assert "receiver for a is down" in first.last_error
    assert first.next_attempt_at > timezone.now(), "retried at once, not after a delay"
    second.refresh_from_db()
    assert second.attempts == 0, "a later event of the aggregate ran ahead of the failed one"

    FAILING.clear()
    assert events.dispatch_pending() == 0, "retried before its delay"
    OutboxEvent.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    assert events.dispatch_pending() == 2

    assert SEEN == [("b", 1), ("a", 1), ("a", 2)]


def test_retry_delays_double_up_to_an_hour():
    delays = [events.retry_delay(n) for n in (1, 2, 3, 30)]

    assert delays == [
        dt.timedelta(seconds=10),
        dt.timedelta(seconds=20),
        dt.timedelta(seconds=40),
        dt.timedelta(hours=1),
    ]


def test_every_type_handler_sees_every_event(db):
    seen: list[str] = []
    name = "tests.events.everything"
    events.handles("*", name=name)(lambda event: seen.append(event.type))
    try:
        _emit("a", 1)
        events.emit("test.other", aggregate_type="thing", aggregate_id="z", payload={})
        events.dispatch_pending()
    finally:
        del events._HANDLERS["*"][name]

    assert seen == ["test.counted", "test.other"]


def test_a_failure_to_queue_never_fails_the_committed_change(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    from caretrust.events import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.dispatch_aggregate, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = _emit("a", 1)

    event.refresh_from_db()
    assert event.dispatched_at is None
    assert SEEN == []
    out = StringIO()
    call_command("run_outbox", stdout=out)
    assert SEEN == [("a", 1)]
    assert "Dispatched 1 event(s)." in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_emit_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        _emit("a", 1)


@pytest.mark.django_db(transaction=True)
def test_dispatchers_at_once_take_each_event_once_and_in_order_per_aggregate():
    aggregates = ["p", "q", "r"]
    with transaction.atomic():
        for n in range(10):
            for aggregate in aggregates:
                _emit(aggregate, n)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            start.wait()
            events.dispatch_pending()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(SEEN) == sorted((a, n) for a in aggregates for n in range(10))
    for aggregate in aggregates:
        assert [n for a, n in SEEN if a == aggregate] == list(range(10))
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
