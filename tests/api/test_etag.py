"""ETag and If-Match: a change applies only to the version the client last read, so two
partners can never silently overwrite each other."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import Person
from tests.api.conftest import assert_problem, consent, make_partner, patch_json


def _url(person) -> str:
    return f"/api/v1/persons/{person.pk}/"


def test_reading_a_person_gives_its_etag(hospital_partner, hospital_file):
    response = hospital_partner.api.get(_url(hospital_file.person))

    assert response["ETag"] == f'"{hospital_file.person.pk}-v1"'
    assert response.json()["version"] == 1


def test_a_change_without_if_match_is_refused_with_428(hospital_partner, hospital_file):
    response = patch_json(hospital_partner.api, _url(hospital_file.person), {"town": "Leeds"})

    body = assert_problem(response, 428)
    assert body["type"].endswith("/if-match-required")
    assert "If-Match" in body["detail"]
    hospital_file.person.refresh_from_db()
    assert (hospital_file.person.town, hospital_file.person.version) == ("Calderbridge", 1)


def test_a_change_with_a_stale_etag_is_refused_with_412_and_changes_nothing(
    hospital_partner, hospital_file
):
    url = _url(hospital_file.person)
    stale = hospital_partner.api.get(url)["ETag"]
    first = patch_json(hospital_partner.api, url, {"town": "Leeds"}, HTTP_IF_MATCH=stale)
    assert first.status_code == 200

    response = patch_json(hospital_partner.api, url, {"town": "York"}, HTTP_IF_MATCH=stale)

    body = assert_problem(response, 412)
    assert body["type"].endswith("/stale-version")
    hospital_file.person.refresh_from_db()
    assert (hospital_file.person.town, hospital_file.person.version) == ("Leeds", 2)
    assert AuditEvent.objects.filter(action=Action.PERSON_UPDATED).count() == 1


def test_a_change_with_the_current_etag_applies_and_gives_the_next(hospital_partner, hospital_file):
    url = _url(hospital_file.person)
    etag = hospital_partner.api.get(url)["ETag"]

    response = patch_json(
        hospital_partner.api, url, {"town": "Leeds", "postcode": "ls1 4ap"}, HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] == f'"{hospital_file.person.pk}-v2"' != etag
    assert response.json()["version"] == 2
    assert response.json()["postcode"] == "LS1 4AP"
    assert hospital_partner.api.get(url)["ETag"] == response["ETag"]
    event = AuditEvent.objects.get(action=Action.PERSON_UPDATED)
    assert event.detail == {"fields": ["postcode", "town"], "version": 2}


@pytest.mark.parametrize("if_match", ["*", 'W/"{id}-v1"', '"other", "{id}-v1"'])
def test_if_match_accepts_any_form_naming_the_current_version(
    hospital_partner, hospital_file, if_match
):
    url = _url(hospital_file.person)

    response = patch_json(
        hospital_partner.api,
        url,
        {"town": "Leeds"},
        HTTP_IF_MATCH=if_match.format(id=hospital_file.person.pk),
    )

    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_an_agency_that_sees_the_person_through_a_share_cannot_change_them(
    council, carol, council_file, hospital, hospital_partner
):
    consent(council_file.person, holder=council, recipient=hospital, by=carol)
    url = _url(council_file.person)
    etag = hospital_partner.api.get(url)["ETag"]

    response = patch_json(hospital_partner.api, url, {"town": "Leeds"}, HTTP_IF_MATCH=etag)

    body = assert_problem(response, 403)
    assert "own case file" in body["detail"]
    council_file.person.refresh_from_db()
    assert council_file.person.version == 1


# --- A real race, against a live server ------------------------------------------------------

RACERS = 4


def _patch(url: str, token: str, town: str, etag: str) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - the live test server's own http URL
        url,
        data=json.dumps({"town": town}).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "If-Match": etag,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.usefixtures("audit_flushable")
def test_concurrent_changes_from_one_version_let_exactly_one_win(live_server, hospital_file):
    partner = make_partner(hospital_file.agency, name="Hospital EPR")
    person = hospital_file.person
    etag = f'"{person.pk}-v1"'
    url = f"{live_server.url}{_url(person)}"
    start = threading.Barrier(RACERS)
    statuses: dict[str, int] = {}
    bodies: dict[str, bytes] = {}

    def race(town: str) -> None:
        start.wait()
        statuses[town], bodies[town] = _patch(url, partner.token, town, etag)

    towns = [f"Town {i}" for i in range(RACERS)]
    threads = [threading.Thread(target=race, args=(town,)) for town in towns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(statuses.values()) == [200] + [412] * (RACERS - 1), bodies
    (winner,) = [town for town, status in statuses.items() if status == 200]
    person = Person.objects.get(pk=person.pk)
    assert (person.town, person.version) == (winner, 2)
    assert AuditEvent.objects.filter(action=Action.PERSON_UPDATED).count() == 1
