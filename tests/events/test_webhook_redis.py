"""Nothing is lost when Redis is down: the deliveries wait in PostgreSQL and the sweep
(``run_outbox`` here, beat in production) sends them. With Celery's real Redis broker, a
committed event reaches the receiver through a real worker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
import redis
from django.core.management import call_command
from django.db import transaction

from caretrust.celery import app as celery_app
from caretrust.events import services as events
from caretrust.events.models import DeliveryStatus, OutboxEvent, WebhookDelivery
from tests.events.conftest import free_port, subscribe

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="module", autouse=True)
def _flushable(audit_flushable: None) -> None:
    """These tests commit (transaction=True): see tests/conftest.py."""


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Celery publishing to ``url`` for real (not eagerly), as in production."""
    saved = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = url, False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved


def _emit(agency_id: int, n: int) -> OutboxEvent:
    with transaction.atomic():
        return events.emit(
            "test.happened",
            aggregate_type="thing",
            aggregate_id="a",
            payload={"n": n},
            agencies=[agency_id],
        )


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_the_delivery_waits_in_postgresql_for_the_sweep(receiver, hospital_client):
    subscribe(hospital_client, receiver.url)

    with broker(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        _emit(hospital_client.agency_id, 1)  # commits; queueing fails and is logged
        assert receiver.received == []
        assert OutboxEvent.objects.filter(dispatched_at__isnull=True).count() == 1
        out = StringIO()
        call_command("run_outbox", stdout=out)

    assert [b["data"] for b in receiver.bodies()] == [{"n": 1}]
    assert "Delivered 1 webhook(s)." in out.getvalue()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


@pytest.mark.django_db(transaction=True)
def test_through_celerys_real_redis_broker_a_worker_delivers(receiver, hospital_client):
    from celery.contrib.testing.worker import start_worker

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL} (set TEST_REDIS_URL); CI always runs this")
    client.flushdb()
    subscribe(hospital_client, receiver.url)

    with (
        broker(REDIS_URL),
        start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        for n in range(3):
            _emit(hospital_client.agency_id, n)
        deadline = time.monotonic() + 20
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)

    client.flushdb()
    assert [b["data"]["n"] for b in receiver.bodies()] == [0, 1, 2]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
