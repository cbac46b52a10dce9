"""Contract: /api/v1/persons/ and its detail and access report, as the OpenAPI document says.

Each test makes one call of one operation and checks status, content type and the body
against the document (tests/api/openapi.py), the headers the conventions promise (ETag on
reads and writes, Location on 201, X-Request-ID), and that the audit rows the call wrote
carry that request id.
"""

from __future__ import annotations

import pytest

from caretrust.audit.models import Action
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.people.models import Person
from tests.api.conftest import (
    PERSON_BODY,
    assert_problem,
    audit_rows_for,
    patch_json,
    post_json,
)
from tests.api.openapi import assert_conforms
from tests.conftest import signed_in
from tests.factories import UserFactory

LIST = "/api/v1/persons/"
DETAIL = "/api/v1/persons/{id}/"
REPORT = "/api/v1/persons/{id}/access-report/"


def _actions(response):
    return [e.action for e in audit_rows_for(response)]


def test_get_persons_lists_the_people_the_agency_may_see(hospital_partner, hospital_file):
    response = hospital_partner.api.get(LIST, {"family_name": hospital_file.person.family_name})

    body = assert_conforms(response, LIST, "get")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert [p["id"] for p in body["results"]] == [str(hospital_file.person.pk)]
    assert body["next"] is None and body["previous"] is None
    assert response["X-Request-ID"]
    (event,) = audit_rows_for(response)
    assert event.action == Action.PERSON_SEARCHED
    assert event.detail["persons"] == [str(hospital_file.person.pk)]


def test_post_persons_registers_a_person(hospital_partner):
    response = post_json(hospital_partner.api, LIST, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="reg-1")

    body = assert_conforms(response, LIST, "post")
    assert response.status_code == 201
    person = Person.objects.get()
    assert body["id"] == str(person.pk)
    assert body["nhs_number"] == "9990000018"
    assert body["postcode"] == "HX1 2AB"
    assert body["version"] == 1
    assert response["Location"] == f"/api/v1/persons/{person.pk}/"
    assert response["ETag"] == f'"{person.pk}-v1"'
    assert "Idempotent-Replayed" not in response
    assert _actions(response) == [
        Action.PERSON_CREATED,
        Action.CASEFILE_OPENED,
        Action.PERSON_TAKEN_ON_NEW,
    ]
    # The Location names a readable resource with the same representation.
    again = hospital_partner.api.get(response["Location"])
    assert again.status_code == 200 and again.json() == body


def test_get_person_reads_one_with_its_etag(hospital_partner, hospital_file):
    person = hospital_file.person
    response = hospital_partner.api.get(DETAIL.format(id=person.pk))

    body = assert_conforms(response, DETAIL, "get")
    assert response.status_code == 200
    assert body["id"] == str(person.pk)
    assert body["nhs_number"] == person.nhs_number
    assert response["ETag"] == f'"{person.pk}-v1"'
    (event,) = audit_rows_for(response)
    assert (event.action, event.person_id) == (Action.PERSON_VIEWED, person.pk)


def test_patch_person_changes_demographics(hospital_partner, hospital_file):
    person = hospital_file.person
    url = DETAIL.format(id=person.pk)
    etag = hospital_partner.api.get(url)["ETag"]

    response = patch_json(hospital_partner.api, url, {"town": "Halifax"}, HTTP_IF_MATCH=etag)

    body = assert_conforms(response, DETAIL, "patch")
    assert response.status_code == 200
    assert (body["town"], body["version"]) == ("Halifax", 2)
    assert response["ETag"] == f'"{person.pk}-v2"'
    assert _actions(response) == [Action.PERSON_VIEWED, Action.PERSON_UPDATED]


def test_get_access_report_for_a_caldicott_guardian_session(hospital, hospital_file):
    guardian = UserFactory(username="gina")
    directory.add_membership(user=guardian, agency=hospital, role=Role.CALDICOTT_GUARDIAN)
    url = REPORT.format(id=hospital_file.person.pk)

    response = signed_in(guardian).get(url)

    body = assert_conforms(response, REPORT, "get")
    assert response.status_code == 200
    assert body["page"] == 1
    assert body["count"] == len(body["results"]) >= 1
    assert _actions(response) == [Action.PERSON_VIEWED, Action.REPORT_VIEWED]


def test_get_access_report_refuses_a_partner_client(hospital_partner, hospital_file):
    response = hospital_partner.api.get(REPORT.format(id=hospital_file.person.pk))

    assert_conforms(response, REPORT, "get")
    body = assert_problem(response, 403)
    assert "partner systems" in body["detail"]


@pytest.mark.parametrize("page", ["0", "two", "-1"])
def test_get_access_report_refuses_a_page_that_is_not_a_number(hospital, hospital_file, page):
    guardian = UserFactory(username="gina")
    directory.add_membership(user=guardian, agency=hospital, role=Role.CALDICOTT_GUARDIAN)

    response = signed_in(guardian).get(REPORT.format(id=hospital_file.person.pk), {"page": page})

    body = assert_problem(response, 400)
    assert [e["field"] for e in body["errors"]] == ["page"]


def test_errors_are_problem_documents_as_documented(hospital_partner, council_file):
    response = hospital_partner.api.get(DETAIL.format(id=council_file.person.pk))

    body = assert_conforms(response, DETAIL, "get")
    assert_problem(response, 404)
    assert set(body) == {"type", "title", "status", "detail", "request_id"}
    (event,) = audit_rows_for(response)
    assert event.action == Action.ACCESS_DENIED
