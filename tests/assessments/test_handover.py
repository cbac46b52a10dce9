"""Handover without re-assessment: a receiving service of another agency, with the person's
consent, sees the signed assessment and adopts it; the adoption is recorded and counted as
one re-assessment avoided for that service. A referral.handed_over event offers it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from assessments import selectors, services
from assessments.models import Adoption, HandoverOffer
from caretrust.events import services as events
from caretrust.events.contracts import REFERRAL_HANDED_OVER
from tests.assessments.conftest import complete, consent_to_assessments
from tests.factories import TeamFactory


@pytest.fixture
def signed(assessment, hospital, nina):
    return complete(assessment, nina, hospital)


def test_a_receiving_service_with_consent_adopts_and_it_counts_as_avoided(
    signed, hospital, council, nina, carol
):
    consent_to_assessments(signed.case_file.person, holder=hospital, recipient=council, by=nina)
    team = TeamFactory(agency=council, name="Community care management")
    adoption = services.adopt_assessment(assessment=signed, by=carol, agency=council, team=team)
    assert (adoption.agency, adoption.team, adoption.adopted_by) == (council, team, carol)
    counts = selectors.reassessments_avoided(agency=council)
    assert [(c.agency, c.team, c.avoided) for c in counts] == [
        (council.name, "Community care management", 1)
    ]
    with pytest.raises(ValidationError, match="adopted this assessment already"):
        services.adopt_assessment(assessment=signed, by=carol, agency=council, team=team)


def test_without_consent_the_receiving_service_cannot_see_or_adopt(signed, council, carol):
    with pytest.raises(Http404):
        services.adopt_assessment(assessment=signed, by=carol, agency=council)
    assert not Adoption.objects.exists()


def test_an_unsigned_assessment_cannot_be_adopted(assessment, hospital, council, nina, carol):
    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    with pytest.raises(ValidationError, match="signed-off"):
        services.adopt_assessment(assessment=assessment, by=carol, agency=council)


def test_a_handed_over_referral_offers_the_assessment_once(
    signed, hospital, council, nina, carol, django_capture_on_commit_callbacks
):
    consent_to_assessments(signed.case_file.person, holder=hospital, recipient=council, by=nina)
    payload = {
        "referral_id": "r-1",
        "from_referral_id": "r-0",
        "assessment_id": str(signed.pk),
        "person_id": str(signed.case_file.person_id),
        "receiving_agency_id": council.pk,
        "receiving_service_id": "s-1",
    }
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit(
            REFERRAL_HANDED_OVER, aggregate_type="referral", aggregate_id="r-1", payload=payload
        )
    events.dispatch_pending()
    offer = HandoverOffer.objects.get()
    assert (offer.receiving_agency, offer.referral_id) == (council, "r-1")
    assert [o.assessment_id for o in selectors.handover_offers(user=carol, agency=council)] == [
        signed.pk
    ]
    services.adopt_assessment(assessment=signed, by=carol, agency=council)
    assert selectors.handover_offers(user=carol, agency=council) == []


def test_no_offer_is_made_to_an_agency_that_may_not_see_it(signed, council):
    assert services.offer_handover(assessment_id=signed.pk, receiving_agency_id=council.pk) is None
    assert not HandoverOffer.objects.exists()
