"""Reconciliation for finance staff: contributions agreed vs due vs invoiced vs received,
budget vs actual vs committed vs forecast per line and month, aged commitments, the trial
balance, and a bank statement matched to the cash postings."""

from __future__ import annotations

import datetime as dt

import pytest

from budgets import selectors, services
from budgets.ledger import LedgerError
from budgets.models import StatementLine
from tests.budgets.conftest import YEAR

TODAY = dt.date(2026, 12, 3)


def test_a_partner_behind_its_schedule_shows_what_it_owes(pool):
    for partner in (pool.council, pool.hospital):
        services.invoice_contribution(
            partner=partner, amount_pence=30_000_000, on=dt.date(2026, 4, 1)
        )
    services.receive_contribution(
        partner=pool.council, amount_pence=30_000_000, on=dt.date(2026, 4, 20)
    )
    services.receive_contribution(
        partner=pool.hospital, amount_pence=10_000_000, on=dt.date(2026, 4, 20)
    )

    rows = {r.partner_id: r for r in selectors.contributions(pool.fund, YEAR, today=TODAY)}

    council, hospital = rows[pool.council.pk], rows[pool.hospital.pk]
    assert (council.agreed_pence, council.invoiced_pence, council.received_pence) == (
        60_000_000,
        30_000_000,
        30_000_000,
    )
    # Three quarterly instalments (April, July, October) have fallen due by December.
    assert hospital.due_pence == 30_000_000
    assert hospital.behind_pence == 20_000_000
    assert hospital.outstanding_pence == 20_000_000
    assert council.behind_pence == 15_000_000


def test_line_report_budget_actual_committed_and_forecast(pool):
    services.record_expenditure(line=pool.nursing, amount_pence=3_000_000, on=dt.date(2026, 4, 10))
    services.record_expenditure(line=pool.nursing, amount_pence=6_000_000, on=dt.date(2026, 6, 10))
    c = services.commit_service(
        care_plan_id="00000000-0000-4000-8000-000000000001",
        version=1,
        case_file_id="00000000-0000-4000-8000-000000000002",
        agency_id=pool.council.agency_id,
        service={
            "service_id": "dn",
            "kind": "district_nursing",
            "funding": "nhs",
            "weekly_cost_pence": 70_000,
            "start_date": "2027-01-01",
            "end_date": "2027-01-28",
        },
        on=dt.date(2026, 12, 1),
        event_key="k",
    )
    assert c.total_pence == 280_000

    report = next(
        r for r in selectors.line_reports(pool.fund, YEAR, today=TODAY) if r.line == pool.nursing
    )

    assert sum(m.budget_pence for m in report.months) == 40_000_000
    assert [m.actual_pence for m in report.months[:3]] == [3_000_000, 0, 6_000_000]
    assert report.months[9].actual_pence is None  # January has not begun
    assert report.actual_pence == 9_000_000
    assert report.committed_pence == 280_000
    # Nine months elapsed, 9,000,000 uncommitted spend: 1,000,000 a month for three more months
    # plus the 280,000 committed.
    assert report.forecast_pence == 9_000_000 + 3 * 1_000_000 + 280_000
    assert report.variance_pence == report.forecast_pence - 40_000_000


def test_aged_commitments_are_listed_oldest_first(pool):
    for n, start in enumerate(["2026-05-01", "2026-11-20"]):
        services.commit_service(
            care_plan_id=f"00000000-0000-4000-8000-00000000000{n}",
            version=1,
            case_file_id="00000000-0000-4000-8000-0000000000aa",
            agency_id=pool.council.agency_id,
            service={
                "service_id": "h",
                "kind": "home_care",
                "funding": "social_care",
                "weekly_cost_pence": 7_000,
                "start_date": start,
                "end_date": None,
            },
            on=dt.date.fromisoformat(start),
            event_key=f"k{n}",
        )

    aged = selectors.aged_commitments(pool.fund, today=TODAY)

    assert [a.band for a in aged] == ["Over 90 days", "0-30 days"]
    assert all(a.outstanding_pence > 0 for a in aged)


def test_the_trial_balance_sums_to_zero(pool):
    services.invoice_contribution(
        partner=pool.hospital, amount_pence=123_457, on=dt.date(2026, 5, 2)
    )
    services.post_accrual(line=pool.home_care, amount_pence=999, on=dt.date(2026, 5, 31))

    rows = selectors.trial_balance(pool.fund)

    assert sum(r.net_pence for r in rows) == 0
    assert sum(r.debit_pence for r in rows) == 123_457 + 999 + 999


STATEMENT = """date,reference,amount
2026-04-21,BACS HOSP-Q1 contribution,100000.00
2026-04-22,Unknown receipt,12.34
2026-05-02,Provider INV-9,-250.50
"""


def test_a_bank_statement_is_matched_to_cash_postings_and_the_rest_listed(pool, fiona):
    services.receive_contribution(
        partner=pool.hospital, amount_pence=10_000_000, on=dt.date(2026, 4, 20), reference="HOSP-Q1"
    )
    services.record_expenditure(
        line=pool.home_care, amount_pence=25_050, on=dt.date(2026, 5, 1), reference="INV-9"
    )
    services.record_expenditure(line=pool.home_care, amount_pence=777, on=dt.date(2026, 5, 1))

    statement = services.import_statement(
        fund=pool.fund, filename="bank.csv", content=STATEMENT, by=fiona
    )

    lines = list(statement.lines.all())
    assert [bool(ln.matched_id) for ln in lines] == [True, False, True]
    assert lines[2].matched.journal.reference == "INV-9"
    assert lines[1].amount_pence == 1234


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,what,how much\n2026-04-01,x,1.00\n", "columns must be date, reference, amount"),
        ("date,reference,amount\n2026-04-01,x,1.00\n2026-04-01,x,1.00\n", "Row 3 repeats row 2"),
        ("date,reference,amount\n2026-04-01,x,1.005\n", "at most two decimal places"),
        ("date,reference,amount\n01/04/2026,x,1.00\n", "YYYY-MM-DD"),
        ("date,reference,amount\n", "no rows"),
    ],
)
def test_a_bad_statement_is_refused_whole(pool, fiona, content, message):
    with pytest.raises(LedgerError, match=message):
        services.import_statement(fund=pool.fund, filename="bad.csv", content=content, by=fiona)
    assert not StatementLine.objects.exists()
