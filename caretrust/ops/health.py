"""Liveness and readiness for a load balancer, docker-compose and an orchestrator.

- ``GET /health/live``: the process is up and answering (no database, no Redis): restart the
  container when this fails.
- ``GET /health/ready``: 200 while the app can serve requests (the database answers and every
  migration is applied); 503 otherwise, so a load balancer sends no traffic here. Redis, the
  Celery broker and the outbox's age are reported too, but only as ``degraded``: without
  Redis the API keeps serving (rate limits per process, events waiting in the outbox), so
  taking every instance out of service for it would turn a degradation into an outage.

Answered by a middleware at the top of the stack, before host validation and the HTTPS
redirect (probes come over plain HTTP to an address, not to the public host name), and
outside ATOMIC_REQUESTS; the bodies hold states and ages only, nothing about anyone's data.
A small view rather than django-health-check: three of the four checks are caretrust's own
(the rate limiter's per-process state, the outbox, critical-or-degraded), and readiness
must tell the one critical dependency from the degraded ones.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

logger = logging.getLogger(__name__)

LIVE = "/health/live"
READY = "/health/ready"

OK = "ok"
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"

_migrations_applied = False  # once true, true for the life of the process (a deploy restarts)


def _json(body: dict[str, Any], status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def check_database() -> dict[str, Any]:
    """The database answers, and no migration is left to apply."""
    global _migrations_applied
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrations_applied:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if plan:
                return {"status": UNAVAILABLE, "unapplied_migrations": len(plan)}
            _migrations_applied = True
    except DatabaseError as exc:
        connection.close()  # a broken connection is not reused by the next probe
        return {"status": UNAVAILABLE, "error": exc.__class__.__name__}
    return {"status": OK}


def check_redis() -> dict[str, Any]:
    """Redis answers a PING, and the rate limiter counts in it (not per process)."""
    from caretrust.ops.redis_health import rate_limit_fallback_seconds, redis_client

    if not settings.REDIS_URL:
        return {"status": OK, "configured": False}
    result: dict[str, Any] = {"status": OK}
    try:
        redis_client(settings.REDIS_URL).ping()
    except Exception as exc:  # any failure to answer is "unavailable", never a 500
        result = {"status": UNAVAILABLE, "error": exc.__class__.__name__}
    fallback = rate_limit_fallback_seconds()
    if fallback is not None:
        result["rate_limits"] = f"per process for {fallback:.0f} s"
        if result["status"] == OK:
            result["status"] = DEGRADED  # answers again; the next request counts in Redis
    return result


def check_broker() -> dict[str, Any]:
    """The Celery broker accepts a connection (tasks queued after commit reach workers)."""
    from caretrust.celery import app

    if app.conf.task_always_eager:
        return {"status": OK, "configured": False}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=settings.REDIS_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"status": UNAVAILABLE, "error": exc.__class__.__name__}
    return {"status": OK}


def check_outbox() -> dict[str, Any]:
    """The age of the oldest domain event not yet dispatched: growing means no worker is
    taking them (broker down, workers stopped) or a handler keeps failing."""
    from caretrust.events.models import OutboxEvent

    try:
        oldest = (
            OutboxEvent.objects.filter(dispatched_at__isnull=True)
            .order_by("id")
            .values_list("occurred_at", flat=True)
            .first()
        )
    except DatabaseError as exc:
        connection.close()
        return {"status": UNAVAILABLE, "error": exc.__class__.__name__}
    if oldest is None:
        return {"status": OK, "oldest_pending_seconds": 0}
    age = max(0.0, (timezone.now() - oldest).total_seconds())
    late = age > settings.OUTBOX_MAX_AGE_SECONDS
    return {"status": DEGRADED if late else OK, "oldest_pending_seconds": round(age, 1)}


def readiness() -> tuple[dict[str, Any], int]:
    started = time.monotonic()
    database = check_database()
    checks = {"database": database}
    if database["status"] == OK:
        checks["outbox"] = check_outbox()
    checks["redis"] = check_redis()
    checks["broker"] = check_broker()
    ready = database["status"] == OK
    states = {c["status"] for c in checks.values()}
    status = OK if states == {OK} else (DEGRADED if ready else UNAVAILABLE)
    body = {"status": status, "checks": checks, "seconds": round(time.monotonic() - started, 3)}
    if status != OK:
        logger.warning("readiness %s: %s", status, json.dumps(checks))
    return body, 200 if ready else 503


class HealthCheckMiddleware:
    """Answers the two health paths before any other middleware (host validation, HTTPS
    redirect, sessions) can refuse or redirect the probe."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/")
        if path == LIVE and request.method in ("GET", "HEAD"):
            return _json({"status": OK}, 200)
        if path == READY and request.method in ("GET", "HEAD"):
            body, status = readiness()
            return _json(body, status)
        return self.get_response(request)
