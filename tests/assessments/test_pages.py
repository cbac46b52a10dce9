"""The assessment pages in the browser (Django's test client): the lead starts, delegates
and signs off; an author autosaves with htmx; a stale save shows both versions; bad input is
a form error and changes no row; the invisible answers 404 and the unassigned 403."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from assessments import services
from assessments.models import Assessment, SectionConflict
from tests.assessments.conftest import (
    ANSWERS,
    complete,
    consent_to_assessments,
    section,
)
from tests.conftest import signed_in

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def nina_client(nina):
    return signed_in(nina)


def _post_section(client, sec, answers, version, narrative="", **headers):
    return client.post(
        reverse("section_edit", args=[sec.pk]),
        {**answers, "narrative": narrative, "version": version},
        **headers,
    )


def test_the_lead_starts_an_assessment_from_the_persons_record(nina_client, hospital_file):
    url = reverse("assessment_start", args=[hospital_file.person.pk])
    assert nina_client.get(url).status_code == 200
    response = nina_client.post(
        url, {"depth": "comprehensive", "reason": "After a fall", "episode": "Ward 7"}
    )
    assessment = Assessment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("assessment_detail", args=[assessment.pk])
    page = nina_client.get(response["Location"]).content.decode()
    assert "The person&#x27;s own perspective" in page
    assert "Calderbridge single assessment v1" in page


def test_a_start_without_a_reason_is_a_form_error_and_creates_nothing(nina_client, hospital_file):
    response = nina_client.post(
        reverse("assessment_start", args=[hospital_file.person.pk]),
        {"depth": "deep", "reason": "", "episode": "Ward 7"},
    )
    assert response.status_code == 400
    assert "nhsuk-error-summary" in response.content.decode()
    assert not Assessment.objects.exists()


def test_an_htmx_autosave_saves_without_a_page_and_returns_the_next_version(
    nina_client, assessment
):
    sec = section(assessment, "perspective")
    response = _post_section(nina_client, sec, ANSWERS["perspective"], 1, "Notes", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # a fragment, not a page
    assert "version 2" in body and 'value="2" id="id_version" hx-swap-oob="true"' in body
    sec.refresh_from_db()
    assert sec.answers == ANSWERS["perspective"] and sec.version == 2


def test_a_stale_autosave_keeps_the_draft_and_sends_the_browser_to_both_versions(
    nina_client, assessment
):
    sec = section(assessment, "perspective")
    _post_section(nina_client, sec, {"main_concern": "Home by Friday"}, 1, **HTMX)
    response = _post_section(
        nina_client, sec, {"main_concern": "A flat near my son"}, 1, "second window", **HTMX
    )
    conflict = SectionConflict.objects.get()
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("section_conflict", args=[conflict.pk])

    page = nina_client.get(response["HX-Redirect"])
    html = page.content.decode()
    assert page.status_code == 409
    assert "A flat near my son" in html and "Home by Friday" in html
    sec.refresh_from_db()
    assert sec.answers == {"main_concern": "Home by Friday"}


def test_a_bad_answer_is_a_form_error_and_changes_no_row(nina_client, assessment):
    sec = section(assessment, "perspective")
    response = _post_section(nina_client, sec, {"wants_to_stay_home": "perhaps"}, 1)
    assert response.status_code == 400
    assert "choose one of yes, no" in response.content.decode()
    response = _post_section(nina_client, sec, {"main_concern": "x" * 2001}, 1, **HTMX)
    assert "2,000 characters" in response.content.decode()
    sec.refresh_from_db()
    assert (sec.version, sec.answers) == (1, {})


def test_a_section_someone_else_is_assigned_is_refused_with_403(
    assessment, hospital, council, nina, carol, nina_client
):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    sec = services.delegate_section(
        section=section(assessment, "relationships"),
        author=carol,
        author_agency=council,
        by=nina,
        agency=hospital,
    )
    response = _post_section(nina_client, sec, ANSWERS["relationships"], sec.version)
    assert response.status_code == 403
    assert section(assessment, "relationships").version == sec.version


def test_the_lead_delegates_from_the_page_and_the_author_then_edits(
    assessment, hospital, council, nina, carol, nina_client, carol_client
):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    sec = section(assessment, "relationships")
    response = nina_client.post(
        reverse("assessment_delegate", args=[assessment.pk]),
        {"section": sec.pk, "author": "carol", "author_agency": "council"},
    )
    assert response.status_code == 302
    assert carol_client.get(reverse("section_edit", args=[sec.pk])).status_code == 200
    saved = _post_section(carol_client, sec, ANSWERS["relationships"], 2, "Lives alone", **HTMX)
    assert "version 3" in saved.content.decode()


def test_delegating_to_an_agency_without_consent_shows_why(
    assessment, nina_client, outsider_agency, oscar
):
    response = nina_client.post(
        reverse("assessment_delegate", args=[assessment.pk]),
        {
            "section": section(assessment, "safety").pk,
            "author": "oscar",
            "author_agency": "westvale",
        },
    )
    assert response.status_code == 400
    assert "consent" in response.content.decode()


def test_withdrawn_consent_answers_the_authors_next_request_with_404(
    assessment, hospital, council, nina, carol, carol_client
):
    from caretrust.sharing import services as sharing

    basis = consent_to_assessments(
        assessment.case_file.person, holder=hospital, recipient=council, by=nina
    )
    sec = services.delegate_section(
        section=section(assessment, "relationships"),
        author=carol,
        author_agency=council,
        by=nina,
        agency=hospital,
    )
    url = reverse("assessment_detail", args=[assessment.pk])
    assert carol_client.get(url).status_code == 200
    sharing.withdraw_basis(basis=basis, reason="Withdrawn", by=nina, acting_agency=hospital)
    assert carol_client.get(url).status_code == 404
    assert carol_client.get(reverse("section_edit", args=[sec.pk])).status_code == 404
    assert _post_section(carol_client, sec, {}, 2, **HTMX).status_code == 404


@pytest.mark.parametrize(
    "name", ["assessment_detail", "assessment_history", "assessment_meeting", "assessment_risk"]
)
def test_an_outsider_gets_404_alike_for_hidden_and_missing(assessment, oscar_client, name):
    hidden = oscar_client.get(reverse(name, args=[assessment.pk]))
    missing = oscar_client.get(reverse(name, args=[uuid.uuid4()]))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


def test_sign_off_with_unsigned_sections_shows_which(assessment, nina_client):
    response = nina_client.post(reverse("assessment_sign_off", args=[assessment.pk]))
    assert response.status_code == 400
    assert "Clinical background" in response.content.decode()


def test_an_edit_after_sign_off_is_refused_with_a_clear_message(
    assessment, hospital, nina, nina_client
):
    complete(assessment, nina, hospital)
    sec = section(assessment, "senses")
    response = _post_section(nina_client, sec, {"sight": "yes"}, sec.version)
    assert response.status_code == 400
    assert "Write an addendum" in response.content.decode()
    # An autosave from a window opened before the sign-off: the reason, for its status line.
    response = _post_section(nina_client, sec, {"sight": "yes"}, sec.version, **HTMX)
    assert response.status_code == 200  # htmx swaps it: "Not saved yet", and why
    body = response.content.decode()
    assert "Write an addendum" in body and "<html" not in body


def test_the_person_page_panel_shows_the_scale_trend_as_a_chart_and_a_table(
    assessment, hospital, nina, nina_client
):
    import datetime as dt

    best = dict.fromkeys(
        [
            "bowels",
            "bladder",
            "grooming",
            "toilet",
            "feeding",
            "transfer",
            "mobility",
            "dressing",
            "stairs",
            "bathing",
        ],
        1,
    )
    for day, total_extra in ((1, 0), (8, 1)):
        services.record_scale(
            assessment=assessment,
            scale="barthel",
            items={**best, "transfer": 1 + total_extra},
            assessed_on=dt.date(2026, 11, day),
            by=nina,
            agency=hospital,
        )
    html = nina_client.get(
        reverse("assessment_person_panel", args=[assessment.case_file.person.pk]), **HTMX
    ).content.decode()
    assert "<svg" in html and "<polyline" in html
    assert "1 Nov 2026" in html and "8 Nov 2026" in html
    assert ">10<" in html and ">11<" in html


def test_the_meeting_form_records_the_meeting_with_the_persons_wishes(assessment, nina_client):
    data = {
        "held_on": "2026-12-01",
        "place": "home",
        "nurse": "Nina",
        "care_manager": "Carol",
        "therapist": "Oscar",
        "therapist_role": "occupational_therapist",
        "person_present": "on",
        "wishes": "",
        "from_impairment_or_illness": "on",
        "outcomes_not_achieved": ["hygiene", "toilet"],
        "significant_impact_on_wellbeing": "on",
        "eligibility_confirmed": "on",
    }
    url = reverse("assessment_meeting", args=[assessment.pk])
    refused = nina_client.post(url, data)
    assert refused.status_code == 400
    assert "in their own words" in refused.content.decode()
    assert "are <strong>eligible</strong>" in refused.content.decode()
    done = nina_client.post(url, {**data, "wishes": "Stay at home with my dog."})
    assert done.status_code == 302
    page = nina_client.get(reverse("assessment_detail", args=[assessment.pk])).content.decode()
    assert "Stay at home with my dog." in page


def test_the_meeting_form_offers_by_name_only_carers_the_agency_may_see(
    assessment, hospital, council, carol, nina_client
):
    from caretrust.people.services import link_carer
    from tests.factories import CaseFileFactory, PersonFactory

    person = assessment.case_file.person
    seen = CaseFileFactory(
        agency=hospital, person=PersonFactory(given_name="Agatha", family_name="Sutcliffe")
    ).person
    unseen = CaseFileFactory(
        agency=council,
        lead_worker=carol,
        person=PersonFactory(given_name="Bartholomew", family_name="Ormerod"),
    ).person
    for carer in (seen, unseen):
        link_carer(person=person, carer=carer, relationship="son", hours_per_week=9, by=None)

    page = nina_client.get(reverse("assessment_meeting", args=[assessment.pk])).content.decode()

    assert "Agatha Sutcliffe (Son)" in page
    assert "Ormerod" not in page and "Bartholomew" not in page


def test_the_care_plan_form_refuses_168_plus_hours_on_the_field(
    assessment, hospital, nina, nina_client
):
    complete(assessment, nina, hospital)
    url = reverse("assessment_care_plan", args=[assessment.pk])
    data = {
        "goals": "Make my own breakfast",
        "review_on": "2027-02-01",
        "service-0-kind": "home_care",
        "service-0-funding": "social_care",
        "service-0-hours_per_week": "169",
        "service-0-cost_per_hour_pence": "2150",
        "service-0-start_date": "2027-01-04",
    }
    refused = nina_client.post(url, data)
    assert refused.status_code == 400
    assert "0 to 168" in refused.content.decode()
    done = nina_client.post(url, {**data, "service-0-hours_per_week": "10"})
    assert done.status_code == 302
    plan_page = nina_client.get(done["Location"]).content.decode()
    assert "£215.00" in plan_page


@pytest.mark.parametrize("version", [None, "", "two", "²", "9" * 5000])
def test_a_save_without_a_readable_version_is_a_form_error_not_a_conflict(
    nina_client, assessment, version
):
    """Found by tests/test_browser_form_fuzz.py: the hidden version left out or tampered with
    was a 500 (the conflict it recorded broke a CHECK constraint). It is a message now, and
    nothing is written: neither the section nor a conflict."""
    sec = section(assessment, "perspective")
    data = {"main_concern": "Home by Friday", "narrative": ""}
    if version is not None:
        data["version"] = version
    response = nina_client.post(reverse("section_edit", args=[sec.pk]), data, **HTMX)
    assert response.status_code == 200
    assert "did not say which version" in response.content.decode()
    sec.refresh_from_db()
    assert (sec.version, sec.answers) == (1, {})
    assert not SectionConflict.objects.exists()


def test_a_nul_in_an_answer_is_refused_by_the_service_too(assessment, nina, hospital):
    """The browser's NUL rule (caretrust/ops/nul_guard.py) stops it before the view; the
    service refuses it as well, for the API's answers, which are JSON of any depth."""
    sec = section(assessment, "perspective")
    with pytest.raises(ValidationError) as caught:
        services.save_section(
            section_id=sec.pk,
            answers={"main_concern": "a\x00b"},
            narrative="",
            based_on_version=1,
            by=nina,
            agency=hospital,
        )
    assert "NUL" in caught.value.message_dict["main_concern"][0]
    with pytest.raises(ValidationError, match="NUL"):
        services.save_section(
            section_id=sec.pk,
            answers={},
            narrative="a\x00b",
            based_on_version=1,
            by=nina,
            agency=hospital,
        )
    sec.refresh_from_db()
    assert sec.version == 1
