"""/health/live and /health/ready: what a load balancer, docker-compose and monitoring ask."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from caretrust.celery import app as celery_app
from caretrust.events.models import OutboxEvent
from caretrust.ops import health
from tests.platform.servers import spare_port


def probe(path: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    response = Client().get(path, **extra)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.content)


def test_liveness_answers_without_the_database_whatever_the_host_and_scheme(settings):
    """No ``db`` fixture: any query would raise, so this also proves it makes none."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["caretrust.example.org"]
    status, body = probe("/health/live", HTTP_HOST="10.0.0.7:8000")
    assert (status, body) == (200, {"status": "ok"})


def test_readiness_is_ok_when_the_database_is_migrated_and_nothing_waits(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["caretrust.example.org"]
    status, body = probe("/health/ready", HTTP_HOST="10.0.0.7:8000")
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["outbox"] == {"status": "ok", "oldest_pending_seconds": 0}
    assert body["checks"]["redis"] == {"status": "ok", "configured": False}
    assert body["checks"]["broker"] == {"status": "ok", "configured": False}


def test_readiness_refuses_traffic_while_migrations_are_unapplied(db, monkeypatch):
    class Unmigrated(health.MigrationExecutor):
        def migration_plan(self, targets: Any, clean_start: bool = False) -> list[Any]:
            return [("people", "9999_not_yet")]

    monkeypatch.setattr(health, "MigrationExecutor", Unmigrated)
    monkeypatch.setattr(health, "_migrations_applied", False)
    status, body = probe("/health/ready")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "unavailable", "unapplied_migrations": 1}


def test_an_outbox_event_waiting_too_long_makes_readiness_degraded_not_unavailable(db, settings):
    settings.OUTBOX_MAX_AGE_SECONDS = 60
    event = OutboxEvent.objects.create(
        type="platform.probe", aggregate_type="probe", aggregate_id="1", payload={}
    )
    assert probe("/health/ready")[1]["checks"]["outbox"]["status"] == "ok"
    OutboxEvent.objects.filter(pk=event.pk).update(
        occurred_at=timezone.now() - dt.timedelta(minutes=10)
    )
    status, body = probe("/health/ready")
    assert status == 200
    assert body["status"] == "degraded"
    outbox = body["checks"]["outbox"]
    assert outbox["status"] == "degraded"
    assert 595 <= outbox["oldest_pending_seconds"] <= 700


@pytest.fixture
def deployed_broker() -> Iterator[Any]:
    """Celery configured as deployed (not eager); the test sets the broker's URL."""
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False)

    def point_at(url: str) -> None:
        celery_app.conf.update(broker_url=url)

    yield point_at
    celery_app.conf.update(saved)


def test_redis_and_broker_down_are_reported_degraded_and_traffic_still_comes(
    db, settings, fresh_redis_health, deployed_broker
):
    dead = f"redis://127.0.0.1:{spare_port()}/0"
    settings.REDIS_URL = dead
    deployed_broker(dead)
    status, body = probe("/health/ready")
    assert status == 200  # the API serves without Redis: stay in the load balancer
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "unavailable"
    assert body["checks"]["broker"]["status"] == "unavailable"
    assert body["seconds"] < 3


def test_the_rate_limiters_fallback_shows_in_readiness_until_it_counts_in_redis_again(
    db, settings, redis_server, fresh_redis_health, deployed_broker, council
):
    from tests.api.conftest import make_partner

    settings.REDIS_URL = redis_server.url
    settings.REDIS_RETRY_SECONDS = 0.1
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    deployed_broker(redis_server.url)
    api = make_partner(council).api
    assert probe("/health/ready")[1]["status"] == "ok"

    redis_server.stop()
    assert api.get("/api/v1/persons/").status_code == 200  # counted per process
    body = probe("/health/ready")[1]
    assert body["checks"]["redis"]["status"] == "unavailable"
    assert body["checks"]["redis"]["rate_limits"].startswith("per process for")

    redis_server.start()
    body = probe("/health/ready")[1]
    assert body["checks"]["redis"]["status"] == "degraded"  # answers; not yet counting there
    assert body["checks"]["broker"]["status"] == "ok"
    fresh_redis_health.retry_at = 0
    assert api.get("/api/v1/persons/").status_code == 200
    assert probe("/health/ready")[1]["status"] == "ok"
