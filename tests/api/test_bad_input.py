"""Whatever a partner sends, the answer is a 4xx problem document that says what is wrong
(naming the field), never a 500, and nothing is half-written."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from caretrust.api.models import IdempotencyRecord
from caretrust.directory.models import AgencyKind
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import today_in_london
from caretrust.sharing.models import SharingBasis
from tests.api.conftest import (
    PERSON_BODY,
    assert_problem,
    consent,
    consent_body,
    patch_json,
    post_json,
)
from tests.factories import AgencyFactory

PERSONS = "/api/v1/persons/"
BASES = "/api/v1/sharing-bases/"
TOMORROW = (today_in_london() + dt.timedelta(days=1)).isoformat()


def _counts() -> tuple[int, ...]:
    return (
        Person.objects.count(),
        CaseFile.objects.count(),
        SharingBasis.objects.count(),
        IdempotencyRecord.objects.count(),
    )


@pytest.fixture
def unchanged(db: Any) -> Any:
    """Asserts, after the test, that no person, case file, basis or idempotency record was
    written."""
    before = _counts()
    yield
    assert _counts() == before, "a refused request wrote something"


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


def _person(**changes: Any) -> dict[str, Any]:
    body = {**PERSON_BODY, **changes}
    return {k: v for k, v in body.items() if v is not ...}


# --- Registering a person --------------------------------------------------------------------

PERSON_CASES = [
    # (id, body, the field the answer must name, words the message must contain)
    ("given-name-5000", _person(given_name="x" * 5000), "given_name", "no more than 100"),
    ("family-name-number", _person(family_name=["Holroyd"]), "family_name", "Give a string"),
    ("nhs-check-digit", _person(nhs_number="999 000 0019"), "nhs_number", "check digit"),
    ("nhs-letters", _person(nhs_number="999 000 001A"), "nhs_number", "only digits"),
    ("nhs-nine-digits", _person(nhs_number="999000001"), "nhs_number", "this has 9"),
    ("nhs-too-long", _person(nhs_number="9" * 30), "nhs_number", "no more than 20"),
    ("nhs-missing", _person(nhs_number=...), "nhs_number", "required"),
    ("dob-future", _person(date_of_birth=TOMORROW), "date_of_birth", "future"),
    ("dob-format", _person(date_of_birth="12/04/1938"), "date_of_birth", "wrong format"),
    ("dob-number", _person(date_of_birth=19380412), "date_of_birth", "Give a string"),
    ("dob-1850", _person(date_of_birth="1850-01-01"), "date_of_birth", "after 1890"),
    ("postcode", _person(postcode="XX1 ZZZ"), "postcode", "UK postcode"),
    ("gp-unknown", _person(gp_practice="no-such-practice"), "gp_practice", "no-such-practice"),
    ("gp-not-a-gp", _person(gp_practice="westvale"), "gp_practice", "westvale"),
    ("gp-blank", _person(gp_practice=""), "gp_practice", "slug"),
    ("gp-nul", _person(gp_practice="a\x00b"), "gp_practice", "slug"),
    ("name-nul", _person(given_name="Mar\x00garet"), "given_name", "Null characters"),
    ("unknown-field", _person(nickname="Peggy"), "nickname", "Unknown field"),
    ("given-name-number", _person(given_name=12345), "given_name", "Give a string"),
    ("nhs-json-number", _person(nhs_number=9990000018), "nhs_number", "Give a string"),
    ("address-number", _person(address_line_2=7), "address_line_2", "Give a string"),
    ("read-only-field", _person(version=7), "version", "Unknown field"),
]


@pytest.mark.parametrize(
    ("body", "field", "words"), [pytest.param(*c[1:], id=c[0]) for c in PERSON_CASES]
)
def test_registering_a_person_with_bad_data(
    hospital_partner, outsider_agency, unchanged, body, field, words
):
    response = post_json(hospital_partner.api, PERSONS, body)

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/validation")
    assert field in _fields(problem)
    message = next(e["message"] for e in problem["errors"] if e["field"] == field)
    assert words in message


def test_a_body_that_is_not_json(hospital_partner, unchanged):
    response = hospital_partner.api.post(
        PERSONS, '{"given_name": "Margaret",', content_type="application/json"
    )

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/malformed-request")
    assert "JSON parse error" in problem["detail"]


def test_a_body_that_is_a_list_not_an_object(hospital_partner, unchanged):
    problem = assert_problem(post_json(hospital_partner.api, PERSONS, [PERSON_BODY]), 400)

    assert "Expected a dictionary" in problem["errors"][0]["message"]


def test_a_body_that_is_not_json_at_all(hospital_partner, unchanged):
    response = hospital_partner.api.post(PERSONS, PERSON_BODY)  # form-encoded

    problem = assert_problem(response, 415)
    assert "multipart/form-data" in problem["detail"]


@pytest.mark.parametrize(
    ("key", "words"), [("k" * 201, "1 to 200"), ("   ", "1 to 200"), ("a\x00b", "printable")]
)
def test_a_bad_idempotency_key(hospital_partner, unchanged, key, words):
    response = post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY=key)

    problem = assert_problem(response, 400)
    assert "Idempotency-Key" in problem["detail"] and words in problem["detail"]


# --- Updating a person -----------------------------------------------------------------------


@pytest.fixture
def person_url(hospital_file) -> str:
    return f"/api/v1/persons/{hospital_file.person.pk}/"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"given_name": "y" * 5000}, "given_name"),
        ({"date_of_birth": TOMORROW}, "date_of_birth"),
        ({"date_of_birth": "1938-13-45"}, "date_of_birth"),
        ({"postcode": 12345}, "postcode"),
        ({"nhs_number": "9990000026"}, "nhs_number"),  # identifies the person: never changes
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
    ids=["too-long", "future-dob", "impossible-date", "postcode-number", "nhs", "unknown"],
)
def test_updating_a_person_with_bad_data(hospital_partner, hospital_file, person_url, body, field):
    etag = hospital_partner.api.get(person_url)["ETag"]

    response = patch_json(hospital_partner.api, person_url, body, HTTP_IF_MATCH=etag)

    problem = assert_problem(response, 400)
    assert field in _fields(problem)
    hospital_file.person.refresh_from_db()
    assert hospital_file.person.version == 1


@pytest.mark.parametrize(
    "if_match", ["1-v1", '"unterminated', 'W/"', '"a" "b"', "v1", ","], ids=repr
)
def test_a_malformed_if_match_is_a_bad_request_not_a_stale_one(
    hospital_partner, hospital_file, person_url, if_match
):
    response = patch_json(
        hospital_partner.api, person_url, {"town": "Leeds"}, HTTP_IF_MATCH=if_match
    )

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/bad-if-match")
    assert "If-Match" in problem["detail"]
    hospital_file.person.refresh_from_db()
    assert (hospital_file.person.town, hospital_file.person.version) == ("Calderbridge", 1)


# --- Recording and withdrawing consent -------------------------------------------------------


@pytest.fixture
def consent_for(hospital_file, council):
    def make(**changes: Any) -> dict[str, Any]:
        body = consent_body(hospital_file.person.pk, "council", **changes)
        return {k: v for k, v in body.items() if v is not ...}

    return make


CONSENT_CASES = [
    ("person-not-uuid", {"person": "not-a-uuid"}, "person", "valid UUID"),
    ("person-list", {"person": ["not", "a", "uuid"]}, "person", "Give a string"),
    ("recipient-unknown", {"recipient_agency": "nobody"}, "recipient_agency", "nobody"),
    ("recipient-self", {"recipient_agency": "hospital"}, "recipient_agency", "another agency"),
    ("recipient-null", {"recipient_agency": None}, "recipient_agency", "null"),
    ("classes-empty", {"data_classes": []}, "data_classes", "at least 1"),
    ("classes-unknown", {"data_classes": ["x"]}, "data_classes.0", "not a valid choice"),
    ("classes-string", {"data_classes": "demographics"}, "data_classes", "list"),
    ("purpose", {"purpose": "curiosity"}, "purpose", "not a valid choice"),
    ("grantor-missing", {"grantor": ...}, "grantor", "required"),
    ("grantor-name-long", {"grantor_name": "z" * 201}, "grantor_name", "no more than 200"),
    ("period-end-format", {"period_end": "next week"}, "period_end", "wrong format"),
    ("unknown-field", {"break_glass": True}, "break_glass", "Unknown field"),
]


@pytest.mark.parametrize(
    ("changes", "field", "words"), [pytest.param(*c[1:], id=c[0]) for c in CONSENT_CASES]
)
def test_recording_consent_with_bad_data(
    hospital_partner, consent_for, unchanged, changes, field, words
):
    response = post_json(hospital_partner.api, BASES, consent_for(**changes))

    problem = assert_problem(response, 400)
    assert field in _fields(problem), problem
    message = next(e["message"] for e in problem["errors"] if e["field"] == field)
    assert words in message


def test_consent_that_ends_before_it_starts(hospital_partner, consent_for, unchanged):
    response = post_json(
        hospital_partner.api, BASES, consent_for(period_end="2020-01-01T00:00:00Z")
    )

    problem = assert_problem(response, 400)
    assert problem["errors"], problem


def test_consent_for_a_person_the_client_may_not_see(
    hospital_partner, council_file, council, unchanged
):
    hidden = post_json(hospital_partner.api, BASES, consent_body(council_file.person.pk, "council"))
    missing = post_json(hospital_partner.api, BASES, consent_body(uuid.uuid4(), "council"))

    hidden_body, missing_body = assert_problem(hidden, 404), assert_problem(missing, 404)
    assert str(council_file.person.pk) not in hidden.content.decode()
    hidden_body.pop("request_id"), missing_body.pop("request_id")
    assert hidden_body == missing_body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "r" * 501}, "reason"),
        ({"reason": "ok", "also": 1}, "also"),
    ],
    ids=["missing", "empty", "blank", "too-long", "unknown"],
)
def test_withdrawing_with_bad_data(
    hospital_partner, hospital_file, hospital, council, nina, body, field
):
    basis = consent(hospital_file.person, holder=hospital, recipient=council, by=nina)

    response = post_json(hospital_partner.api, f"{BASES}{basis.pk}/withdraw/", body)

    problem = assert_problem(response, 400)
    assert field in _fields(problem)
    basis.refresh_from_db()
    assert (basis.status, basis.version) == ("active", 1)


def test_withdrawing_twice(hospital_partner, hospital_file, hospital, council, nina):
    basis = consent(hospital_file.person, holder=hospital, recipient=council, by=nina)
    url = f"{BASES}{basis.pk}/withdraw/"
    assert post_json(hospital_partner.api, url, {"reason": "Withdrawn"}).status_code == 200

    problem = assert_problem(post_json(hospital_partner.api, url, {"reason": "Again"}), 400)

    assert "already withdrawn" in problem["errors"][0]["message"]
    basis.refresh_from_db()
    assert basis.version == 2


# --- Ids and query strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/persons/not-a-uuid/",
        "/api/v1/persons/123/",
        "/api/v1/case-files/not-a-uuid/",
        "/api/v1/sharing-bases/not-a-uuid/",
        "/api/v1/persons/%00/",
        "/api/v1/case-files/%00/",
        "/api/v1/sharing-bases/%00/",
        "/api/v1/persons/%00/access-report/",
    ],
)
def test_an_id_that_is_not_a_uuid_is_simply_not_found(hospital_partner, url):
    problem = assert_problem(hospital_partner.api.get(url), 404)

    assert problem["detail"] == "Not found."


def test_withdrawing_a_basis_by_a_non_uuid_id(hospital_partner, unchanged):
    response = post_json(hospital_partner.api, f"{BASES}not-a-uuid/withdraw/", {"reason": "x"})

    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("nhs_number=123", "nhs_number"),
        ("nhs_number=999+000+0019", "nhs_number"),
        ("date_of_birth=12/04/1938", "date_of_birth"),
        ("family_name=", "family_name"),
        ("family_name=a%00b", "family_name"),
        ("page_size=lots", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
    ],
)
def test_a_bad_person_filter_names_the_parameter(hospital_partner, query, field):
    problem = assert_problem(hospital_partner.api.get(f"{PERSONS}?{query}"), 400)

    assert field in _fields(problem)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/case-files/?person=not-a-uuid", "person"),
        ("/api/v1/case-files/?person=", "person"),
        ("/api/v1/case-files/?open=maybe", "open"),
        ("/api/v1/case-files/?agency=", "agency"),
        ("/api/v1/sharing-bases/?person=42", "person"),
        ("/api/v1/sharing-bases/?status=", "status"),
    ],
)
def test_a_bad_list_filter_names_the_parameter(hospital_partner, url, field):
    problem = assert_problem(hospital_partner.api.get(url), 400)

    assert field in _fields(problem)


def test_a_nul_in_an_unknown_query_parameter_is_a_400_not_a_server_error(
    hospital_partner, hospital_file
):
    """An unknown parameter is refused before anything is read or audited; the refusal names
    it even with a U+0000 in it (PostgreSQL could not store it in an audit row)."""
    problem = assert_problem(hospital_partner.api.get(f"{PERSONS}?note%00=a%00b"), 400)

    assert "note\x00" in _fields(problem)


def test_a_nul_in_a_known_filter_is_no_server_error(hospital_partner, hospital_file):
    """Searches are audited with their query string; PostgreSQL cannot store U+0000 in the
    audit row's JSON, which used to make this a 500."""
    response = hospital_partner.api.get(f"{PERSONS}?family_name=a%00b")

    assert response.status_code < 500


