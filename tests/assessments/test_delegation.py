"""The lead delegates sections to named professionals of other agencies, only where the
person's consent lets that agency see the holding agency's assessments; each author writes
only their own section."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from assessments import services
from tests.assessments.conftest import consent_to_assessments, section, write


def test_the_lead_delegates_a_section_to_a_professional_of_an_agency_with_consent(
    assessment, hospital, council, nina, carol
):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    sec = services.delegate_section(
        section=section(assessment, "relationships"),
        author=carol,
        author_agency=council,
        by=nina,
        agency=hospital,
    )
    assert (sec.author, sec.author_agency) == (carol, council)
    outcome = write(sec, carol, council)
    assert outcome.saved
    assert outcome.section.updated_by == carol


def test_delegation_to_an_agency_without_consent_is_refused(
    assessment, hospital, outsider_agency, nina, oscar
):
    with pytest.raises(ValidationError, match="Record the person's consent"):
        services.delegate_section(
            section=section(assessment, "safety"),
            author=oscar,
            author_agency=outsider_agency,
            by=nina,
            agency=hospital,
        )
    assert section(assessment, "safety").author is None


def test_only_the_lead_may_delegate(assessment, hospital, council, nina, carol, dual):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    with pytest.raises(PermissionDenied, match="lead professional"):
        services.delegate_section(
            section=section(assessment, "safety"),
            author=carol,
            author_agency=council,
            by=dual,
            agency=hospital,
        )


def test_an_author_cannot_write_someone_elses_section(
    assessment, hospital, council, nina, carol, dual
):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    services.delegate_section(
        section=section(assessment, "relationships"),
        author=carol,
        author_agency=council,
        by=nina,
        agency=hospital,
    )
    with pytest.raises(PermissionDenied):
        write(section(assessment, "relationships"), dual, council)


def test_an_agency_that_may_not_see_the_file_gets_404_not_403(assessment, outsider_agency, oscar):
    with pytest.raises(Http404):
        write(section(assessment, "perspective"), oscar, outsider_agency)
