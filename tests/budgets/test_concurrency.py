"""Posters at once, committing, on real connections: no drift, no deadlock, no posting inside
a closed period, and one journal for one idempotency key."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from budgets import ledger, services
from budgets.ledger import LedgerError, Line
from budgets.models import AccountKind, AccountPeriodTotal, Journal, Period
from tests.budgets.conftest import APRIL, make_pool

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", autouse=True)
def _flushable(audit_flushable: None) -> None:
    """These tests commit: see tests/conftest.py."""


def in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_eight_posters_on_two_funds_never_deadlock_or_drift(council, hospital, fiona):
    pools = [make_pool(council, hospital, fiona, slug=f"p{i}") for i in range(2)]
    accounts = {p.fund.pk: list(p.fund.accounts.all()) for p in pools}

    def poster(i: int) -> int:
        rng = random.Random(i)
        posted = 0
        for _ in range(15):
            pool = pools[rng.randrange(2)]
            chosen = rng.sample(accounts[pool.fund.pk], 4)  # a different order every time
            amount = rng.randrange(1, 10_000)
            lines = [
                Line(chosen[0], "D", amount),
                Line(chosen[1], "C", amount),
                Line(chosen[2], "D", amount),
                Line(chosen[3], "C", amount),
            ]
            ledger.post_journal(fund=pool.fund, kind="manual", effective_date=APRIL, lines=lines)
            posted += 1
        return posted

    results = in_threads(8, poster)

    assert results == [15] * 8, results
    assert Journal.objects.count() == 120
    for pool in pools:
        assert ledger.drift(pool.fund) == []
        assert ledger.trial_balance_total(pool.fund) == 0


def test_a_close_racing_postings_lets_none_in_after_it(pool, fiona):
    april = Period.objects.get(fund=pool.fund, month=1)
    after_close: dict[str, Any] = {}

    def work(i: int) -> Any:
        if i == 0:
            run = services.start_close(period=april, by=fiona)
            after_close["totals"] = sorted(
                AccountPeriodTotal.objects.filter(period=april).values_list(
                    "account_id", "debit_pence", "credit_pence"
                )
            )
            return run.pk
        outcomes = []
        for _ in range(20):
            try:
                services.record_expenditure(line=pool.home_care, amount_pence=100, on=APRIL)
                outcomes.append("posted")
            except LedgerError as exc:
                assert "is closed" in str(exc)
                outcomes.append("refused")
        return outcomes

    results = in_threads(4, work)

    april.refresh_from_db()
    assert april.status == "closed"
    assert all(not isinstance(r, Exception) for r in results), results
    final = sorted(
        AccountPeriodTotal.objects.filter(period=april).values_list(
            "account_id", "debit_pence", "credit_pence"
        )
    )
    assert final == after_close["totals"]
    posted = sum(r.count("posted") for r in results[1:])
    assert Journal.objects.filter(period=april).count() == posted
    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care)
    assert ledger.balance(spend) == 100 * posted


def test_one_idempotency_key_from_two_connections_makes_one_journal(pool):
    def work(i: int) -> int:
        return services.record_expenditure(
            line=pool.home_care, amount_pence=4_200, on=APRIL, idempotency_key="host-feed-77"
        ).pk

    results = in_threads(2, work)

    assert results[0] == results[1], results
    assert Journal.objects.filter(idempotency_key="host-feed-77").count() == 1
