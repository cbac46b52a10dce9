"""Each partner client (and each signed-in user) has its own request budget; past it the API
answers 429 with Retry-After, and nobody else is slowed down."""

from __future__ import annotations

import pytest
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


@override_settings(API_RATE_LIMIT="3/minute")
def test_the_fourth_request_in_a_minute_is_refused_with_retry_after(hospital_partner):
    for _ in range(3):
        assert hospital_partner.api.get(PERSONS).status_code == 200

    response = hospital_partner.api.get(PERSONS)

    body = assert_problem(response, 429)
    assert body["type"].endswith("/rate-limited")
    assert body["title"] == "Too many requests"
    assert int(response["Retry-After"]) == 40  # the rest of the window


@override_settings(API_RATE_LIMIT="3/minute")
def test_another_client_is_unaffected(hospital_partner, council):
    other = make_partner(council, name="Council system")
    for _ in range(4):
        hospital_partner.api.get(PERSONS)
    assert hospital_partner.api.get(PERSONS).status_code == 429

    assert other.api.get(PERSONS).status_code == 200


@override_settings(API_RATE_LIMIT="3/minute")
def test_the_budget_is_per_client_not_per_token(hospital_partner):
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
