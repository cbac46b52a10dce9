"""The demo's Calderbridge intermediate care pool: three years of consistent books, one month
left to close, a partner behind, an overspend to share; a second run adds nothing."""

from __future__ import annotations

import time
from io import StringIO

from django.core.management import call_command

from budgets import demo, ledger, selectors
from budgets.models import Commitment, Journal, Period, PooledFund
from caretrust.people.validators import today_in_london


def test_the_demo_pool_is_complete_and_its_books_balance(db):
    call_command("seed_demo", stdout=StringIO())
    fund = PooledFund.objects.get(slug=demo.SLUG)
    today = today_in_london()
    year = max(Period.objects.filter(fund=fund).values_list("year", flat=True))

    assert set(Period.objects.filter(fund=fund).values_list("year", flat=True)) == {
        year - 2,
        year - 1,
        year,
    }
    assert Journal.objects.filter(fund=fund).count() > 500
    assert ledger.trial_balance_total(fund) == 0 and ledger.drift(fund) == []
    month_start = today.replace(day=1)
    to_close = Period.objects.filter(fund=fund, status="open", ends_on__lt=month_start)
    assert to_close.count() == 1
    assert Commitment.objects.filter(fund=fund).count() >= 16
    rows = {r.agency.slug: r for r in selectors.contributions(fund, year)}
    behind = [slug for slug, r in rows.items() if r.behind_pence > 0]
    assert behind == ["calder-valley-community"]
    lines = {r.line.code: r for r in selectors.line_reports(fund, year)}
    assert lines["home-care"].variance_pence > 0  # an overspend to share

    start = time.perf_counter()
    assert demo.seed() == {}
    assert time.perf_counter() - start < 1
