"""A query parameter an endpoint does not know is a 400 problem naming it, not silently
ignored (``?pk=``, ``?person__in=``); every parameter the published schema documents is known
to its endpoint, and nothing else is."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import PROBLEM
from tests.api.openapi import document

NOBODY = "00000000-0000-4000-8000-000000000000"


def test_an_unknown_parameter_on_a_list_is_a_400_naming_it(hospital_partner):
    response = hospital_partner.api.get("/api/v1/persons/", {"pk": "1"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert "pk" in str(body)
    assert "nhs_number" in str(body)  # says what it does take


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/case-files/", "person__in"),
        ("/api/v1/sharing-bases/", "id"),
        (f"/api/v1/persons/{NOBODY}/", "fields"),
    ],
)
def test_django_style_lookups_and_stray_parameters_are_refused(hospital_partner, path, param):
    response = hospital_partner.api.get(path, {param: "x"})

    assert response.status_code == 400
    assert param in str(response.json())


def test_known_filters_and_the_page_size_still_work(hospital_partner):
    response = hospital_partner.api.get("/api/v1/case-files/", {"open": "true", "page_size": "5"})

    assert response.status_code == 200


def _documented_gets(doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for path, item in doc["paths"].items():
        get = item.get("get")
        if get is None:
            continue
        params = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        if params:
            found.append((path, params))
    return found


def test_every_documented_query_parameter_is_known_to_its_endpoint(db, hospital_partner):
    """Each documented parameter, sent with a value that may be wrong for it: whatever the
    answer (200, 400 for the value, 404 for the id), it is never "unknown"."""
    gets = _documented_gets(document())
    assert len(gets) >= 10  # the lists of every app, and the paged detail actions
    for path, params in gets:
        url = re.sub(r"\{[^}]+\}", NOBODY, path)
        for name in params:
            response = hospital_partner.api.get(url, {name: "1"})
            assert "Unknown query parameter" not in response.content.decode(), (path, name)
