"""Contract: the token endpoint, the OpenAPI document and its docs page; and the checker the
contract tests rely on, which must refuse what the document does not allow."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.api.conftest import ALL_SCOPES, request_token
from tests.api.openapi import FORMATS, document, response_schema

PERSON_DETAIL = "/api/v1/persons/{id}/"


def test_post_token_issues_a_bearer_token(hospital_partner):
    response = request_token(hospital_partner.client_id, hospital_partner.client_secret)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 20
    assert body["expires_in"] == 3600
    assert sorted(body["scope"].split()) == sorted(ALL_SCOPES)
    assert response["X-Request-ID"]


def test_get_schema_serves_the_openapi_document(client, db):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "caretrust partner API"
    assert doc["components"]["securitySchemes"]["partnerOAuth"]["type"] == "oauth2"
    # The platform's own paths; the domain apps add theirs (tests/api/test_matrices.py holds
    # every documented operation to a permission matrix).
    assert set(doc["paths"]) >= {
        "/api/v1/persons/",
        "/api/v1/persons/{id}/",
        "/api/v1/persons/{id}/access-report/",
        "/api/v1/case-files/",
        "/api/v1/case-files/{id}/",
        "/api/v1/sharing-bases/",
        "/api/v1/sharing-bases/{id}/",
        "/api/v1/sharing-bases/{id}/withdraw/",
        # referrals/
        "/api/v1/referral-services/",
        "/api/v1/referral-services/{id}/",
        "/api/v1/referrals/",
        "/api/v1/referrals/{id}/",
        *(
            f"/api/v1/referrals/{{id}}/{step}/"
            for step in (
                "accept",
                "claim",
                "decline",
                "end-episode",
                "redirect",
                "release",
                "start-episode",
                "withdraw",
            )
        ),
        "/api/v1/hospital-stays/",
        "/api/v1/hospital-stays/{id}/",
        "/api/v1/hospital-stays/{id}/discharge/",
        "/api/v1/hospital-stays/{id}/ready-date/",
        # assessments/api.py
        "/api/v1/assessments/",
        "/api/v1/assessments/{id}/",
        "/api/v1/assessments/{id}/sign-off/",
        "/api/v1/assessments/{id}/adopt/",
        "/api/v1/sections/",
        "/api/v1/sections/{id}/",
        "/api/v1/sections/{id}/sign/",
        "/api/v1/sections/{id}/delegate/",
        "/api/v1/scales/",
        "/api/v1/scales/{id}/",
        "/api/v1/meetings/",
        "/api/v1/meetings/{id}/",
        "/api/v1/care-plans/",
        "/api/v1/care-plans/{id}/",
        "/api/v1/care-plans/{id}/authorise/",
        "/api/v1/care-plans/{id}/end/",
        "/api/v1/addenda/",
        "/api/v1/addenda/{id}/",
        "/api/v1/webhook-subscriptions/",
        "/api/v1/webhook-subscriptions/{id}/",
        "/api/v1/webhook-subscriptions/{id}/rotate-secret/",
        "/api/v1/webhook-deliveries/",
        "/api/v1/webhook-deliveries/{id}/",
        "/api/v1/webhook-deliveries/{id}/attempts/",
        "/api/v1/webhook-deliveries/{id}/resend/",
    }


def test_get_schema_as_yaml_by_default(client, db):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"openapi: 3." in response.content


def test_get_docs_serves_swagger_ui_for_the_schema(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema/" in response.content


def test_errors_are_documented_as_problem_json(db):
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


PERSON = {
    "id": "3f1c1d2e-8a4b-4c51-9a55-0f7f1b2f5e10",
    "nhs_number": "9434765919",
    "given_name": "Margaret",
    "family_name": "Holroyd",
    "date_of_birth": "1938-04-12",
    "address_line_1": "14 Mill Lane",
    "address_line_2": "",
    "town": "Calderbridge",
    "postcode": "HX1 2AB",
    "gp_practice": None,
    "version": 1,
    "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z",
}


@pytest.mark.parametrize(
    "change",
    [
        {"unexpected": "field"},
        {"version": "1"},
        {"id": "not-a-uuid"},
        {"date_of_birth": "12/04/1938"},
        {"created_at": "yesterday"},
        {"given_name": None},
    ],
    ids=["unknown-field", "wrong-type", "bad-uuid", "bad-date", "bad-datetime", "null"],
)
def test_the_checker_refuses_what_the_document_does_not_allow(db, change):
    schema = response_schema(PERSON_DETAIL, "get", 200, "application/json")
    jsonschema.validate(PERSON, schema, format_checker=FORMATS)

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**PERSON, **change}, schema, format_checker=FORMATS)


def test_the_checker_requires_every_required_field(db):
    schema = response_schema(PERSON_DETAIL, "get", 200, "application/json")
    without_id = {k: v for k, v in PERSON.items() if k != "id"}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(without_id, schema, format_checker=FORMATS)
