"""Each author signs their section; the lead signs the whole only when every section the
depth requires is signed; after sign-off nothing is edited in place, not even by raw SQL:
changes are dated addenda with their author and reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from assessments import services
from assessments.models import Addendum, AnswerChange, Assessment, Section
from tests.assessments.conftest import complete, section, write, write_and_sign


def test_a_section_cannot_be_signed_with_required_answers_missing(assessment, hospital, nina):
    sec = section(assessment, "perspective")
    outcome = write(sec, nina, hospital, {"main_concern": "Home"})
    with pytest.raises(ValidationError, match="Does the person want to live at home"):
        services.sign_section(
            section_id=sec.pk, by=nina, agency=hospital, based_on_version=outcome.section.version
        )


def test_sign_off_with_required_sections_unsigned_is_refused_and_names_them(
    assessment, hospital, nina
):
    write_and_sign(section(assessment, "perspective"), nina, hospital)
    with pytest.raises(ValidationError) as error:
        services.sign_off_assessment(assessment=assessment, by=nina, agency=hospital)
    assert "Clinical background" in str(error.value)
    assert "The person's own perspective" not in str(error.value)
    assert Assessment.objects.get(pk=assessment.pk).status != "signed_off"


def test_a_contact_assessment_needs_only_the_sections_its_depth_requires(
    hospital_file, hospital, nina
):
    contact = services.start_assessment(
        case_file=hospital_file, depth="contact", reason="R", episode="E", by=nina, agency=hospital
    )
    write_and_sign(section(contact, "perspective"), nina, hospital)
    clinical = section(contact, "clinical_background")
    services.delegate_section(
        section=clinical, author=nina, author_agency=hospital, by=nina, agency=hospital
    )
    write(clinical, nina, hospital, {"conditions": "Asthma"})
    clinical.refresh_from_db()
    services.sign_section(
        section_id=clinical.pk, by=nina, agency=hospital, based_on_version=clinical.version
    )
    signed = services.sign_off_assessment(assessment=contact, by=nina, agency=hospital)
    assert signed.status == "signed_off"
    assert signed.signed_off_by == nina


def test_after_sign_off_the_service_refuses_an_edit(assessment, hospital, nina):
    complete(assessment, nina, hospital)
    sec = section(assessment, "senses")
    before = (sec.version, sec.answers)
    with pytest.raises(services.AssessmentSignedOff, match="Write an addendum"):
        write(sec, nina, hospital, {"sight": "yes"})
    sec.refresh_from_db()
    assert (sec.version, sec.answers) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE assessments_section SET answers = '{}' WHERE assessment_id = %s",
        "UPDATE assessments_section SET narrative = 'changed' WHERE assessment_id = %s",
        "DELETE FROM assessments_section WHERE assessment_id = %s",
        "UPDATE assessments_assessment SET reason = 'rewritten' WHERE id = %s",
        "UPDATE assessments_assessment SET status = 'in_progress' WHERE id = %s",
    ],
)
def test_after_sign_off_the_database_refuses_an_edit_in_place(
    assessment, hospital, nina, statement
):
    complete(assessment, nina, hospital)
    with (
        pytest.raises(IntegrityError, match=r"signed.off"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [assessment.pk])
    assert Assessment.objects.get(pk=assessment.pk).reason == assessment.reason


def test_the_answer_history_is_append_only_in_the_database(assessment, hospital, nina):
    write(section(assessment, "perspective"), nina, hospital)
    assert AnswerChange.objects.exists()
    for statement in (
        "UPDATE assessments_answerchange SET new = '\"forged\"'",
        "DELETE FROM assessments_answerchange",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)


def test_after_sign_off_a_change_is_an_addendum_with_author_reason_and_date(
    assessment, hospital, nina
):
    complete(assessment, nina, hospital)
    addendum = services.write_addendum(
        assessment=assessment,
        section=section(assessment, "safety"),
        reason="New information from the neighbour",
        text="A fall on the stairs was reported on Tuesday.",
        by=nina,
        agency=hospital,
    )
    assert addendum.author == nina and addendum.written_at is not None
    assert Addendum.objects.filter(assessment=assessment).count() == 1
    with pytest.raises(ValidationError, match="Say why"):
        services.write_addendum(
            assessment=assessment, reason=" ", text="x", by=nina, agency=hospital
        )


def test_an_addendum_before_sign_off_is_refused(assessment, hospital, nina):
    with pytest.raises(ValidationError, match="signed-off assessments"):
        services.write_addendum(
            assessment=assessment, reason="r", text="t", by=nina, agency=hospital
        )
    assert not Section.objects.filter(assessment=assessment, status="signed").exists()
