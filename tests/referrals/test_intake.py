"""Referral intake: the person found or registered in the same step, routing, and the lawful
basis that sending to another agency needs (all or nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from caretrust.events.models import OutboxEvent
from caretrust.people.models import CaseFile, DataClass, Person
from caretrust.sharing.models import SharingBasis
from referrals import services
from referrals.models import Referral
from tests.factories import CaseFileFactory, share

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int, int, int]:
    return (
        Referral.objects.count(),
        CaseFile.objects.count(),
        SharingBasis.objects.count(),
        Person.objects.count(),
        OutboxEvent.objects.count(),
    )


def refer(nina: Any, hospital: Any, **kwargs: Any) -> Referral:
    defaults: dict[str, Any] = {
        "agency": hospital,
        "by": nina,
        "source": "ward",
        "reason": "Fell at home, ready to leave the ward",
        "urgency": "urgent",
        "needs": ["fall"],
        "setting": "hospital_ward",
    }
    return services.make_referral(**{**defaults, **kwargs})


def test_a_referral_with_consent_creates_the_referral_the_recipients_file_and_the_consent(
    nina: Any, hospital: Any, rapid: Any, rita: Any, ward_person: Any, community: Any
) -> None:
    CaseFileFactory(person=ward_person, agency=hospital, lead_worker=nina)
    referral = refer(
        nina, hospital, person=ward_person, service=rapid, consent=services.ConsentAtReferral()
    )
    assert referral.agency == community
    assert referral.case_file.agency == community
    assert referral.referrer_case_file.agency == hospital
    basis = SharingBasis.objects.get(person=ward_person)
    assert (basis.holding_agency, basis.recipient_agency) == (hospital, community)
    assert basis.data_classes == [DataClass.REFERRALS]
    event = OutboxEvent.objects.get(type="referral.received")
    assert event.aggregate_id == str(referral.pk)
    assert event.payload["service_id"] == str(rapid.pk)
    assert "reason" not in event.payload


def test_a_referral_to_another_agency_without_a_lawful_basis_is_refused_and_writes_nothing(
    nina: Any, hospital: Any, rapid: Any, rita: Any
) -> None:
    before = counts()
    new_person = {
        "nhs_number": "9990000026",
        "given_name": "Edna",
        "family_name": "Marsh",
        "date_of_birth": dt.date(1940, 3, 1),
        "address_line_1": "1 Mill Lane",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
    }
    with pytest.raises(ValidationError) as caught:
        refer(nina, hospital, new_person=new_person, service=rapid)
    assert "lawful basis" in str(caught.value)
    assert counts() == before


def test_an_existing_basis_for_referrals_is_enough_without_new_consent(
    nina: Any, hospital: Any, rapid: Any, rita: Any, ward_person: Any, community: Any
) -> None:
    CaseFileFactory(person=ward_person, agency=hospital, lead_worker=nina)
    share(ward_person, holder=hospital, recipient=community, by=nina, classes=[DataClass.REFERRALS])
    referral = refer(nina, hospital, person=ward_person, service=rapid)
    assert referral.case_file.agency == community
    assert SharingBasis.objects.count() == 1


def test_a_basis_for_another_data_class_is_not_a_basis_for_referrals(
    nina: Any, hospital: Any, rapid: Any, rita: Any, ward_person: Any, community: Any
) -> None:
    CaseFileFactory(person=ward_person, agency=hospital, lead_worker=nina)
    share(
        ward_person, holder=hospital, recipient=community, by=nina, classes=[DataClass.DEMOGRAPHICS]
    )
    before = counts()
    with pytest.raises(services.NoLawfulBasis):
        refer(nina, hospital, person=ward_person, service=rapid)
    assert counts() == before


def test_a_person_registered_in_the_same_step_gets_the_referrers_file_too(
    rita: Any, community: Any, rapid: Any
) -> None:
    referral = services.make_referral(
        agency=community,
        by=rita,
        source="district_nurse",
        reason="Struggling with stairs",
        urgency="routine",
        new_person={
            "nhs_number": "9990000034",
            "given_name": "Jim",
            "family_name": "Hale",
            "date_of_birth": dt.date(1950, 5, 5),
            "address_line_1": "2 Mill Lane",
            "town": "Calderbridge",
            "postcode": "HX1 2AB",
        },
        service=rapid,
    )
    assert referral.case_file == referral.referrer_case_file
    assert referral.case_file.person.nhs_number == "9990000034"


def test_route_for_me_uses_the_published_rules_and_stores_the_explanation(
    nina: Any, hospital: Any, rapid: Any, rita: Any, ruleset: Any, ward_person: Any
) -> None:
    ward_person.date_of_birth = dt.date(1940, 1, 1)
    ward_person.save()
    referral = refer(nina, hospital, person=ward_person, consent=services.ConsentAtReferral())
    assert referral.service == rapid
    assert referral.routing_explanation.startswith("rule 1 matched:")
    assert referral.routed_by_rule.position == 1


def test_bad_input_is_refused_with_what_is_expected(
    nina: Any, hospital: Any, rapid: Any, ward_person: Any
) -> None:
    with pytest.raises(ValidationError) as caught:
        refer(
            nina,
            hospital,
            person=ward_person,
            service=rapid,
            source="carrier-pigeon",
            urgency="soonish",
            needs=["telepathy"],
        )
    errors = caught.value.message_dict
    assert set(errors) >= {"source", "urgency", "needs"}
    assert "emergency" in errors["urgency"][0]


def test_someone_with_no_referring_role_may_not_refer(
    hospital: Any, rapid: Any, ward_person: Any
) -> None:
    from tests.referrals.conftest import staff

    clerk = staff("clerk", hospital, "finance_officer")
    with pytest.raises(PermissionDenied):
        refer(clerk, hospital, by=clerk, person=ward_person, service=rapid)


def test_a_referral_event_reaches_the_partner_systems_of_both_agencies_concerned(
    nina: Any,
    hospital: Any,
    rapid: Any,
    rita: Any,
    ward_person: Any,
    community: Any,
    outsider_agency: Any,
) -> None:
    from caretrust.events import services as events
    from caretrust.events import webhooks
    from caretrust.events.models import WebhookDelivery
    from tests.events.conftest import partner_of, subscribe

    subscriptions = {
        agency.slug: subscribe(partner_of(agency), "https://partner.example/hook", ("referral.*",))
        for agency in (hospital, community, outsider_agency)
    }
    CaseFileFactory(person=ward_person, agency=hospital, lead_worker=nina)

    refer(nina, hospital, person=ward_person, service=rapid, consent=services.ConsentAtReferral())
    events.dispatch_pending()

    event = OutboxEvent.objects.get(type="referral.received")
    assert sorted(event.agencies) == sorted([hospital.pk, community.pk])
    sent_to = set(
        WebhookDelivery.objects.filter(event=event).values_list("subscription_id", flat=True)
    )
    assert sent_to == {subscriptions[hospital.slug].pk, subscriptions[community.slug].pk}
    assert webhooks.person_visible(hospital.pk, event.payload)


def test_registering_in_the_referral_someone_another_agency_holds_is_no_oracle(
    rita: Any, community: Any, rapid: Any, council: Any, carol: Any
) -> None:
    """The referral form's "register them in the same step" used to answer "This NHS number
    is already registered" when only another agency (here the council) held the number: an
    existence oracle. It now takes the person on, as a new registration does, and the
    referrer's own file is opened on the one record. Which it was is in the audit trail only."""
    known = CaseFileFactory(agency=council, lead_worker=carol).person
    details = {
        "given_name": "Someone",
        "family_name": "Else",
        "date_of_birth": dt.date(1950, 5, 5),
        "address_line_1": "2 Mill Lane",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
    }
    answers = [
        services.make_referral(
            agency=community,
            by=rita,
            source="district_nurse",
            reason="Struggling with stairs",
            urgency="routine",
            new_person={"nhs_number": number, **details},
            service=rapid,
        )
        for number in (known.nhs_number, "9990000034")
    ]
    taken_on, registered = answers
    assert taken_on.case_file.person == known  # one person, not a duplicate
    assert Person.objects.filter(nhs_number=known.nhs_number).count() == 1
    assert CaseFile.objects.filter(person=known, agency=community).exists()
    assert registered.case_file.person.nhs_number == "9990000034"
    # The stored record stands; what the referrer typed is a note in its own file to reconcile.
    known.refresh_from_db()
    assert known.family_name != "Else"
