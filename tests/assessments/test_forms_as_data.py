"""Assessment forms are versioned data: v2 is published without a migration and every
assessment keeps (and is validated against) the version it was started on."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from assessments import services
from assessments.formdata import CALDERBRIDGE_V1
from assessments.models import FormDefinition, FormQuestion, Section
from tests.assessments.conftest import section, write

NINE_DOMAINS = [
    "perspective",
    "clinical_background",
    "disease_prevention",
    "personal_care",
    "senses",
    "mental_health",
    "relationships",
    "safety",
    "environment",
]


def _v2() -> dict:
    definition = copy.deepcopy(CALDERBRIDGE_V1)
    definition["domains"][0]["questions"].append(
        {"key": "pets", "text": "Does the person have pets?", "kind": "text", "required_at": []}
    )
    definition["amts_cutoff"] = 7
    return definition


def test_the_first_version_lists_the_nine_sap_domains_with_typed_questions(db):
    form = services.current_form()
    assert form.version == 1
    assert list(form.domains.order_by("order").values_list("key", flat=True)) == NINE_DOMAINS
    kinds = set(FormQuestion.objects.filter(domain__form=form).values_list("kind", flat=True))
    assert kinds == {"choice", "number", "date", "text"}


def test_an_assessment_has_one_section_per_domain_of_its_form(assessment):
    keys = list(
        Section.objects.filter(assessment=assessment)
        .order_by("domain__order")
        .values_list("domain__key", flat=True)
    )
    assert keys == NINE_DOMAINS


def test_publishing_v2_needs_no_migration_and_new_assessments_take_it(
    assessment, hospital_file, hospital, nina
):
    v2 = services.publish_form(definition=_v2())
    assert (v2.version, v2.amts_cutoff) == (2, 7)
    assert FormDefinition.objects.filter(slug=v2.slug).count() == 2

    newer = services.start_assessment(
        case_file=hospital_file,
        depth="overview",
        reason="Review",
        episode="Community review",
        by=nina,
        agency=hospital,
    )
    assert newer.form == v2
    assessment.refresh_from_db()
    assert assessment.form.version == 1


def test_an_assessment_started_on_v1_refuses_a_question_only_v2_has(assessment, hospital, nina):
    services.publish_form(definition=_v2())
    perspective = section(assessment, "perspective")
    with pytest.raises(ValidationError) as error:
        write(perspective, nina, hospital, {"main_concern": "Home", "pets": "A cat"})
    assert "has no question 'pets'" in str(error.value)
    assert "Calderbridge single assessment v1" in str(error.value)


def test_v2_questions_are_answered_on_assessments_started_on_v2(hospital_file, hospital, nina):
    services.publish_form(definition=_v2())
    newer = services.start_assessment(
        case_file=hospital_file, depth="contact", reason="R", episode="E", by=nina, agency=hospital
    )
    outcome = write(section(newer, "perspective"), nina, hospital, {"pets": "A cat"})
    assert outcome.saved
    assert outcome.section.answers == {"pets": "A cat"}


def test_a_form_with_an_unknown_depth_is_refused_and_nothing_is_published(db):
    bad = _v2()
    bad["domains"][3]["required_at"] = ["deep"]
    services.current_form()
    with pytest.raises(ValidationError, match="unknown depth 'deep'"):
        services.publish_form(definition=bad)
    assert FormDefinition.objects.count() == 1
