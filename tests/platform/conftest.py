from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.platform.servers import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a spare port, owned by the test (stopped at its end)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_redis_health(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The rate limiter's view of Redis starts healthy, and this test's outage does not outlive
    it: its own state, clients and per-process counters."""
    from rest_framework import views  # noqa: F401 - loads conventions through DRF's settings

    from caretrust.api import conventions
    from caretrust.ops import redis_health

    health = redis_health.RedisHealth()
    monkeypatch.setattr(conventions, "redis_health", health)
    monkeypatch.setattr(redis_health, "redis_health", health)
    redis_health.redis_client.cache_clear()
    redis_health.fallback_cache.clear()
    yield health
    redis_health.redis_client.cache_clear()
    redis_health.fallback_cache.clear()
