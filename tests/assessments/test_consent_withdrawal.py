"""Consent withdrawn mid-assessment: the delegated author's next request answers 404; what
they wrote stays, attributed to them."""

from __future__ import annotations

import pytest
from django.http import Http404

from assessments import selectors, services
from assessments.models import AnswerChange
from caretrust.sharing import services as sharing
from tests.assessments.conftest import consent_to_assessments, section, write


def test_withdrawal_removes_the_authors_access_and_keeps_what_they_wrote(
    assessment, hospital, council, nina, carol
):
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
    assert write(sec, carol, council).saved
    assert selectors.get_assessment(user=carol, agency=council, assessment_id=assessment.pk)

    sharing.withdraw_basis(
        basis=basis, reason="The person changed their mind", by=nina, acting_agency=hospital
    )

    with pytest.raises(Http404):
        selectors.get_assessment(user=carol, agency=council, assessment_id=assessment.pk)
    with pytest.raises(Http404):
        selectors.get_section(user=carol, agency=council, section_id=sec.pk)
    with pytest.raises(Http404):
        write(sec, carol, council, narrative="more")

    kept = section(assessment, "relationships")
    assert (kept.author, kept.author_agency, kept.updated_by) == (carol, council, carol)
    assert kept.answers["lives_with"] == "Alone"
    assert AnswerChange.objects.filter(section=kept, changed_by=carol).exists()
    # The lead still sees it, attributed.
    page = selectors.assessment_page(user=nina, agency=hospital, assessment_id=assessment.pk)
    assert carol in page.contributors
