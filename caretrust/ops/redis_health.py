"""The app's view of Redis, shared by the rate limiter and the health check.

Imports nothing of DRF, so the health check can read it in a process where no API request
has been served yet.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from redis.backoff import NoBackoff
from redis.retry import Retry

# Redis may go away (a restart, a failover, a network fault): the rate limiter must then not
# take the API down with it, nor make every request wait for a timeout. Short timeouts and no
# retries on the client; after a failure Redis is left alone for REDIS_RETRY_SECONDS, and the
# counters are kept per process meanwhile (each process admits at most the budget, so a
# deployment of n processes admits at most n budgets a window until Redis returns).
logger = logging.getLogger(__name__)
fallback_cache = LocMemCache("caretrust-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


@functools.cache
def redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per process for the rate limiter's counters."""
    timeout = settings.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


class RedisHealth:
    """Whether the rate limiter counts in Redis or, since when, in this process. Says so in the
    log when that changes, and at most once a minute while it lasts (never per request)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.logged_at: float | None = None
        self.last_error = ""
        self.counted_locally = 0

    def usable(self) -> bool:
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            if self.down_since is None:
                self.down_since = now
            self.retry_at = now + settings.REDIS_RETRY_SECONDS
            self.last_error = f"{exc.__class__.__name__}: {exc}"[:200]

    def fell_back(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.counted_locally += 1
            if self.logged_at is not None and now - self.logged_at < 60:
                return
            self.logged_at = now
            counted, self.counted_locally = self.counted_locally, 0
            error = self.last_error
        logger.warning(
            "Redis is unavailable (%s): rate limits are counted per process until it returns; "
            "%d requests counted so since the last message",
            error,
            counted,
        )

    def worked(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            lasted = time.monotonic() - self.down_since
            self.down_since = None
            self.logged_at = None
            self.counted_locally = 0
        logger.warning(
            "Redis is back: rate limits are counted in Redis again (after %.0f s)", lasted
        )


redis_health = RedisHealth()


def rate_limit_fallback_seconds() -> float | None:
    """For the health check: how long rate limits have been counted per process because Redis
    is unavailable, or None while they are counted in Redis (or Redis is not configured)."""
    since = redis_health.down_since
    return None if since is None else time.monotonic() - since
