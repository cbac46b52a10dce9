"""Care package events from the assessments app (or posted by hand where it is absent) become
commitments on the right line, adjusted on change and end, released as invoices post, once per
event; a delayed-discharge charge from referrals is reimbursed from the pool."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from budgets import ledger, services
from budgets.models import AccountKind, Commitment, Journal, JournalKind
from caretrust.events import contracts
from caretrust.events.models import OutboxEvent
from caretrust.events.services import dispatch_pending, emit
from tests.factories import CaseFileFactory

PLAN = str(uuid.UUID(int=7))


def package(case_file, *, version=1, weekly=21_000, start="2026-10-01", end=None, nursing=0):
    services_ = [
        {
            "service_id": "home",
            "kind": "home_care",
            "funding": "social_care",
            "provider_agency_id": None,
            "hours_per_week": "10.5",
            "cost_per_hour_pence": 2000,
            "weekly_cost_pence": weekly,
            "start_date": start,
            "end_date": end,
        }
    ]
    if nursing:
        services_.append(
            {
                "service_id": "dn",
                "kind": "district_nursing",
                "funding": "nhs",
                "provider_agency_id": None,
                "hours_per_week": None,
                "cost_per_hour_pence": None,
                "weekly_cost_pence": nursing,
                "start_date": start,
                "end_date": end,
            }
        )
    return {
        "care_plan_id": PLAN,
        "version": version,
        "case_file_id": str(case_file.pk),
        "person_id": str(case_file.person_id),
        "agency_id": case_file.agency_id,
        "authorised_by": 1,
        "authorised_on": start,
        "weekly_cost_pence": weekly + nursing,
        "services": services_,
    }


def send(event_type, payload):
    with transaction.atomic():
        event = emit(event_type, aggregate_type="care_plan", aggregate_id=PLAN, payload=payload)
    dispatch_pending()
    return event


@pytest.fixture
def council_file(pool, council, carol):
    return CaseFileFactory(agency=council, lead_worker=carol)


def committed(pool, line) -> int:
    return ledger.balance(services.account(pool.fund, AccountKind.COMMITMENT, line=line))


def test_an_authorised_package_commits_weekly_cost_times_weeks_within_the_year(pool, council_file):
    send(contracts.CARE_PACKAGE_AUTHORISED, package(council_file, nursing=7_000))

    # 1 October 2026 to 31 March 2027 is 182 days: 26 weeks.
    assert committed(pool, pool.home_care) == 21_000 * 26
    assert committed(pool, pool.nursing) == 7_000 * 26
    assert Commitment.objects.count() == 2


def test_the_same_event_dispatched_again_commits_nothing_more(pool, council_file):
    event = send(contracts.CARE_PACKAGE_AUTHORISED, package(council_file))
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    from caretrust.events.models import HandledEvent

    HandledEvent.objects.filter(event=event).delete()
    dispatch_pending()

    assert committed(pool, pool.home_care) == 21_000 * 26
    assert Journal.objects.filter(kind=JournalKind.COMMITMENT).count() == 1


def test_a_change_adjusts_and_an_end_releases_what_is_left(pool, council_file):
    send(contracts.CARE_PACKAGE_AUTHORISED, package(council_file))
    send(contracts.CARE_PACKAGE_CHANGED, package(council_file, version=2, weekly=14_000))
    assert committed(pool, pool.home_care) == 14_000 * 26

    commitment = Commitment.objects.get()
    services.record_expenditure(
        line=pool.home_care, amount_pence=56_000, on=dt.date(2026, 10, 29), commitment=commitment
    )
    assert committed(pool, pool.home_care) == 14_000 * 22

    send(
        contracts.CARE_PACKAGE_ENDED, {"care_plan_id": PLAN, "version": 2, "ended_on": "2026-11-11"}
    )
    # Six weeks (1 October to 11 November) cost 84,000; 56,000 has been invoiced.
    assert committed(pool, pool.home_care) == 84_000 - 56_000


def test_an_older_version_arriving_late_changes_nothing(pool, council_file):
    send(contracts.CARE_PACKAGE_CHANGED, package(council_file, version=3, weekly=10_000))
    send(contracts.CARE_PACKAGE_CHANGED, package(council_file, version=2, weekly=99_000))

    assert committed(pool, pool.home_care) == 10_000 * 26


def test_a_service_dropped_from_the_package_is_released(pool, council_file):
    send(contracts.CARE_PACKAGE_AUTHORISED, package(council_file, nursing=7_000))
    send(contracts.CARE_PACKAGE_CHANGED, package(council_file, version=2))

    assert committed(pool, pool.nursing) == 0
    assert committed(pool, pool.home_care) == 21_000 * 26


def test_a_delay_charge_is_reimbursed_from_the_delays_line_once(pool, council, hospital):
    payload = {
        "discharge_id": "d-1",
        "person_id": str(uuid.uuid4()),
        "council_agency_id": council.pk,
        "hospital_agency_id": hospital.pk,
        "date_from": "2026-06-01",
        "date_to": "2026-06-03",
        "days": 3,
        "rate_pence": 10_000,
        "amount_pence": 30_000,
    }
    with transaction.atomic():
        emit(
            contracts.DISCHARGE_DELAY_CHARGED,
            aggregate_type="hospital_discharge",
            aggregate_id="d-1",
            payload=payload,
        )
    dispatch_pending()

    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.delays)
    assert ledger.balance(spend) == 30_000
    assert Journal.objects.get(kind=JournalKind.DELAY_REIMBURSEMENT).reference == "discharge d-1"


def test_the_management_command_posts_the_same_event(pool, council_file):
    out = StringIO()
    call_command(
        "post_care_package_event",
        "authorised",
        "--payload",
        json.dumps(package(council_file)),
        stdout=out,
    )
    dispatch_pending()

    assert "Posted care_package.authorised" in out.getvalue()
    assert OutboxEvent.objects.get().type == contracts.CARE_PACKAGE_AUTHORISED
    assert committed(pool, pool.home_care) == 21_000 * 26


def test_the_management_command_refuses_a_bad_payload_and_emits_nothing(pool, council_file):
    bad = package(council_file)
    bad["services"][0]["weekly_cost_pence"] = "210.00"

    with pytest.raises(CommandError, match="weekly_cost_pence"):
        call_command("post_care_package_event", "authorised", "--payload", json.dumps(bad))
    assert not OutboxEvent.objects.exists()
