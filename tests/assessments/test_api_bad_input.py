"""The bad inputs the issue lists, through the API: each a 4xx problem document saying what is
wrong and what is expected, and no row changed. Plus the section's ETag/If-Match: a stale save
is a 412 that keeps the draft, and exactly one of two saves from one version wins."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assessments import services
from assessments.models import (
    Addendum,
    Assessment,
    CarePlan,
    CarePlanService,
    JointMeeting,
    ScaleResult,
    Section,
    SectionConflict,
)
from tests.api.conftest import assert_problem, make_partner, patch_json, post_json
from tests.assessments.conftest import consent_to_assessments
from tests.assessments.factories import AMTS, contact_assessment
from tests.factories import CaseFileFactory, PersonFactory

BARTHEL = {
    "bowels": 2,
    "bladder": 2,
    "grooming": 1,
    "toilet": 2,
    "feeding": 2,
    "transfer": 3,
    "mobility": 3,
    "dressing": 2,
    "stairs": 2,
    "bathing": 1,
}


@pytest.fixture(autouse=True)
def _cheap_client_secrets(settings):
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


@pytest.fixture
def partner(hospital):
    return make_partner(hospital, name="Hospital EPR")


@pytest.fixture
def svc(partner):
    return partner.partner.service_user


@pytest.fixture
def open_assessment(hospital, svc):
    case_file = CaseFileFactory(agency=hospital, lead_worker=svc, person=PersonFactory())
    return contact_assessment(case_file, svc, hospital, sign_off=False)


@pytest.fixture
def signed_assessment(hospital, svc):
    case_file = CaseFileFactory(agency=hospital, lead_worker=svc, person=PersonFactory())
    return contact_assessment(case_file, svc, hospital, sign_off=True)


def _rows():
    return (
        sorted(Assessment.objects.values_list("pk", "status", "version")),
        sorted(Section.objects.values_list("pk", "version", "answers", "narrative", "status")),
        ScaleResult.objects.count(),
        JointMeeting.objects.count(),
        CarePlan.objects.count(),
        CarePlanService.objects.count(),
        Addendum.objects.count(),
    )


def _senses(a):
    return Section.objects.get(assessment=a, domain__key="senses")


def _etag(sec):
    return f'"{sec.pk}-v{sec.version}"'


def _fields(body):
    return {e["field"]: e["message"] for e in body.get("errors", [])}


@pytest.mark.parametrize(
    ("scale", "items", "field", "expected"),
    [
        ("barthel", {**BARTHEL, "bowels": 3}, "bowels", "give 0, 1, 2"),
        ("amts", {**AMTS, "year": 2}, "year", "give 0, 1"),
        ("barthel", {**BARTHEL, "cooking": 1}, "cooking", "no item 'cooking'"),
    ],
)
def test_an_invalid_scale_item_is_a_400_naming_the_item(
    partner, open_assessment, scale, items, field, expected
):
    before = _rows()
    response = post_json(
        partner.api,
        "/api/v1/scales/",
        {
            "assessment": str(open_assessment.pk),
            "scale": scale,
            "items": items,
            "assessed_on": "2026-11-30",
        },
    )
    body = assert_problem(response, 400)
    assert expected in _fields(body)[field]
    assert _rows() == before


def test_an_answer_to_a_question_the_form_version_lacks_is_a_400(partner, open_assessment):
    sec = _senses(open_assessment)
    before = _rows()
    response = patch_json(
        partner.api,
        f"/api/v1/sections/{sec.pk}/",
        {"answers": {"favourite_colour": "blue"}},
        HTTP_IF_MATCH=_etag(sec),
    )
    body = assert_problem(response, 400)
    assert "has no question 'favourite_colour'" in _fields(body)["favourite_colour"]
    assert "sight, hearing" in _fields(body)["favourite_colour"]
    assert _rows() == before


def test_a_future_date_for_a_past_event_is_a_400(partner, open_assessment, svc, hospital):
    sec = Section.objects.get(assessment=open_assessment, domain__key="clinical_background")
    services.reopen_section(section_id=sec.pk, by=svc, agency=hospital)
    sec.refresh_from_db()
    before = _rows()
    future = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    response = patch_json(
        partner.api,
        f"/api/v1/sections/{sec.pk}/",
        {"answers": {"conditions": "Asthma", "last_admission": future}},
        HTTP_IF_MATCH=_etag(sec),
    )
    body = assert_problem(response, 400)
    assert "cannot be in the future" in _fields(body)["last_admission"]
    meeting = post_json(
        partner.api,
        "/api/v1/meetings/",
        {
            "assessment": str(open_assessment.pk),
            "held_on": future,
            "place": "ward",
            "attendees": [
                {"role": "nurse", "name": "N"},
                {"role": "care_manager", "name": "C"},
                {"role": "physiotherapist", "name": "P"},
            ],
            "wishes": "Home",
            "from_impairment_or_illness": True,
            "outcomes_not_achieved": [],
            "significant_impact_on_wellbeing": False,
            "eligibility_confirmed": True,
        },
    )
    assert "cannot be in the future" in _fields(assert_problem(meeting, 400))["held_on"]
    assert _rows() == before


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"hours_per_week": "169"}, "services[0].hours_per_week", "0 to 168"),
        ({"cost_per_hour_pence": -5}, "services[0].cost_per_hour_pence", "0 or more"),
    ],
)
def test_hours_above_168_or_a_negative_cost_is_a_400(
    partner, signed_assessment, change, field, expected
):
    before = _rows()
    service = {
        "kind": "home_care",
        "funding": "social_care",
        "hours_per_week": "7",
        "cost_per_hour_pence": 2150,
        "start_date": "2026-12-07",
        **change,
    }
    response = post_json(
        partner.api,
        "/api/v1/care-plans/",
        {
            "assessment": str(signed_assessment.pk),
            "goals": "Breakfast",
            "review_on": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
            "services": [service],
        },
    )
    body = assert_problem(response, 400)
    assert expected in _fields(body)[field]
    assert _rows() == before


def test_a_section_edited_by_someone_not_assigned_is_a_403(partner, hospital, council, carol, nina):
    case_file = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    consent_to_assessments(case_file.person, holder=council, recipient=hospital, by=carol)
    theirs = contact_assessment(case_file, carol, council, sign_off=False)
    sec = _senses(theirs)
    before = _rows()
    response = patch_json(
        partner.api, f"/api/v1/sections/{sec.pk}/", {"answers": {}}, HTTP_IF_MATCH=_etag(sec)
    )
    assert "only its author" in assert_problem(response, 403)["detail"]
    assert _rows() == before


def test_a_sign_off_with_required_sections_unsigned_is_a_400(partner, hospital, svc):
    case_file = CaseFileFactory(agency=hospital, lead_worker=svc, person=PersonFactory())
    a = services.start_assessment(
        case_file=case_file, depth="contact", reason="R", episode="E", by=svc, agency=hospital
    )
    before = _rows()
    response = post_json(partner.api, f"/api/v1/assessments/{a.pk}/sign-off/", {})
    body = assert_problem(response, 400)
    assert "Clinical background" in json.dumps(body)
    assert _rows() == before


def test_an_edit_after_sign_off_is_a_409_pointing_to_addenda(partner, signed_assessment):
    sec = _senses(signed_assessment)
    before = _rows()
    response = patch_json(
        partner.api,
        f"/api/v1/sections/{sec.pk}/",
        {"answers": {"sight": "yes"}},
        HTTP_IF_MATCH=_etag(sec),
    )
    assert "addendum" in assert_problem(response, 409)["detail"]
    assert _rows() == before
    added = post_json(
        partner.api,
        "/api/v1/addenda/",
        {
            "assessment": str(signed_assessment.pk),
            "section": str(sec.pk),
            "reason": "Seen by the optician",
            "text": "Now wears glasses.",
        },
    )
    assert added.status_code == 201


def test_a_save_without_if_match_is_a_428(partner, open_assessment):
    sec = _senses(open_assessment)
    response = patch_json(partner.api, f"/api/v1/sections/{sec.pk}/", {"answers": {}})
    assert_problem(response, 428)


def test_a_stale_save_is_a_412_that_keeps_the_draft(partner, open_assessment):
    sec = _senses(open_assessment)
    stale = _etag(sec)
    first = patch_json(
        partner.api,
        f"/api/v1/sections/{sec.pk}/",
        {"answers": {"sight": "yes"}},
        HTTP_IF_MATCH=stale,
    )
    assert first.status_code == 200
    assert first["ETag"] == f'"{sec.pk}-v{sec.version + 1}"'
    second = patch_json(
        partner.api,
        f"/api/v1/sections/{sec.pk}/",
        {"answers": {"sight": "no", "hearing": "yes"}},
        HTTP_IF_MATCH=stale,
    )
    body = assert_problem(second, 412)
    kept = SectionConflict.objects.get(pk=second["X-Conflict-Id"])
    assert kept.answers == {"sight": "no", "hearing": "yes"}
    assert str(kept.pk) in body["detail"]
    sec.refresh_from_db()
    assert sec.answers == {"sight": "yes"}


def test_a_create_replayed_with_its_idempotency_key_creates_one_scale(partner, open_assessment):
    body = {
        "assessment": str(open_assessment.pk),
        "scale": "barthel",
        "items": BARTHEL,
        "assessed_on": "2026-11-30",
    }
    first = post_json(partner.api, "/api/v1/scales/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post_json(partner.api, "/api/v1/scales/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["total"] == 20
    assert ScaleResult.objects.filter(scale="barthel").count() == 1
