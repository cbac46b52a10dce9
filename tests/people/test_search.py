"""Finding a person: by NHS number, or by family name and date of birth, among the people the
active agency may see; every search is audited."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import Person
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory


def _search(client, **params):
    return client.get(reverse("person_search"), params)


def _renamed(person):
    """Give a person a name no page could contain by chance."""
    Person.objects.filter(pk=person.pk).update(given_name="Zebedee", family_name="Quarrington")
    person.refresh_from_db()
    return person


def test_a_person_is_found_by_nhs_number_typed_with_spaces(carol_client, council_file):
    person = council_file.person
    response = _search(carol_client, nhs_number=person.nhs_number_display)

    page = response.content.decode()
    assert response.status_code == 200
    assert "1 person found" in page
    assert escape(person.full_name) in page
    assert reverse("person_detail", args=[person.pk]) in page


def test_a_person_is_found_by_family_name_in_any_case_and_date_of_birth(carol_client, council_file):
    person = council_file.person
    response = _search(
        carol_client,
        family_name=person.family_name.upper(),
        date_of_birth=person.date_of_birth.isoformat(),
    )

    assert response.status_code == 200
    assert reverse("person_detail", args=[person.pk]) in response.content.decode()


def test_a_given_name_narrows_a_name_search(carol_client, council, carol):
    dob = dt.date(1931, 5, 6)
    edna = CaseFileFactory(
        agency=council,
        lead_worker=carol,
        person=PersonFactory(given_name="Edna", family_name="Ackroyd", date_of_birth=dob),
    ).person
    ernest = CaseFileFactory(
        agency=council,
        lead_worker=carol,
        person=PersonFactory(given_name="Ernest", family_name="Ackroyd", date_of_birth=dob),
    ).person

    page = _search(
        carol_client, family_name="ackroyd", given_name="ed", date_of_birth=dob.isoformat()
    ).content.decode()

    assert reverse("person_detail", args=[edna.pk]) in page
    assert reverse("person_detail", args=[ernest.pk]) not in page


def test_a_person_only_the_hospital_has_a_file_on_is_not_found_by_nhs_number(
    carol_client, hospital_file
):
    person = _renamed(hospital_file.person)
    response = _search(carol_client, nhs_number=person.nhs_number)

    page = response.content.decode()
    assert response.status_code == 200
    assert "0 people found" in page
    assert str(person.pk) not in page
    assert "Quarrington" not in page


def test_a_person_only_the_hospital_has_a_file_on_is_not_found_by_name_and_date_of_birth(
    carol_client, hospital_file
):
    person = _renamed(hospital_file.person)
    response = _search(
        carol_client,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth.isoformat(),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "0 people found" in page
    assert str(person.pk) not in page
    assert "Zebedee" not in page


def test_the_hospital_itself_finds_its_person(hospital_file, nina):
    response = _search(signed_in(nina), nhs_number=hospital_file.person.nhs_number)
    assert reverse("person_detail", args=[hospital_file.person.pk]) in response.content.decode()


def test_a_family_name_without_a_date_of_birth_is_refused(carol_client, council_file):
    response = _search(carol_client, family_name=council_file.person.family_name)

    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter an NHS number, or a family name and a date of birth" in page
    assert reverse("person_detail", args=[council_file.person.pk]) not in page
    assert not AuditEvent.objects.filter(action=Action.PERSON_SEARCHED).exists()


def test_a_bad_nhs_number_is_refused_with_the_reason(carol_client, council_file):
    response = _search(carol_client, nhs_number="943 476 5918")

    assert response.status_code == 400
    assert "its check digit is wrong" in response.content.decode()
    assert not AuditEvent.objects.filter(action=Action.PERSON_SEARCHED).exists()


def test_the_empty_search_page_answers_200_without_searching(carol_client):
    response = carol_client.get(reverse("person_search"))
    assert response.status_code == 200
    assert "people found" not in response.content.decode()
    assert not AuditEvent.objects.filter(action=Action.PERSON_SEARCHED).exists()


def test_a_search_is_audited_with_the_query_and_the_people_returned(
    carol_client, carol, council, council_file
):
    person = council_file.person
    _search(carol_client, nhs_number=person.nhs_number_display)

    event = AuditEvent.objects.get(action=Action.PERSON_SEARCHED)
    assert event.actor_id == carol.pk
    assert event.agency_id == council.pk
    assert event.detail["query"] == {"nhs_number": person.nhs_number}
    assert event.detail["persons"] == [str(person.pk)]


def test_a_search_finding_nobody_is_audited_too(carol_client, hospital_file):
    _search(carol_client, nhs_number=hospital_file.person.nhs_number)

    event = AuditEvent.objects.get(action=Action.PERSON_SEARCHED)
    assert event.detail["query"] == {"nhs_number": hospital_file.person.nhs_number}
    assert event.detail["persons"] == []


def test_an_outsider_finds_nobody(oscar_client, council_file):
    response = _search(oscar_client, nhs_number=council_file.person.nhs_number)
    assert response.status_code == 200
    assert str(council_file.person.pk) not in response.content.decode()


def _people_named(family_name, dob, count, council, carol):
    for _ in range(count):
        CaseFileFactory(
            agency=council,
            lead_worker=carol,
            person=PersonFactory(family_name=family_name, date_of_birth=dob),
        )


def test_a_results_page_takes_the_same_number_of_queries_for_3_or_20_people(
    carol_client, council, carol
):
    dob = dt.date(1940, 2, 29)
    _people_named("Sutcliffe", dob, 3, council, carol)
    _people_named("Holroyd", dob, 20, council, carol)
    carol_client.get(reverse("caseload"))  # settle the session's active agency first

    counts = {}
    for family_name, expected in [("Sutcliffe", 3), ("Holroyd", 20)]:
        with CaptureQueriesContext(connection) as queries:
            response = _search(carol_client, family_name=family_name, date_of_birth="1940-02-29")
        assert response.status_code == 200
        assert response.content.decode().count('class="nhsuk-table__row"') == expected
        counts[expected] = len(queries)

    assert counts[20] == counts[3]