def test_a_non_json_accept_header_still_gets_json_errors(hospital_partner, unchanged):
    response = hospital_partner.api.post(
        PERSONS, json.dumps({"x": 1}), content_type="application/json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 406
    assert response["Content-Type"] == "application/problem+json"


def test_a_real_gp_practice_is_accepted(hospital_partner):
    """Beside gp-not-a-gp above: the check refuses what is not a GP practice, nothing more."""
    AgencyFactory(name="Northgate Surgery", slug="northgate", kind=AgencyKind.GP_PRACTICE)

    response = post_json(hospital_partner.api, PERSONS, _person(gp_practice="northgate"))

    assert response.status_code == 201
    assert response.json()["gp_practice"] == "northgate"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000 + "]" * 50_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"given_name": 1e999999}',
        '{"given_name": NaN}',
        '{"given_name": -Infinity}',
    ],
    ids=["deep-array", "deep-object", "huge-float", "nan", "infinity"],
)
def test_json_a_strict_parser_refuses(hospital_partner, unchanged, text):
    response = hospital_partner.api.post(PERSONS, text, content_type="application/json")

    problem = assert_problem(response, 400)
    assert problem["type"].endswith("/malformed-request")


# --- Found by tests/api/test_write_fuzz.py ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/hospital-stays/", {"council": "a\x00b"}, "council"),
        ("/api/v1/referrals/", {"service": "a\x00b"}, "service"),
    ],
    ids=["agency-slug", "service-slug"],
)
def test_a_nul_in_a_reference_is_a_400_not_a_server_error(
    hospital_partner, hospital_file, unchanged, url, body, field
):
    """Any slug a body refers to (not only an agency's): PostgreSQL refuses to look up text
    with a U+0000, which was a 500; now a 400 naming the field."""
    response = post_json(
        hospital_partner.api, url, {"person": str(hospital_file.person.pk), **body}
    )

    problem = assert_problem(response, 400)
    assert "Null characters" in next(e["message"] for e in problem["errors"] if e["field"] == field)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/api/v1/webhook-subscriptions/",
            {"url": "https://a.example/", "event_types": ["*", 7]},
            "event_types.1",
        ),
        ("/api/v1/scales/", {"scale": "amts", "items": {"age": 1.5}}, "items.age"),
    ],
    ids=["list-item", "dict-value"],
)
def test_a_wrong_type_inside_a_list_or_dict_names_the_item(
    hospital_partner, unchanged, url, body, field
):
    """It used to name only the list (``event_types``), leaving the partner to guess which."""
    problem = assert_problem(post_json(hospital_partner.api, url, body), 400)

    assert _fields(problem) == [field]


