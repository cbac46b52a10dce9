"""A self or family referral from the public: routed, waiting unverified with no case file,
and verified by the receiving agency before anything is done."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, Person
from referrals import services
from referrals.models import Referral
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory

pytestmark = pytest.mark.django_db

PERSON = {
    "given_name": "Edna",
    "family_name": "Marsh",
    "date_of_birth": dt.date(1941, 2, 3),
    "address_line_1": "4 Mill Lane",
    "town": "Calderbridge",
    "postcode": "HX1 2AB",
}


def submit(**kwargs: Any) -> Referral:
    defaults: dict[str, Any] = {
        "source": "family_carer",
        "person": PERSON,
        "reason": "Mum has fallen twice this week",
        "needs": ["fall"],
        "urgency": "urgent",
        "referrer_name": "Sam Marsh",
        "referrer_phone": "07700 900123",
        "referrer_relationship": "Son",
    }
    return services.submit_public_referral(**{**defaults, **kwargs})


def test_it_lands_unverified_in_the_routed_queue_with_no_file_and_no_person(
    ruleset: Any, front_door: Any
) -> None:
    people_before, files_before = Person.objects.count(), CaseFile.objects.count()
    referral = submit()
    assert referral.unverified and referral.case_file is None
    assert referral.service == front_door  # family referrals are not A&E falls
    assert "no rule matched" in referral.routing_explanation
    assert (Person.objects.count(), CaseFile.objects.count()) == (people_before, files_before)


def test_a_referral_with_no_way_to_contact_the_referrer_is_refused(ruleset: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        submit(referrer_phone="", referrer_email="")
    assert "telephone number or an email" in str(caught.value)
    assert Referral.objects.count() == 0


def test_verifying_an_unknown_nhs_number_registers_the_person(
    ruleset: Any, council: Any, carol: Any
) -> None:
    referral = submit()
    verified = services.verify_referral(
        referral=referral, agency=council, by=carol, nhs_number="9990000026", new_person=PERSON
    )
    assert not verified.unverified
    assert verified.case_file.agency == council
    assert verified.case_file.person.family_name == "Marsh"


def test_verifying_a_known_nhs_number_opens_the_agencys_own_file_only_if_the_birth_date_matches(
    ruleset: Any, council: Any, carol: Any, hospital: Any, nina: Any
) -> None:
    known = PersonFactory(nhs_number="9990000034", date_of_birth=dt.date(1941, 2, 3))
    CaseFileFactory(person=known, agency=hospital, lead_worker=nina)
    referral = submit()
    with pytest.raises(ValidationError):
        services.verify_referral(
            referral=Referral.objects.get(
                pk=submit(person={**PERSON, "date_of_birth": dt.date(1950, 1, 1)}).pk
            ),
            agency=council,
            by=carol,
            nhs_number="9990000034",
        )
    verified = services.verify_referral(
        referral=referral, agency=council, by=carol, nhs_number="9990000034"
    )
    assert verified.case_file.person == known and verified.case_file.agency == council


def test_an_unverified_referral_cannot_be_accepted(ruleset: Any, council: Any, carol: Any) -> None:
    referral = submit()
    with pytest.raises(ValidationError):
        services.accept_referral(referral=referral, agency=council, by=carol)


def test_a_birth_date_that_does_not_match_is_refused_in_the_browser_and_audited_as_a_denial(
    ruleset: Any, council: Any, carol: Any, hospital: Any, nina: Any
) -> None:
    """The refusal tells a triage worker the number is registered, so the guardian sees it."""
    known = PersonFactory(nhs_number="9990000034", date_of_birth=dt.date(1941, 2, 3))
    CaseFileFactory(person=known, agency=hospital, lead_worker=nina)
    referral = submit(person={**PERSON, "date_of_birth": dt.date(1950, 1, 1)})
    response = signed_in(carol).post(
        reverse("referrals:action", args=[referral.pk, "verify"]),
        {"nhs_number": "999 000 0034"},
        follow=True,
    )
    assert response.status_code == 200
    assert "does not match this NHS number" in response.content.decode()
    referral.refresh_from_db()
    assert referral.unverified and referral.case_file is None
    assert not CaseFile.objects.filter(person=known, agency=council).exists()
    (denial,) = AuditEvent.objects.filter(action=Action.ACCESS_DENIED, actor_id=carol.pk)
    assert denial.person_id == known.pk
    assert denial.detail["reason"] == "birth_date_mismatch"
    assert denial.detail["referral"] == str(referral.pk)
