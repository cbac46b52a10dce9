"""Registering a person: the person, the registering agency's case file and the audit rows
are written together, or nothing is."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import nth_test_nhs_number, today_in_london

NEW_NHS_NUMBER = nth_test_nhs_number(300_000)


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "nhs_number": f"{NEW_NHS_NUMBER[:3]} {NEW_NHS_NUMBER[3:6]} {NEW_NHS_NUMBER[6:]}",
        "given_name": "Mavis",
        "family_name": "Barraclough",
        "date_of_birth": "27/03/1938",
        "address_line_1": "12 Hebble View",
        "address_line_2": "",
        "town": "Calderbridge",
        "postcode": "hx1 2ab",
        "gp_practice": "",
    }
    data.update(overrides)
    return data


def test_registering_a_person_opens_a_case_file_led_by_the_worker(carol_client, carol, council):
    response = carol_client.post(reverse("person_register"), _form())

    person = Person.objects.get(nhs_number=NEW_NHS_NUMBER)
    assert response.status_code == 302
    assert response.url == reverse("person_detail", args=[person.pk])
    assert (person.given_name, person.family_name) == ("Mavis", "Barraclough")
    assert person.date_of_birth == dt.date(1938, 3, 27)
    assert person.postcode == "HX1 2AB"
    case_file = CaseFile.objects.get(person=person)
    assert case_file.agency == council
    assert case_file.lead_worker == carol
    assert case_file.opened_on == today_in_london()
    assert case_file.is_open


def test_registering_a_person_is_audited(carol_client, carol, council):
    carol_client.post(reverse("person_register"), _form())

    person = Person.objects.get(nhs_number=NEW_NHS_NUMBER)
    created = AuditEvent.objects.get(action=Action.PERSON_CREATED, person_id=person.pk)
    opened = AuditEvent.objects.get(action=Action.CASEFILE_OPENED, person_id=person.pk)
    for event in (created, opened):
        assert event.actor_id == carol.pk
        assert event.agency_id == council.pk
        assert event.request_id
    assert opened.object_id == str(CaseFile.objects.get(person=person).pk)


def test_the_registered_person_page_follows(carol_client):
    response = carol_client.post(reverse("person_register"), _form(), follow=True)
    assert response.status_code == 200
    assert "Mavis Barraclough" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nhs_number": "943 476 5918"}, "its check digit is wrong"),
        ({"nhs_number": "94347659"}, "An NHS number is 10 digits; this has 8."),
        ({"postcode": "LS1 4CP"}, "Enter a full UK postcode, like LS1 4AP or SW1A 2AA."),
        ({"date_of_birth": "future"}, "The date cannot be in the future."),
        ({"family_name": ""}, "This field is required."),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_written(
    carol_client, council_file, overrides, message
):
    if overrides.get("date_of_birth") == "future":
        overrides = {"date_of_birth": (today_in_london() + dt.timedelta(days=1)).isoformat()}
    people, files = Person.objects.count(), CaseFile.objects.count()

    response = carol_client.post(reverse("person_register"), _form(**overrides))

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "There is a problem" in response.content.decode()
    assert (Person.objects.count(), CaseFile.objects.count()) == (people, files)
    assert not AuditEvent.objects.filter(action=Action.PERSON_CREATED).exists()


def test_a_duplicate_nhs_number_the_agency_can_see_links_to_the_existing_person(
    carol_client, council_file
):
    existing = council_file.person
    people, files = Person.objects.count(), CaseFile.objects.count()

    response = carol_client.post(
        reverse("person_register"), _form(nhs_number=existing.nhs_number_display)
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "This NHS number is already registered." in page
    assert f'href="{reverse("person_detail", args=[existing.pk])}"' in page
    assert escape(existing.full_name) in page
    assert (Person.objects.count(), CaseFile.objects.count()) == (people, files)
    assert not AuditEvent.objects.filter(action=Action.PERSON_CREATED).exists()


def test_a_duplicate_nhs_number_of_someone_the_agency_cannot_see_reveals_nobody(
    carol_client, hospital_file
):
    hidden = hospital_file.person
    Person.objects.filter(pk=hidden.pk).update(given_name="Zebedee", family_name="Quarrington")
    people, files = Person.objects.count(), CaseFile.objects.count()

    response = carol_client.post(reverse("person_register"), _form(nhs_number=hidden.nhs_number))

    page = response.content.decode()
    assert response.status_code == 400
    assert "This NHS number is already registered." in page
    assert "Zebedee" not in page
    assert "Quarrington" not in page
    assert str(hidden.pk) not in page
    assert "belongs to" not in page
    assert (Person.objects.count(), CaseFile.objects.count()) == (people, files)
    assert not CaseFile.objects.filter(person=hidden).exclude(pk=hospital_file.pk).exists()


def test_the_registration_page_names_the_agency_that_will_hold_the_file(carol_client):
    response = carol_client.get(reverse("person_register"))
    assert response.status_code == 200
    assert "Calderbridge Council Adult Social Care will open a case file" in (
        response.content.decode()
    )


def test_registering_needs_a_signed_in_user(client, council):
    response = client.post(reverse("person_register"), _form())
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not Person.objects.filter(nhs_number=NEW_NHS_NUMBER).exists()