def test_a_list_of_objects_given_a_number_names_the_field(hospital_partner, unchanged):
    """A many=True field's own error ("Expected a list of items") used to be reported with
    the field name "", as if it were about the whole body."""
    problem = assert_problem(
        post_json(hospital_partner.api, "/api/v1/meetings/", {"attendees": 7}), 400
    )

    message = next(e["message"] for e in problem["errors"] if e["field"] == "attendees")
    assert "list" in message
    assert "" not in _fields(problem)


def test_a_decimal_given_as_a_json_number_is_refused(hospital_partner, unchanged):
    """The document gives hours_per_week as a string ("7.5"); a JSON number used to be taken
    (and a float's binary fraction with it) while every other field refuses a wrong type."""
    body = {"services": [{"kind": "home_care", "funding": "social_care", "hours_per_week": 7}]}

    problem = assert_problem(post_json(hospital_partner.api, "/api/v1/care-plans/", body), 400)

    message = next(
        e["message"] for e in problem["errors"] if e["field"] == "services.0.hours_per_week"
    )
    assert "Give a string" in message


def test_an_item_of_a_list_of_objects_is_named_as_one_of_a_list_of_values(
    hospital_partner, unchanged
):
    """One spelling for a path into a list: a many=True serializer's item used to be named
    ``attendees[1].role`` while a ListField's was ``event_types.1``."""
    body = {"attendees": [{"role": "person"}, {"role": "nobody"}]}

    problem = assert_problem(post_json(hospital_partner.api, "/api/v1/meetings/", body), 400)

    assert "attendees.1.role" in _fields(problem)
    assert not [f for f in _fields(problem) if "[" in f]
