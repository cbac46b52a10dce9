"""POST /api/v1/persons/ with an NHS number that is registered already takes that person on
(issue 16, item 3): 201, the same headers and body shape as a new registration, and nothing
about any other agency's file on them."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, CaseNote, Person
from tests.api.conftest import PERSON_BODY, post_json

PERSONS = "/api/v1/persons/"
# Headers whose values name the request or the record (or its length), not what kind of
# answer it was.
PER_RESPONSE = {"X-Request-ID", "ETag", "Location", "Content-Length"}


def _body_of(person: Person, **overrides: Any) -> dict[str, Any]:
    body = {
        "nhs_number": person.nhs_number,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth.isoformat(),
        "address_line_1": person.address_line_1,
        "address_line_2": person.address_line_2,
        "town": person.town,
        "postcode": person.postcode,
    }
    body.update(overrides)
    return body


def _shape(response: Any) -> tuple[int, dict[str, str], list[str], str]:
    """Status, the headers (values too, except those that name the request or the record),
    the body's keys and where Location points, with the id taken out."""
    body = json.loads(response.content)
    headers = {k: v for k, v in response.headers.items() if k not in PER_RESPONSE}
    return (
        response.status_code,
        headers,
        sorted(body),
        response["Location"].replace(body["id"], "<id>"),
    )


def test_a_number_held_unshared_by_another_agency_answers_as_a_new_registration(
    council_partner, hospital_file
):
    hidden = hospital_file.person

    new = post_json(council_partner.api, PERSONS, PERSON_BODY)
    known = post_json(council_partner.api, PERSONS, _body_of(hidden))

    assert new.status_code == 201
    assert _shape(known) == _shape(new)
    assert known.json()["id"] == str(hidden.pk)
    assert known["ETag"] == f'"{hidden.pk}-v{hidden.version}"'


def test_the_body_is_the_person_as_the_callers_new_file_shows_them(council_partner, hospital_file):
    hidden = hospital_file.person

    created = post_json(council_partner.api, PERSONS, _body_of(hidden, given_name="Mavis"))
    read = council_partner.api.get(f"{PERSONS}{hidden.pk}/")

    assert read.status_code == 200
    assert created.json() == read.json()
    assert created["ETag"] == read["ETag"]
    assert created.json()["given_name"] == hidden.given_name  # the record, not overwritten


def test_nothing_of_the_other_agencys_file_comes_with_it(council_partner, council, hospital_file):
    hidden = hospital_file.person
    post_json(council_partner.api, PERSONS, _body_of(hidden))

    files = council_partner.api.get("/api/v1/case-files/", {"person": str(hidden.pk)}).json()
    bases = council_partner.api.get("/api/v1/sharing-bases/", {"person": str(hidden.pk)}).json()

    assert [f["agency"] for f in files["results"]] == [council.slug]
    assert bases["results"] == []
    assert council_partner.api.get(f"/api/v1/case-files/{hospital_file.pk}/").status_code == 404


def test_differing_details_are_noted_for_reconciliation_not_stored(
    council_partner, council, hospital_file
):
    hidden = hospital_file.person
    before = Person.objects.filter(pk=hidden.pk).values().get()

    response = post_json(council_partner.api, PERSONS, _body_of(hidden, town="Halifax"))

    assert response.status_code == 201
    assert Person.objects.filter(pk=hidden.pk).values().get() == before
    note = CaseNote.objects.get(case_file__person=hidden, case_file__agency=council)
    assert "Town or city: Halifax" in note.text
    assert "Reconcile with PDS" in note.text


def test_one_person_two_files_and_the_take_on_audited_as_existing(
    council_partner, council, hospital, hospital_file
):
    hidden = hospital_file.person
    people = Person.objects.count()

    response = post_json(council_partner.api, PERSONS, _body_of(hidden))

    assert Person.objects.count() == people
    assert set(CaseFile.objects.filter(person=hidden).values_list("agency", flat=True)) == {
        council.pk,
        hospital.pk,
    }
    row = AuditEvent.objects.get(
        action=Action.PERSON_TAKEN_ON_EXISTING, request_id=response["X-Request-ID"]
    )
    assert row.person_id == hidden.pk
    assert row.agency_id == council.pk


def test_registering_the_callers_own_person_again_answers_201_with_the_one_file(
    hospital_partner,
):
    first = post_json(hospital_partner.api, PERSONS, PERSON_BODY)
    files = CaseFile.objects.count()

    again = post_json(hospital_partner.api, PERSONS, PERSON_BODY)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert CaseFile.objects.count() == files


def test_both_ways_make_about_the_same_queries(council_partner, hospital_file):
    """The two branches do the same work (an insert that may do nothing, a read back, a file
    opened, audit rows), so neither is told apart by how long it takes."""
    with CaptureQueriesContext(connection) as new:
        post_json(council_partner.api, PERSONS, PERSON_BODY)
    with CaptureQueriesContext(connection) as known:
        post_json(council_partner.api, PERSONS, _body_of(hospital_file.person))

    assert abs(len(new) - len(known)) <= 2, (len(new), len(known))
