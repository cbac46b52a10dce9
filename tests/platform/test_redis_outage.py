"""Redis going away does not take the API down: rate limits fall back to a per-process count
(said in the log once a minute, not per request), Celery publishing fails fast and the event
waits in the outbox, and everything resumes by itself when Redis returns. Against a real
redis-server the test starts on a spare port, stops and starts again mid-run."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from typing import Any

import pytest
from django.test import override_settings

from caretrust.events.models import OutboxEvent
from tests.api.conftest import assert_problem, make_partner
from tests.platform.servers import PYTHON, RedisServer, caretrust_env, spare_port

PERSONS = "/api/v1/persons/"
UNAVAILABLE = "Redis is unavailable"
BACK = "Redis is back"


@pytest.fixture
def partner_api(council: Any, settings: Any) -> Any:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_partner(council).api


def counted_in_redis(server: RedisServer) -> int:
    client = server.client()
    return sum(int(client.get(key) or 0) for key in client.scan_iter("caretrust:throttle:*"))


def burst(api: Any, n: int) -> tuple[list[int], float]:
    """n reads; their statuses and the slowest one's time."""
    statuses, slowest = [], 0.0
    for _ in range(n):
        started = time.monotonic()
        statuses.append(api.get(PERSONS).status_code)
        slowest = max(slowest, time.monotonic() - started)
    return statuses, slowest


def messages(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records)


def test_the_api_keeps_answering_while_redis_is_down_and_counts_in_redis_again_after(
    partner_api, redis_server, fresh_redis_health, settings, caplog
):
    settings.REDIS_URL = redis_server.url
    settings.REDIS_RETRY_SECONDS = 0.2
    caplog.set_level(logging.WARNING, logger="caretrust.ops.redis_health")

    statuses, _ = burst(partner_api, 20)
    assert statuses == [200] * 20
    assert counted_in_redis(redis_server) == 20

    redis_server.stop()
    statuses, slowest = burst(partner_api, 60)
    assert statuses == [200] * 60  # not one 500
    assert slowest < 2.0
    print(f"MEASURED redis down: 60 requests, 60 answered 200, slowest {slowest * 1000:.0f} ms")
    assert messages(caplog, UNAVAILABLE) == 1  # once, not per request
    assert fresh_redis_health.down_since is not None

    redis_server.start()
    time.sleep(0.3)  # past REDIS_RETRY_SECONDS
    statuses, _ = burst(partner_api, 20)
    assert statuses == [200] * 20
    assert counted_in_redis(redis_server) == 20  # the fresh server counts again
    assert messages(caplog, BACK) == 1
    assert fresh_redis_health.down_since is None


def test_the_outage_message_repeats_once_a_minute_while_it_lasts(
    partner_api, fresh_redis_health, settings, caplog, monkeypatch
):
    settings.REDIS_URL = f"redis://127.0.0.1:{spare_port()}/0"  # nobody listens
    caplog.set_level(logging.WARNING, logger="caretrust.ops.redis_health")
    now = [1000.0]
    monkeypatch.setattr("caretrust.ops.redis_health.time.monotonic", lambda: now[0])
    burst(partner_api, 5)
    now[0] += 59
    burst(partner_api, 5)
    assert messages(caplog, UNAVAILABLE) == 1
    now[0] += 2
    burst(partner_api, 5)
    assert messages(caplog, UNAVAILABLE) == 2
    second = [r.getMessage() for r in caplog.records if UNAVAILABLE in r.getMessage()][1]
    assert "10 requests counted so since the last message" in second


@override_settings(API_RATE_LIMIT="5/hour")
def test_with_redis_down_each_process_still_keeps_the_budget(
    partner_api, fresh_redis_health, settings
):
    settings.REDIS_URL = f"redis://127.0.0.1:{spare_port()}/0"
    statuses, _ = burst(partner_api, 5)
    assert statuses == [200] * 5
    problem = assert_problem(partner_api.get(PERSONS), 429)
    assert problem["type"].endswith("/rate-limited")


# --- Celery publishing and the outbox --------------------------------------------------------

EMIT = """
import json, time, django
django.setup()
from django.db import transaction
from caretrust.events.services import emit
started = time.monotonic()
with transaction.atomic():
    event = emit("platform.probe", aggregate_type="probe", aggregate_id="{aggregate}", payload={{}})
print(json.dumps({{"id": event.pk, "seconds": time.monotonic() - started}}))
"""


def emit_in_a_process(redis_url: str, aggregate: str) -> dict[str, Any]:
    """Emit one event in a process configured as deployed (REDIS_URL set, Celery not eager):
    the commit, and the after-commit publish to Celery, timed."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [PYTHON, "-c", EMIT.format(aggregate=aggregate)],
        env=caretrust_env(REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dispatched(ids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    pending = OutboxEvent.objects.filter(pk__in=ids, dispatched_at=None)
    while pending.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_an_event_commits_at_once_and_the_running_worker_delivers_it_after(
    redis_server, audit_flushable
):
    """A real Celery worker runs throughout; Redis is killed under it and started again."""
    env = caretrust_env(REDIS_URL=redis_server.url)
    worker = subprocess.Popen(  # noqa: S603
        [PYTHON, "-m", "celery", "-A", "caretrust", "worker", "--pool", "solo", "-l", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        before = emit_in_a_process(redis_server.url, "before")
        assert _dispatched([before["id"]], within=90), "the worker took the event"

        redis_server.stop()
        during = emit_in_a_process(redis_server.url, "outage")
        assert during["seconds"] < 2.0  # publishing failed fast, the request was not held
        print(
            f"MEASURED redis down: commit + failed publish took {during['seconds'] * 1000:.0f} ms"
        )
        assert OutboxEvent.objects.get(pk=during["id"]).dispatched_at is None  # kept, not lost

        redis_server.start()
        after = emit_in_a_process(redis_server.url, "after")
        # The worker reconnects by itself and takes the new event; beat's sweep (sent here
        # once, as beat does every 15 s) takes the one stranded during the outage.
        subprocess.run(  # noqa: S603
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "caretrust",
                "call",
                "caretrust.events.tasks.sweep_outbox",
            ],
            env=env,
            capture_output=True,
            timeout=120,
            check=True,
        )
        assert _dispatched([during["id"], after["id"]], within=90)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_a_redis_that_accepts_but_never_answers_costs_one_timeout_not_one_per_request(
    partner_api, fresh_redis_health, settings
):
    """A hung Redis (or a network that swallows packets) is the worst case: the first request
    waits REDIS_TIMEOUT_MS, the rest skip Redis until REDIS_RETRY_SECONDS have passed."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)  # connections complete in the backlog; nothing ever replies
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        started = time.monotonic()
        statuses, slowest = burst(partner_api, 30)
        total = time.monotonic() - started
    finally:
        hung.close()
    assert statuses == [200] * 30
    assert slowest < settings.REDIS_TIMEOUT_SECONDS * 3
    assert total < slowest + 30 * 0.5  # only one request waited for the timeout
    print(f"MEASURED hung redis: 30 answered 200 in {total:.2f} s, slowest {slowest:.2f} s")
