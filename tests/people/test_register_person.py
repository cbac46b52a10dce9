"""Registering a person: the person, the registering agency's case file and the audit rows
are written together, or nothing is. An NHS number registered already (by anyone) takes that
person on instead, with an answer that does not tell the two apart."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, CaseNote, DataClass, Person
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


def _as_form(person: Person) -> dict[str, str]:
    """The registration form filled in with the person's own stored details."""
    return _form(
        nhs_number=person.nhs_number,
        given_name=person.given_name,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth.strftime("%d/%m/%Y"),
        address_line_1=person.address_line_1,
        address_line_2=person.address_line_2,
        town=person.town,
        postcode=person.postcode,
    )


def test_an_nhs_number_held_unshared_by_the_hospital_is_found_by_nobody_then_taken_on(
    carol_client, carol, council, hospital_file
):
    """issue 17, item 2: search says nothing, and registering takes the person on."""
    hidden = hospital_file.person
    search = carol_client.get(reverse("person_search"), {"nhs_number": hidden.nhs_number})
    assert "0 people found" in search.content.decode()
    people = Person.objects.count()

    response = carol_client.post(reverse("person_register"), _as_form(hidden))

    assert response.status_code == 302
    assert response.url == reverse("person_detail", args=[hidden.pk])
    assert Person.objects.count() == people
    own = CaseFile.objects.get(person=hidden, agency=council)
    assert own.lead_worker == carol
    assert own.is_open
    assert CaseFile.objects.get(pk=hospital_file.pk).agency_id == hospital_file.agency_id


def test_the_person_page_after_a_take_on_shows_only_the_councils_own_file(
    carol_client, hospital_file
):
    hidden = hospital_file.person
    secret = CaseNote.objects.create(
        case_file=hospital_file,
        data_class=DataClass.CLINICAL_NOTES,
        text="Seen in A&E after a fall at home.",
        author=hospital_file.lead_worker,
    )

    page = carol_client.post(reverse("person_register"), _as_form(hidden), follow=True)

    html = page.content.decode()
    assert page.status_code == 200
    assert escape(hidden.full_name) in html
    assert "Calderbridge Council Adult Social Care" in html
    assert escape(hospital_file.agency.name) not in html
    assert escape(secret.text) not in html
    assert str(hospital_file.pk) not in html


def _outcome(client, form):
    """What a registration shows the worker, with the person's own details blanked out: the
    status, where it leads, the page it lands on and the messages on it."""
    response = client.post(reverse("person_register"), form)
    person_id = response.url.rsplit("/", 2)[-2]
    landed = client.get(response.url)
    person = Person.objects.get(pk=person_id)
    html = landed.content.decode()
    for value in (
        person_id,
        escape(person.full_name),
        escape(person.given_name),
        escape(person.family_name),
        person.nhs_number_display,
        person.nhs_number,
        escape(person.address_line_1),
        escape(person.town),
        person.postcode,
        person.date_of_birth.strftime("%-d %B %Y"),
        f"{person.date_of_birth:%d %b %Y}",
    ):
        html = html.replace(value, "<person>")
    html = re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf-token>", html)
    html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", html)
    messages = [str(m) for m in landed.context["messages"]]
    return (
        response.status_code,
        response.url.replace(person_id, "<id>"),
        landed.status_code,
        messages,
        html,
    )


def test_taking_on_a_known_person_looks_exactly_like_a_new_registration(
    carol_client, hospital_file
):
    hidden = hospital_file.person
    new = _outcome(carol_client, _form())
    known = _outcome(carol_client, _as_form(hidden))

    assert known[:4] == new[:4]
    assert known[4] == new[4]
    assert "already registered" not in known[4]


def test_taking_on_is_audited_as_new_or_existing(carol_client, carol, council, hospital_file):
    hidden = hospital_file.person
    carol_client.post(reverse("person_register"), _form())
    carol_client.post(reverse("person_register"), _as_form(hidden))

    new = AuditEvent.objects.get(action=Action.PERSON_TAKEN_ON_NEW)
    existing = AuditEvent.objects.get(action=Action.PERSON_TAKEN_ON_EXISTING)
    assert new.person_id == Person.objects.get(nhs_number=NEW_NHS_NUMBER).pk
    assert existing.person_id == hidden.pk
    own = CaseFile.objects.get(person=hidden, agency=council)
    assert existing.detail == {
        "case_file": str(own.pk),
        "case_file_opened": "opened",
        "demographics_differ": [],
    }
    assert (existing.actor_id, existing.agency_id) == (carol.pk, council.pk)
    assert not AuditEvent.objects.filter(action=Action.PERSON_CREATED, person_id=hidden.pk).exists()
    assert AuditEvent.objects.filter(action=Action.CASEFILE_OPENED, object_id=str(own.pk)).exists()


def test_differing_details_are_noted_in_the_councils_file_not_written_over_the_record(
    carol_client, council, hospital_file
):
    hidden = hospital_file.person
    stored = {f: getattr(hidden, f) for f in ("given_name", "address_line_1", "postcode")}

    carol_client.post(
        reverse("person_register"),
        _as_form(hidden) | {"given_name": "Mavis", "address_line_1": "1 Other Street"},
    )

    hidden.refresh_from_db()
    assert {f: getattr(hidden, f) for f in stored} == stored
    note = CaseNote.objects.get(case_file__person=hidden, case_file__agency=council)
    assert note.data_class == DataClass.DEMOGRAPHICS
    assert "Reconcile with PDS" in note.text
    assert "Given name: Mavis" in note.text
    assert "Address line 1: 1 Other Street" in note.text
    assert stored["address_line_1"] not in note.text
    existing = AuditEvent.objects.get(action=Action.PERSON_TAKEN_ON_EXISTING)
    assert existing.detail["demographics_differ"] == ["given_name", "address_line_1"]


def test_a_person_already_on_the_councils_caseload_keeps_their_one_file(carol_client, council_file):
    person = council_file.person
    files = CaseFile.objects.count()

    response = carol_client.post(reverse("person_register"), _as_form(person))

    assert response.status_code == 302
    assert response.url == reverse("person_detail", args=[person.pk])
    assert CaseFile.objects.count() == files
    assert not CaseNote.objects.filter(case_file=council_file).exists()


def test_a_closed_council_file_is_reopened(carol_client, council_file):
    CaseFile.objects.filter(pk=council_file.pk).update(
        closed_on=today_in_london(), closure_reason="Moved away"
    )

    carol_client.post(reverse("person_register"), _as_form(council_file.person))

    council_file.refresh_from_db()
    assert council_file.is_open
    assert council_file.closure_reason == ""
    reopened = AuditEvent.objects.get(action=Action.CASEFILE_REOPENED)
    assert reopened.detail["closure_reason"] == "Moved away"


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
