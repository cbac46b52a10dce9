"""The care plan: services with their funding, hours and costs; weekly cost computed; and
authorising it announces care_package.authorised exactly once, after commit, never on
rollback (then care_package.changed and care_package.ended)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from assessments import services
from assessments.models import CarePlan, CarePlanService
from caretrust.events import services as events
from caretrust.events.models import OutboxEvent
from tests.assessments.conftest import complete

RECEIVED: list[dict] = []


@events.handles("care_package.authorised", name="tests.assessments.budget_stub")
@events.handles("care_package.changed", name="tests.assessments.budget_stub_changed")
@events.handles("care_package.ended", name="tests.assessments.budget_stub_ended")
def _budget_stub(event: OutboxEvent) -> None:
    RECEIVED.append({"type": event.type, **event.payload})


@pytest.fixture(autouse=True)
def _fresh():
    RECEIVED.clear()
    yield
    RECEIVED.clear()


HOME_CARE = {
    "kind": "home_care",
    "funding": "social_care",
    "provider_agency": None,
    "hours_per_week": "7.5",
    "cost_per_hour_pence": 2150,
    "start_date": "2026-12-07",
    "review_date": "2027-01-04",
}
NURSING = {
    "kind": "district_nursing",
    "funding": "nhs",
    "hours_per_week": "2",
    "cost_per_hour_pence": 0,
    "start_date": "2026-12-07",
}


@pytest.fixture
def signed(assessment, hospital, nina):
    return complete(assessment, nina, hospital)


def _plan(signed, nina, hospital, services_=(HOME_CARE, NURSING)):
    return services.save_care_plan(
        assessment=signed,
        goals="To get back to making my own breakfast.",
        review_on=dt.date.today() + dt.timedelta(days=42),
        services=list(services_),
        by=nina,
        agency=hospital,
    )


def test_the_weekly_cost_is_hours_times_cost_to_the_penny(signed, hospital, nina):
    plan = _plan(signed, nina, hospital)
    assert plan.weekly_cost_pence == 16125  # 7.5 h x 2150 p; nursing is free
    odd = _plan(
        signed,
        nina,
        hospital,
        [{**HOME_CARE, "hours_per_week": "3.33", "cost_per_hour_pence": 1001}],
    )
    assert odd.weekly_cost_pence == 3333  # 3333.33 rounds to 3333


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"hours_per_week": "168.5"}, "hours_per_week", "0 to 168"),
        ({"hours_per_week": "-1"}, "hours_per_week", "0 to 168"),
        ({"cost_per_hour_pence": -1}, "cost_per_hour_pence", "0 or more"),
        ({"cost_per_hour_pence": 21.5}, "cost_per_hour_pence", "whole pence"),
        ({"kind": "spa"}, "kind", "kind of service"),
        ({"funding": "free"}, "funding", "means-tested"),
        ({"end_date": "2026-12-01"}, "end_date", "before the start"),
    ],
)
def test_bad_services_are_refused_and_nothing_is_written(
    signed, hospital, nina, change, field, message
):
    with pytest.raises(ValidationError) as error:
        _plan(signed, nina, hospital, [{**HOME_CARE, **change}])
    assert message in error.value.message_dict[f"services[0].{field}"][0]
    assert not CarePlan.objects.exists() and not CarePlanService.objects.exists()


def test_a_plan_needs_a_signed_off_assessment(assessment, hospital, nina):
    with pytest.raises(ValidationError, match="Sign off"):
        _plan(assessment, nina, hospital)


def test_authorising_announces_the_package_once_after_commit_with_the_contract_payload(
    signed, hospital, nina, django_capture_on_commit_callbacks
):
    plan = _plan(signed, nina, hospital)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
        assert RECEIVED == [], "delivered before commit"

    assert len(RECEIVED) == 1
    payload = RECEIVED[0]
    assert payload.pop("type") == "care_package.authorised"
    services_ = payload.pop("services")
    assert payload == {
        "care_plan_id": str(plan.pk),
        "version": 1,
        "case_file_id": str(signed.case_file_id),
        "person_id": str(signed.case_file.person_id),
        "agency_id": hospital.pk,
        "authorised_by": nina.pk,
        "authorised_on": dt.date.today().isoformat(),
        "weekly_cost_pence": 16125,
    }
    home = next(s for s in services_ if s["kind"] == "home_care")
    assert set(home) == {
        "service_id",
        "kind",
        "funding",
        "provider_agency_id",
        "hours_per_week",
        "cost_per_hour_pence",
        "weekly_cost_pence",
        "start_date",
        "end_date",
    }
    assert (home["hours_per_week"], home["weekly_cost_pence"], home["funding"]) == (
        "7.50",
        16125,
        "social_care",
    )
    assert OutboxEvent.objects.filter(type="care_package.authorised").count() == 1
    events.dispatch_pending()
    assert len(RECEIVED) == 1, "handled twice"


def test_a_rolled_back_authorisation_announces_nothing(
    signed, hospital, nina, django_capture_on_commit_callbacks
):
    plan = _plan(signed, nina, hospital)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
        raise RuntimeError("the request failed after the service")
    assert RECEIVED == []
    assert not OutboxEvent.objects.filter(type__startswith="care_package").exists()
    plan.refresh_from_db()
    assert plan.status == "draft"


def test_authorising_twice_is_refused(signed, hospital, nina):
    plan = _plan(signed, nina, hospital)
    services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
    with pytest.raises(ValidationError, match="authorised"):
        services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
    assert OutboxEvent.objects.filter(type="care_package.authorised").count() == 1


def test_a_change_then_reauthorisation_announces_changed_and_ending_announces_ended(
    signed, hospital, nina, django_capture_on_commit_callbacks
):
    plan = _plan(signed, nina, hospital)
    with django_capture_on_commit_callbacks(execute=True):
        services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
        changed = services.save_care_plan(
            assessment=signed,
            care_plan=plan,
            goals="Breakfast, and the garden.",
            review_on=plan.review_on,
            services=[{**HOME_CARE, "hours_per_week": "10"}],
            by=nina,
            agency=hospital,
            expected_version=1,
        )
        assert changed.status == "draft"
        services.authorise_care_plan(care_plan=changed, by=nina, agency=hospital)
        services.end_care_plan(
            care_plan=changed, ended_on=dt.date(2027, 2, 1), by=nina, agency=hospital
        )
    assert [r["type"] for r in RECEIVED] == [
        "care_package.authorised",
        "care_package.changed",
        "care_package.ended",
    ]
    assert RECEIVED[1]["version"] == 2 and RECEIVED[1]["weekly_cost_pence"] == 21500
    assert RECEIVED[2] == {
        "type": "care_package.ended",
        "care_plan_id": str(plan.pk),
        "version": 3,
        "ended_on": "2027-02-01",
    }


def test_a_stale_change_is_refused(signed, hospital, nina):
    plan = _plan(signed, nina, hospital)
    with pytest.raises(services.StaleVersion):
        services.save_care_plan(
            assessment=signed,
            care_plan=plan,
            goals="x",
            review_on=plan.review_on,
            services=[HOME_CARE],
            by=nina,
            agency=hospital,
            expected_version=7,
        )
