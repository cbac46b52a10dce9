"""A section's answers are checked against the form version; a rejected save changes no row;
every change of an answer is recorded: who, when, from what, to what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from assessments.models import AnswerChange, Assessment, Section, SectionConflict
from tests.assessments.conftest import section, write


def _rows() -> tuple:
    return (
        sorted(Section.objects.values_list("pk", "version", "answers", "narrative")),
        AnswerChange.objects.count(),
        SectionConflict.objects.count(),
    )


@pytest.mark.parametrize(
    ("key", "answers", "message"),
    [
        ("perspective", {"wants_to_stay_home": "maybe"}, "choose one of yes, no"),
        ("clinical_background", {"medicines_count": 51}, "from 0 to 50"),
        ("clinical_background", {"medicines_count": "six"}, "whole number"),
        ("clinical_background", {"medicines_count": "²"}, "whole number"),
        ("clinical_background", {"medicines_count": "9" * 5000}, "whole number"),
        ("clinical_background", {"last_admission": "12/03/2026"}, "YYYY-MM-DD"),
        ("personal_care", {"nonsense": "x"}, "has no question 'nonsense'"),
    ],
)
def test_an_invalid_answer_is_refused_and_changes_no_row(
    assessment, hospital, nina, key, answers, message
):
    sec = section(assessment, key)
    sec.author, sec.author_agency = nina, hospital
    sec.save()
    before = _rows()
    with pytest.raises(ValidationError) as error:
        write(sec, nina, hospital, answers)
    assert message in str(error.value)
    assert _rows() == before


def test_a_date_in_the_future_for_a_past_event_is_refused(assessment, hospital, nina):
    sec = section(assessment, "clinical_background")
    sec.author, sec.author_agency = nina, hospital
    sec.save()
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    with pytest.raises(ValidationError, match="cannot be in the future"):
        write(sec, nina, hospital, {"last_admission": tomorrow})


def test_someone_not_assigned_to_a_section_cannot_save_it(assessment, hospital, nina, dual):
    sec = section(assessment, "senses")  # not assigned to anyone yet
    before = _rows()
    with pytest.raises(PermissionDenied, match="assigned to someone else"):
        write(sec, nina, hospital)
    assert _rows() == before


def test_each_changed_answer_is_recorded_with_who_and_from_what_to_what(assessment, hospital, nina):
    sec = section(assessment, "perspective")  # the lead writes the person's perspective
    first = write(sec, nina, hospital, {"main_concern": "Going home"}, narrative="First")
    second = write(
        sec,
        nina,
        hospital,
        {"main_concern": "Home by Friday", "wants_to_stay_home": "yes"},
        narrative="First",
    )
    assert first.saved and second.saved
    assert second.section.version == 3
    history = list(
        AnswerChange.objects.filter(section=sec).values_list(
            "question", "old", "new", "section_version", "changed_by"
        )
    )
    assert history == [
        ("main_concern", None, "Going home", 2, nina.pk),
        ("narrative", "", "First", 2, nina.pk),
        ("main_concern", "Going home", "Home by Friday", 3, nina.pk),
        ("wants_to_stay_home", None, "yes", 3, nina.pk),
    ]


def test_the_first_save_moves_the_assessment_from_draft_to_in_progress(assessment, hospital, nina):
    assert assessment.status == "draft"
    write(section(assessment, "perspective"), nina, hospital)
    assert Assessment.objects.get(pk=assessment.pk).status == "in_progress"
