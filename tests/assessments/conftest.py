"""The assessments cast: nina (nurse, hospital) leads an assessment in the hospital's file;
carol (care manager, council) and oscar (OT, outsider agency) write sections when the
person's consent lets their agency see the hospital's assessments."""

from __future__ import annotations

from typing import Any

import pytest

from assessments import services
from assessments.models import Assessment, Section
from caretrust.people.models import DataClass
from tests.factories import share

SHARED = (DataClass.DEMOGRAPHICS, DataClass.ASSESSMENTS, DataClass.CARE_PLANS)

# Complete answers for each domain of the v1 form at comprehensive depth.
ANSWERS: dict[str, dict[str, Any]] = {
    "perspective": {"main_concern": "I want to go home to my cat.", "wants_to_stay_home": "yes"},
    "clinical_background": {"conditions": "Heart failure", "medicines_count": 6},
    "disease_prevention": {"flu_vaccine": "yes"},
    "personal_care": {"washing": "some_help", "dressing": "some_help", "falls_last_year": 2},
    "senses": {"sight": "no", "hearing": "yes"},
    "mental_health": {"mood": "no"},
    "relationships": {"lives_with": "Alone", "carer_support": "yes"},
    "safety": {"feels_safe": "yes", "safeguarding_concern": "no"},
    "environment": {"housing": "house", "stairs_inside": "yes"},
}


def consent_to_assessments(person: Any, *, holder: Any, recipient: Any, by: Any) -> Any:
    return share(person, holder=holder, recipient=recipient, by=by, classes=SHARED)


@pytest.fixture
def assessment(hospital_file: Any, hospital: Any, nina: Any) -> Assessment:
    return services.start_assessment(
        case_file=hospital_file,
        depth="comprehensive",
        reason="Falls at home, admitted after a fall",
        episode="Discharge from ward 7",
        by=nina,
        agency=hospital,
    )


def section(assessment: Assessment, key: str) -> Section:
    return Section.objects.select_related("domain").get(assessment=assessment, domain__key=key)


def write(sec: Section, by: Any, agency: Any, answers: dict[str, Any] | None = None, **kw: Any):
    sec.refresh_from_db()
    return services.save_section(
        section_id=sec.pk,
        answers=ANSWERS[sec.domain.key] if answers is None else answers,
        narrative=kw.pop("narrative", f"Notes on {sec.domain.key}"),
        based_on_version=kw.pop("based_on_version", sec.version),
        by=by,
        agency=agency,
    )


def write_and_sign(sec: Section, by: Any, agency: Any) -> Section:
    outcome = write(sec, by, agency)
    assert outcome.saved
    return services.sign_section(
        section_id=sec.pk, by=by, agency=agency, based_on_version=outcome.section.version
    )


def complete(assessment: Assessment, by: Any, agency: Any) -> Assessment:
    """Every section assigned to ``by`` (the lead), written and signed, then signed off."""
    for sec in Section.objects.filter(assessment=assessment).select_related("domain"):
        if sec.author_id is None:
            services.delegate_section(
                section=sec, author=by, author_agency=agency, by=by, agency=agency
            )
        write_and_sign(sec, by, agency)
    return services.sign_off_assessment(assessment=assessment, by=by, agency=agency)
