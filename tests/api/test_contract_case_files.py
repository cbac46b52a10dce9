"""Contract: /api/v1/case-files/ and its detail, as the OpenAPI document says."""

from __future__ import annotations

from caretrust.audit.models import Action
from caretrust.people.models import DataClass
from tests.api.conftest import assert_problem, audit_rows_for, consent
from tests.api.openapi import assert_conforms

LIST = "/api/v1/case-files/"
DETAIL = "/api/v1/case-files/{id}/"


def test_get_case_files_lists_own_and_shared_files(
    hospital_partner, hospital_file, council_file, council, carol, hospital
):
    consent(council_file.person, holder=council, recipient=hospital, by=carol)

    response = hospital_partner.api.get(LIST)

    body = assert_conforms(response, LIST, "get")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    by_id = {f["id"]: f for f in body["results"]}
    assert set(by_id) == {str(hospital_file.pk), str(council_file.pk)}
    assert by_id[str(hospital_file.pk)]["visible_data_classes"] == list(DataClass.values)
    assert by_id[str(council_file.pk)]["visible_data_classes"] == ["demographics"]
    assert by_id[str(council_file.pk)]["agency"] == "council"
    (event,) = audit_rows_for(response)
    assert event.action == Action.CASELOAD_LISTED
    assert set(event.detail["case_files"]) == set(by_id)


def test_get_case_file_reads_one_with_its_etag(hospital_partner, hospital_file):
    response = hospital_partner.api.get(DETAIL.format(id=hospital_file.pk))

    body = assert_conforms(response, DETAIL, "get")
    assert response.status_code == 200
    assert body["id"] == str(hospital_file.pk)
    assert body["person"] == str(hospital_file.person_id)
    assert body["agency"] == "hospital"
    assert body["closed_on"] is None
    assert response["ETag"] == f'"{hospital_file.pk}-v1"'
    (event,) = audit_rows_for(response)
    assert (event.action, event.person_id) == (Action.PERSON_VIEWED, hospital_file.person_id)


def test_get_case_file_of_another_agency_is_a_documented_404(hospital_partner, council_file):
    response = hospital_partner.api.get(DETAIL.format(id=council_file.pk))

    assert_conforms(response, DETAIL, "get")
    assert_problem(response, 404)
    (event,) = audit_rows_for(response)
    assert (event.action, event.detail["reason"]) == (Action.ACCESS_DENIED, "not_permitted")
