"""Each partner client (and each signed-in user) has its own request budget; past it the API
answers 429 with Retry-After, and nobody else is slowed down."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from tests.api.conftest import assert_problem, make_partner
from tests.conftest import signed_in

PERSONS = "/api/v1/persons/"

pytestmark = pytest.mark.usefixtures("_fresh_rate_limits", "_a_still_clock")


@pytest.fixture
def _a_still_clock(monkeypatch):
    """Budgets are per fixed window of the clock: hold the clock 20 s into a window, so no
    test's requests fall either side of a window's end."""
    from rest_framework.views import APIView  # loads the throttle through DRF's settings

    (PerClientThrottle,) = APIView.throttle_classes

    monkeypatch.setattr(PerClientThrottle, "timer", staticmethod(lambda: 60.0 * 28_000_000 + 20))


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    """The counters in a real Redis, as deployed (REDIS_URL set): database 14, emptied before
    and after. CI always has Redis (and sets CI), so there a missing server fails the test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL} (set TEST_REDIS_URL); CI always runs these")
    client.flushdb()
    with override_settings(REDIS_URL=REDIS_URL):
        yield client
    client.flushdb()


@pytest.fixture(params=["local-memory cache", "redis"])
def counters(request):
    """Each budget test runs against both stores: Django's cache (development, no REDIS_URL)
    and Redis itself."""
    if request.param == "redis":
        request.getfixturevalue("real_redis")
    return request.param


@override_settings(API_RATE_LIMIT="3/minute")
def test_the_fourth_request_in_a_minute_is_refused_with_retry_after(hospital_partner, counters):
    for _ in range(3):
        assert hospital_partner.api.get(PERSONS).status_code == 200

    response = hospital_partner.api.get(PERSONS)

    body = assert_problem(response, 429)
    assert body["type"].endswith("/rate-limited")
    assert body["title"] == "Too many requests"
    assert int(response["Retry-After"]) == 40  # the rest of the window


@override_settings(API_RATE_LIMIT="3/minute")
def test_another_client_is_unaffected(hospital_partner, council, counters):
    other = make_partner(council, name="Council system")
    for _ in range(4):
        hospital_partner.api.get(PERSONS)
    assert hospital_partner.api.get(PERSONS).status_code == 429

    assert other.api.get(PERSONS).status_code == 200


@override_settings(API_RATE_LIMIT="3/minute")
def test_the_budget_is_per_client_not_per_token(hospital_partner, counters):
    second_token = hospital_partner.api_with(None)
    for _ in range(3):
        assert hospital_partner.api.get(PERSONS).status_code == 200

    assert_problem(second_token.get(PERSONS), 429)


@override_settings(API_RATE_LIMIT="3/minute")
def test_writes_and_errors_count_too(hospital_partner):
    hospital_partner.api.get("/api/v1/persons/not-a-uuid/")  # 404
    hospital_partner.api.post(PERSONS, "{}", content_type="application/json")  # 400
    hospital_partner.api.get(PERSONS)

    assert_problem(hospital_partner.api.get(PERSONS), 429)


@override_settings(API_RATE_LIMIT="3/minute")
def test_a_signed_in_user_has_their_own_budget(carol, hospital_partner):
    browser = signed_in(carol)
    for _ in range(3):
        assert browser.get(PERSONS).status_code == 200

    assert_problem(browser.get(PERSONS), 429)
    assert hospital_partner.api.get(PERSONS).status_code == 200


def test_the_default_budget_is_generous(hospital_partner):
    for _ in range(10):
        assert hospital_partner.api.get(PERSONS).status_code == 200


@override_settings(API_RATE_LIMIT="100/minute")
def test_the_budget_is_kept_as_one_counter_not_a_list_of_timestamps(hospital_partner):
    """DRF's default throttle reads and rewrites a list of every request's time on each call
    (tens of kilobytes for a busy client); ours keeps one integer per client per window."""
    for _ in range(4):
        hospital_partner.api.get(PERSONS)

    window = 28_000_000  # the still clock's minute
    assert cache.get(f"throttle:client:{hospital_partner.partner.pk}:{window}") == 4


@override_settings(API_RATE_LIMIT="100/minute")
def test_in_redis_the_window_is_one_counter_that_expires_after_two_windows(
    hospital_partner, real_redis
):
    for _ in range(4):
        hospital_partner.api.get(PERSONS)

    key = f"caretrust:throttle:client:{hospital_partner.partner.pk}:28000000"
    assert real_redis.get(key) == b"4"
    assert 60 < real_redis.ttl(key) <= 120


def test_in_redis_concurrent_requests_are_each_counted_once(real_redis):
    """Eight threads counting at once into a window nobody has opened: no request is lost or
    counted twice, whoever opens the window."""
    from rest_framework.views import APIView

    (PerClientThrottle,) = APIView.throttle_classes
    throttle = PerClientThrottle()
    start = threading.Barrier(8)
    seen: list[int] = []

    def hammer() -> None:
        start.wait()
        for _ in range(50):
            seen.append(throttle.count("throttle:test:race:1", ttl=120))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(seen) == list(range(1, 401))  # every count handed out exactly once
    assert real_redis.get("caretrust:throttle:test:race:1") == b"400"
