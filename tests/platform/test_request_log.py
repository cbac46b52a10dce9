"""One JSON line per request: request id, client or user, active agency, status and time, and
no people's data; the request id leads from that line to the audit rows the request wrote."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from caretrust.audit.models import AuditEvent
from tests.api.conftest import make_partner
from tests.conftest import signed_in


def json_formatter() -> JsonFormatter:
    config = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    return JsonFormatter(**config)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request log's records as the deployed formatter writes them, parsed back."""
    formatter = json_formatter()
    lines = [formatter.format(r) for r in caplog.records if r.name == "caretrust.request"]
    for line in lines:
        assert "\n" not in line  # one line each
    return [json.loads(line) for line in lines]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="caretrust.request")
    return caplog


def test_a_partner_call_logs_its_client_agency_status_and_time_and_no_query_string(
    council_file, settings, log
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    partner = make_partner(council_file.agency)
    log.clear()
    person = council_file.person
    response = partner.api.get("/api/v1/persons/", {"nhs_number": person.nhs_number})
    assert response.status_code == 200
    (line,) = request_lines(log)
    assert line["message"] == "request"
    assert line["logger"] == "caretrust.request"
    assert line["level"] == "INFO"
    assert line["time"]
    assert line["request_id"] == response["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/persons/"
    assert line["route"] == "api/v1/persons/$"  # the URL pattern (DRF routers use regexes)
    assert line["status"] == 200
    assert line["duration_ms"] > 0
    assert line["client_id"] == partner.partner.pk
    assert line["user_id"] == partner.partner.service_user_id
    assert line["agency_id"] == council_file.agency_id
    raw = json_formatter().format(next(r for r in log.records if r.name == "caretrust.request"))
    for personal in (person.nhs_number, person.family_name, person.given_name):
        assert personal not in raw

    # From the log line to the audit row: the same request id.
    audit = AuditEvent.objects.filter(request_id=line["request_id"])
    assert audit.exists()
    assert {a.agency_id for a in audit} == {council_file.agency_id}


def test_a_staff_page_logs_the_user_and_the_active_agency_but_not_the_search(
    carol, council_file, log
):
    person = council_file.person
    response = signed_in(carol).get(
        "/people/", {"family_name": person.family_name, "date_of_birth": "1940-01-01"}
    )
    assert response.status_code == 200
    (line,) = request_lines(log)
    assert line["user_id"] == carol.pk
    assert line["agency_id"] == council_file.agency_id
    assert line["client_id"] is None
    assert line["path"] == "/people/"
    assert person.family_name not in json.dumps(line)


def test_an_anonymous_request_is_logged_without_touching_the_session(db, client, log):
    response = client.get("/login/")
    assert response.status_code == 200
    (line,) = request_lines(log)
    assert (line["user_id"], line["client_id"], line["agency_id"]) == (None, None, None)
    assert line["status"] == 200


def test_refusals_are_logged_with_their_status(db, client, log):
    response = client.get("/api/v1/persons/")
    assert response.status_code == 401
    (line,) = request_lines(log)
    assert line["status"] == 401
    assert line["request_id"] == response["X-Request-ID"]


def test_a_successful_health_probe_is_not_logged_but_a_failing_one_is(db, client, log, monkeypatch):
    assert client.get("/health/ready").status_code == 200
    assert client.get("/health/live").status_code == 200
    assert request_lines(log) == []
    from caretrust.ops import health

    monkeypatch.setattr(health, "check_database", lambda: {"status": "unavailable"})
    assert client.get("/health/ready").status_code == 503
    assert [line["status"] for line in request_lines(log)] == [503]


def test_djangos_own_request_warnings_leave_the_query_string_out_of_the_json(
    council_file, settings, caplog
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    caplog.set_level(logging.INFO)
    partner = make_partner(council_file.agency)
    typed = f"{council_file.person.nhs_number[:9]}X"
    assert partner.api.get("/api/v1/persons/", {"nhs_number": typed}).status_code == 400
    formatter = json_formatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any('"logger": "django.request"' in line for line in lines)
    assert not [line for line in lines if typed in line or council_file.person.nhs_number in line]
