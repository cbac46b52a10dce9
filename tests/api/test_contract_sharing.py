"""Contract: /api/v1/sharing-bases/, its detail and withdraw, as the OpenAPI document says."""

from __future__ import annotations

from caretrust.audit.models import Action
from caretrust.sharing.models import SharingBasis, Status
from tests.api.conftest import (
    assert_problem,
    audit_rows_for,
    consent,
    consent_body,
    post_json,
)
from tests.api.openapi import assert_conforms

LIST = "/api/v1/sharing-bases/"
DETAIL = "/api/v1/sharing-bases/{id}/"
WITHDRAW = "/api/v1/sharing-bases/{id}/withdraw/"


def test_get_sharing_bases_lists_given_and_received(
    hospital_partner, hospital_file, council_file, hospital, council, nina, carol
):
    given = consent(hospital_file.person, holder=hospital, recipient=council, by=nina)
    received = consent(council_file.person, holder=council, recipient=hospital, by=carol)

    response = hospital_partner.api.get(LIST)

    body = assert_conforms(response, LIST, "get")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert {b["id"] for b in body["results"]} == {str(given.pk), str(received.pk)}
    (event,) = audit_rows_for(response)
    assert event.action == Action.PERSON_SEARCHED
    assert set(event.detail["sharing_bases"]) == {str(given.pk), str(received.pk)}


def test_post_sharing_bases_records_consent(hospital_partner, hospital_file, council):
    body_in = consent_body(hospital_file.person.pk, "council")

    response = post_json(hospital_partner.api, LIST, body_in, HTTP_IDEMPOTENCY_KEY="c-1")

    body = assert_conforms(response, LIST, "post")
    assert response.status_code == 201
    basis = SharingBasis.objects.get()
    assert body["id"] == str(basis.pk)
    assert (body["holding_agency"], body["recipient_agency"]) == ("hospital", "council")
    assert (body["kind"], body["provision"], body["status"]) == ("consent", "permit", "active")
    assert response["Location"] == f"/api/v1/sharing-bases/{basis.pk}/"
    assert response["ETag"] == f'"{basis.pk}-v1"'
    actions = [e.action for e in audit_rows_for(response)]
    assert Action.BASIS_RECORDED in actions and Action.PERMISSIONS_CHANGED in actions
    again = hospital_partner.api.get(response["Location"])
    assert again.status_code == 200 and again.json() == body


def test_get_sharing_basis_reads_one_with_its_etag(
    hospital_partner, council_file, council, hospital, carol
):
    received = consent(council_file.person, holder=council, recipient=hospital, by=carol)

    response = hospital_partner.api.get(DETAIL.format(id=received.pk))

    body = assert_conforms(response, DETAIL, "get")
    assert response.status_code == 200
    assert body["id"] == str(received.pk)
    assert response["ETag"] == f'"{received.pk}-v1"'
    (event,) = audit_rows_for(response)
    assert (event.action, event.person_id) == (Action.PERSON_VIEWED, council_file.person_id)


def test_post_withdraw_ends_a_basis(hospital_partner, hospital_file, hospital, council, nina):
    given = consent(hospital_file.person, holder=hospital, recipient=council, by=nina)

    response = post_json(
        hospital_partner.api, WITHDRAW.format(id=given.pk), {"reason": "Consent withdrawn"}
    )

    body = assert_conforms(response, WITHDRAW, "post")
    assert response.status_code == 200
    assert (body["status"], body["version"]) == ("withdrawn", 2)
    assert response["ETag"] == f'"{given.pk}-v2"'
    given.refresh_from_db()
    assert given.status == Status.WITHDRAWN
    actions = [e.action for e in audit_rows_for(response)]
    assert actions[0] == Action.BASIS_STATUS_CHANGED
    assert Action.PERMISSIONS_CHANGED in actions


def test_withdraw_by_the_recipient_is_a_documented_403(
    hospital_partner, council_file, council, hospital, carol
):
    received = consent(council_file.person, holder=council, recipient=hospital, by=carol)

    response = post_json(
        hospital_partner.api, WITHDRAW.format(id=received.pk), {"reason": "Not ours to end"}
    )

    assert_conforms(response, WITHDRAW, "post")
    assert_problem(response, 403)
    received.refresh_from_db()
    assert received.status == Status.ACTIVE
