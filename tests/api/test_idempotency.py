"""Idempotency-Key on POST: a retry returns the first answer instead of acting twice; a key
belongs to one client; and two requests racing with one key never both act."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from caretrust.api.models import IdempotencyRecord
from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, Person
from caretrust.sharing.models import SharingBasis
from tests.api.conftest import PERSON_BODY, assert_problem, consent_body, make_partner, post_json
from tests.conftest import signed_in

PERSONS = "/api/v1/persons/"
BASES = "/api/v1/sharing-bases/"


def test_a_retry_with_the_same_key_and_body_replays_the_first_answer(hospital_partner):
    first = post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="reg-42")
    retry = post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="reg-42")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert retry["Location"] == first["Location"]
    assert retry["ETag"] == first["ETag"]
    assert Person.objects.count() == 1
    assert CaseFile.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.PERSON_CREATED).count() == 1


def test_the_same_key_with_a_different_body_is_refused(hospital_partner):
    post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="reg-42")
    other = {**PERSON_BODY, "nhs_number": "9990000026", "given_name": "Arthur"}

    response = post_json(hospital_partner.api, PERSONS, other, HTTP_IDEMPOTENCY_KEY="reg-42")

    body = assert_problem(response, 422)
    assert body["type"].endswith("/idempotency-key-reused")
    assert "different request" in body["detail"]
    assert list(Person.objects.values_list("given_name", flat=True)) == ["Margaret"]


def test_the_same_key_on_another_endpoint_is_refused(hospital_partner, hospital_file, council):
    post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="k-1")

    response = post_json(
        hospital_partner.api,
        BASES,
        consent_body(hospital_file.person.pk, "council"),
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert_problem(response, 422)
    assert not SharingBasis.objects.exists()


def test_keys_belong_to_one_client(hospital, council, hospital_partner):
    other_client = make_partner(hospital, name="Second hospital system")
    council_client = make_partner(council, name="Council system")
    post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="shared-key")

    # The same key from another client is a new request: here a different person, registered.
    arthur = {**PERSON_BODY, "nhs_number": "9990000026", "given_name": "Arthur"}
    second = post_json(other_client.api, PERSONS, arthur, HTTP_IDEMPOTENCY_KEY="shared-key")
    # ... and the very same body from a third client is not a replay of the first's answer:
    # it takes the hospital's person on (the council's own file), acting afresh.
    third = post_json(council_client.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="shared-key")

    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert third.status_code == 201
    assert "Idempotent-Replayed" not in third
    assert Person.objects.count() == 2
    assert CaseFile.objects.filter(agency=council).count() == 1
    assert IdempotencyRecord.objects.count() == 3  # one per client


def test_a_refused_request_is_not_remembered(hospital_partner):
    """Only success is stored: after a 400, the same key may carry the corrected request."""
    bad = {**PERSON_BODY, "postcode": "XX1 ZZZ"}
    assert (
        post_json(hospital_partner.api, PERSONS, bad, HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    )

    fixed = post_json(hospital_partner.api, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="k")

    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


def test_a_withdrawal_retried_is_replayed_not_refused(
    hospital_partner, hospital_file, council, hospital, nina
):
    from tests.api.conftest import consent

    basis = consent(hospital_file.person, holder=hospital, recipient=council, by=nina)
    url = f"{BASES}{basis.pk}/withdraw/"
    first = post_json(hospital_partner.api, url, {"reason": "Withdrawn"}, HTTP_IDEMPOTENCY_KEY="w")

    retry = post_json(hospital_partner.api, url, {"reason": "Withdrawn"}, HTTP_IDEMPOTENCY_KEY="w")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.filter(action=Action.BASIS_STATUS_CHANGED).count() == 1


def test_keys_of_a_session_user_are_theirs(carol):
    browser = signed_in(carol)
    first = post_json(browser, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="s-1")
    retry = post_json(browser, PERSONS, PERSON_BODY, HTTP_IDEMPOTENCY_KEY="s-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry["Idempotent-Replayed"] == "true"
    assert IdempotencyRecord.objects.get().owner == f"user:{carol.pk}"


# --- A real race, against a live server ------------------------------------------------------

RACERS = 6


def _post(url: str, token: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 - the live test server's own http URL
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.mark.usefixtures("audit_flushable")
def test_concurrent_duplicates_act_once(live_server, hospital):
    partner = make_partner(hospital, name="Hospital EPR")
    url = f"{live_server.url}{PERSONS}"
    start = threading.Barrier(RACERS)
    results: list[tuple[int, dict[str, str], Any]] = []

    def race() -> None:
        start.wait()
        results.append(_post(url, partner.token, PERSON_BODY, "race-1"))

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(results) == RACERS
    statuses = sorted(status for status, _, _ in results)
    assert all(status in (201, 409) for status in statuses), results
    originals = [r for r in results if r[0] == 201 and "Idempotent-Replayed" not in r[1]]
    replays = [r for r in results if r[0] == 201 and r[1].get("Idempotent-Replayed") == "true"]
    conflicts = [r for r in results if r[0] == 409]
    assert len(originals) == 1, results
    assert len(originals) + len(replays) + len(conflicts) == RACERS
    assert all(body == originals[0][2] for _, _, body in replays)
    assert all(body["type"].endswith("/idempotency-in-progress") for _, _, body in conflicts)
    assert Person.objects.count() == 1
    assert CaseFile.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
