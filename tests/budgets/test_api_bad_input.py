"""Bad journals through the API: each a 4xx problem document saying what is wrong and what
is expected, and nothing written."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.cache import cache

from budgets import services
from budgets.models import AccountKind, Journal, Period
from tests.api.conftest import make_partner
from tests.budgets.conftest import make_pool


@pytest.fixture(autouse=True)
def _cheap(settings: Any) -> Any:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(council):
    return make_partner(council, scopes=["budgets:read", "budgets:write"]).api


def body(pool, *postings, day="2026-04-12"):
    cash = services.account(pool.fund, AccountKind.CASH).pk
    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care).pk
    ids = {"cash": cash, "spend": spend}
    return {
        "fund": pool.fund.pk,
        "effective_date": day,
        "postings": [
            {"account": ids.get(a, a), "side": side, **amount} for a, side, amount in postings
        ],
    }


def post(api, data, **headers):
    return api.post(
        "/api/v1/journals/", json.dumps(data), content_type="application/json", **headers
    )


GOOD = (("spend", "debit", {"amount": "12.50"}), ("cash", "credit", {"amount_pence": 1250}))


def test_a_good_journal_posts_and_a_replay_returns_it(pool, api):
    first = post(api, body(pool, *GOOD), HTTP_IDEMPOTENCY_KEY="feed-1")
    again = post(api, body(pool, *GOOD), HTTP_IDEMPOTENCY_KEY="feed-1")

    assert first.status_code == 201, first.content
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Journal.objects.count() == 1
    assert first.json()["postings"][0] == {
        "account": body(pool, *GOOD)["postings"][0]["account"],
        "side": "debit",
        "amount_pence": 1250,
    }


@pytest.mark.parametrize(
    ("postings", "message"),
    [
        (
            (("spend", "debit", {"amount_pence": 100}), ("cash", "credit", {"amount_pence": 99})),
            "does not balance",
        ),
        (
            (("spend", "debit", {"amount": "1.005"}), ("cash", "credit", {"amount": "1.005"})),
            "at most two decimal places",
        ),
        ((("spend", "debit", {"amount": "5"}), ("cash", "credit", {"amount": "-5"})), "above zero"),
        (
            (("spend", "debit", {"amount_pence": 5}), ("cash", "credit", {"amount_pence": -5})),
            "above zero",
        ),
        (
            (("spend", "debit", {"amount_pence": "5"}), ("cash", "credit", {"amount_pence": 5})),
            "whole number of pence",
        ),
        (
            (
                ("spend", "debit", {"amount_pence": 5, "amount": "0.05"}),
                ("cash", "credit", {"amount_pence": 5}),
            ),
            "exactly one of",
        ),
        (
            (("spend", "sideways", {"amount_pence": 5}), ("cash", "credit", {"amount_pence": 5})),
            "not a valid choice",
        ),
    ],
)
def test_a_bad_journal_is_a_400_that_says_why(pool, api, postings, message):
    response = post(api, body(pool, *postings))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in json.dumps(response.json()["errors"])
    assert not Journal.objects.exists()


def test_another_funds_account_is_refused(pool, api, council, hospital, fiona):
    other = make_pool(council, hospital, fiona, slug="other")
    foreign = services.account(other.fund, AccountKind.CASH).pk

    response = post(
        api,
        body(
            pool, ("spend", "debit", {"amount_pence": 5}), (foreign, "credit", {"amount_pence": 5})
        ),
    )

    assert response.status_code == 400
    assert "no account" in json.dumps(response.json()["errors"])
    assert not Journal.objects.exists()


def test_a_closed_period_or_a_date_outside_every_period_is_refused(pool, api):
    Period.objects.filter(fund=pool.fund, month=1).update(status="closed")

    closed = post(api, body(pool, *GOOD))
    outside = post(api, body(pool, *GOOD, day="2031-01-01"))

    assert closed.status_code == outside.status_code == 400
    assert "is closed" in json.dumps(closed.json()["errors"])
    assert "outside every period" in json.dumps(outside.json()["errors"])
    assert not Journal.objects.exists()


def test_a_reused_key_with_a_different_body_is_a_422(pool, api):
    post(api, body(pool, *GOOD), HTTP_IDEMPOTENCY_KEY="feed-2")
    changed = body(
        pool, ("spend", "debit", {"amount_pence": 1}), ("cash", "credit", {"amount_pence": 1})
    )

    response = post(api, changed, HTTP_IDEMPOTENCY_KEY="feed-2")

    assert response.status_code == 422
    assert Journal.objects.count() == 1


def test_a_reversal_of_a_reversal_is_refused(pool, api):
    journal = services.record_expenditure(
        line=pool.home_care, amount_pence=10, on=dt.date(2026, 4, 1)
    )
    first = api.post(
        f"/api/v1/journals/{journal.pk}/reverse/",
        json.dumps({"effective_date": "2026-04-02"}),
        content_type="application/json",
    )
    twice = api.post(
        f"/api/v1/journals/{journal.pk}/reverse/",
        json.dumps({"effective_date": "2026-04-02"}),
        content_type="application/json",
    )
    of_reversal = api.post(
        f"/api/v1/journals/{first.json()['id']}/reverse/",
        json.dumps({"effective_date": "2026-04-02"}),
        content_type="application/json",
    )

    assert first.status_code == 201
    assert twice.status_code == 400 and "already been reversed" in twice.content.decode()
    assert of_reversal.status_code == 400 and "cannot be reversed" in of_reversal.content.decode()
    assert Journal.objects.count() == 2
