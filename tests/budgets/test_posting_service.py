"""The posting service: each way money moves, and every bad journal refused with a message
that says what is wrong, with nothing half-posted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from budgets import ledger, services
from budgets.ledger import IdempotencyConflict, LedgerError, Line
from budgets.models import AccountKind, ClientCharge, Journal, JournalKind, Period, Posting
from caretrust.audit.models import AuditEvent
from tests.budgets.conftest import APRIL, MAY
from tests.factories import CaseFileFactory


def bal(pool, kind, **kw) -> int:
    return ledger.balance(services.account(pool.fund, kind, **kw))


def test_a_contribution_is_invoiced_then_received(pool, fiona, council):
    services.invoice_contribution(
        partner=pool.hospital, amount_pence=10_000_000, on=APRIL, by=fiona, agency=council
    )
    services.receive_contribution(partner=pool.hospital, amount_pence=7_500_000, on=MAY)

    assert bal(pool, AccountKind.RECEIVABLE, partner=pool.hospital) == 2_500_000
    assert bal(pool, AccountKind.CONTRIBUTION, partner=pool.hospital) == -10_000_000
    assert bal(pool, AccountKind.CASH) == 7_500_000
    assert ledger.trial_balance_total(pool.fund) == 0
    assert AuditEvent.objects.filter(action="budgets.journal_posted", actor_id=fiona.pk).exists()


def test_expenditure_on_a_commitment_releases_what_is_outstanding(pool):
    commitment = services.commit_service(
        care_plan_id="6f1c6b7e-0000-4000-8000-000000000001",
        version=1,
        case_file_id="6f1c6b7e-0000-4000-8000-0000000000ff",
        agency_id=pool.council.agency_id,
        service={
            "service_id": "s1",
            "kind": "home_care",
            "funding": "social_care",
            "weekly_cost_pence": 14_000,
            "start_date": "2027-03-18",
            "end_date": None,
        },
        on=dt.date(2027, 3, 18),
        event_key="e1",
    )
    assert commitment.total_pence == 28_000  # 14 days to 31 March: two weeks
    services.record_expenditure(
        line=pool.home_care, amount_pence=20_000, on=dt.date(2027, 3, 25), commitment=commitment
    )
    services.record_expenditure(
        line=pool.home_care, amount_pence=20_000, on=dt.date(2027, 3, 31), commitment=commitment
    )

    assert services.outstanding(commitment) == 0
    assert bal(pool, AccountKind.COMMITMENT, line=pool.home_care) == 0
    assert bal(pool, AccountKind.EXPENDITURE, line=pool.home_care) == 40_000


def test_an_accrual_reverses_itself_on_the_first_day_of_the_next_period(pool):
    accrual, reversal = services.post_accrual(
        line=pool.nursing, amount_pence=12_345, on=dt.date(2026, 4, 30)
    )

    assert reversal.reverses == accrual
    assert reversal.effective_date == dt.date(2026, 5, 1)
    april = Period.objects.get(fund=pool.fund, month=1)
    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.nursing)
    assert ledger.balance(spend, up_to=april) == 12_345
    assert ledger.balance(spend) == 0


def test_an_accrual_in_march_reverses_into_the_next_financial_year(pool):
    _, reversal = services.post_accrual(
        line=pool.nursing, amount_pence=500, on=dt.date(2027, 3, 31)
    )

    assert reversal.period.year == 2027 and reversal.period.month == 1


def test_client_charges_only_on_lines_that_allow_them(pool, fiona, council, carol):
    case_file = CaseFileFactory(agency=council, lead_worker=carol)
    services.record_client_charge(
        line=pool.home_care,
        case_file=case_file,
        amount_pence=2_500,
        on=APRIL,
        by=fiona,
        agency=council,
    )

    with pytest.raises(LedgerError, match="does not allow client charges"):
        services.record_client_charge(
            line=pool.nursing,
            case_file=case_file,
            amount_pence=2_500,
            on=APRIL,
            by=fiona,
            agency=council,
        )
    assert ClientCharge.objects.count() == 1
    assert bal(pool, AccountKind.CLIENT_CHARGES, line=pool.home_care) == -2_500
    assert AuditEvent.objects.filter(
        action="budgets.client_charged", person_id=case_file.person_id
    ).exists()


def test_a_charge_needs_the_case_file_visible_for_finance(pool, fiona, council, hospital, nina):
    hidden = CaseFileFactory(agency=hospital, lead_worker=nina)

    with pytest.raises(PermissionDenied):
        services.record_client_charge(
            line=pool.home_care,
            case_file=hidden,
            amount_pence=100,
            on=APRIL,
            by=fiona,
            agency=council,
        )
    assert not ClientCharge.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied", person_id=hidden.person_id).exists()


def test_a_transfer_moves_expenditure_between_lines(pool):
    services.record_expenditure(line=pool.home_care, amount_pence=9_000, on=APRIL)
    services.transfer_between_lines(
        source=pool.home_care, target=pool.delays, amount_pence=4_000, on=APRIL
    )

    assert bal(pool, AccountKind.EXPENDITURE, line=pool.home_care) == 5_000
    assert bal(pool, AccountKind.EXPENDITURE, line=pool.delays) == 4_000


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ([("D", 100), ("C", 99)], "does not balance"),
        ([("D", 100)], "at least two postings"),
        ([("D", -100), ("C", -100)], "above zero"),
        ([("D", 100.5), ("C", 100.5)], "whole number of pence"),
        ([("X", 100), ("C", 100)], "debit or credit"),
    ],
)
def test_a_bad_journal_is_refused_whole(pool, amounts, message):
    cash, spend = (
        services.account(pool.fund, AccountKind.CASH),
        services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care),
    )
    lines = [Line(spend if n == 0 else cash, side, amt) for n, (side, amt) in enumerate(amounts)]

    with pytest.raises(LedgerError, match=message):
        ledger.post_journal(
            fund=pool.fund, kind=JournalKind.MANUAL, effective_date=APRIL, lines=lines
        )
    assert not Journal.objects.exists() and not Posting.objects.exists()


def test_another_funds_account_is_refused(pool, council, hospital, fiona):
    from tests.budgets.conftest import make_pool

    other = make_pool(council, hospital, fiona, slug="other")
    lines = [
        Line(services.account(pool.fund, AccountKind.CASH), "D", 100),
        Line(services.account(other.fund, AccountKind.CASH), "C", 100),
    ]

    with pytest.raises(LedgerError, match="belongs to another fund"):
        ledger.post_journal(fund=pool.fund, kind="manual", effective_date=APRIL, lines=lines)


def test_a_closed_period_and_a_date_outside_every_period_are_refused(pool):
    Period.objects.filter(fund=pool.fund, month=1).update(status="closed")

    with pytest.raises(LedgerError, match="is closed"):
        services.record_expenditure(line=pool.home_care, amount_pence=100, on=APRIL)
    with pytest.raises(LedgerError, match="outside every period"):
        services.record_expenditure(line=pool.home_care, amount_pence=100, on=dt.date(2031, 1, 1))
    assert not Journal.objects.exists()


def test_a_replayed_key_returns_the_first_journal_and_a_different_body_is_refused(pool):
    first = services.record_expenditure(
        line=pool.home_care, amount_pence=100, on=APRIL, idempotency_key="k1"
    )
    again = services.record_expenditure(
        line=pool.home_care, amount_pence=100, on=APRIL, idempotency_key="k1"
    )

    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict, match="used for a different journal"):
        services.record_expenditure(
            line=pool.home_care, amount_pence=101, on=APRIL, idempotency_key="k1"
        )
    assert Journal.objects.count() == 1


def test_a_reversal_nets_to_zero_and_happens_once(pool):
    journal = services.record_expenditure(line=pool.home_care, amount_pence=700, on=APRIL)
    reversal = ledger.reverse_journal(journal=journal, effective_date=MAY)

    assert bal(pool, AccountKind.EXPENDITURE, line=pool.home_care) == 0
    with pytest.raises(LedgerError, match="already been reversed"):
        ledger.reverse_journal(journal=journal, effective_date=MAY)
    with pytest.raises(LedgerError, match="cannot be reversed"):
        ledger.reverse_journal(journal=reversal, effective_date=MAY)


def test_the_maintained_totals_equal_the_postings(pool):
    services.record_expenditure(line=pool.home_care, amount_pence=700, on=APRIL)
    services.post_accrual(line=pool.nursing, amount_pence=300, on=dt.date(2026, 4, 30))

    assert ledger.drift(pool.fund) == []
    for account in pool.fund.accounts.all():
        assert ledger.balance(account) == ledger.balance_from_postings(account)
