"""A page of 50 costs the same number of queries as a page of 5: no query per row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from caretrust.people.models import DataClass
from tests.api.conftest import consent
from tests.factories import AgencyFactory, CaseFileFactory, PersonFactory, UserFactory

ROWS = 60


@pytest.fixture
def many(hospital, council, nina, carol):
    """60 people with hospital files (each registered with a GP practice, and half of them
    with a lead worker of their own), and 60 council files shared with the hospital."""
    practices = [
        AgencyFactory(name=f"Surgery {i}", slug=f"surgery-{i}", kind=AgencyKind.GP_PRACTICE)
        for i in range(3)
    ]
    for i in range(ROWS):
        lead = nina if i % 2 else UserFactory()
        if lead is not nina:
            directory.add_membership(user=lead, agency=hospital, role=Role.NURSE)
        CaseFileFactory(
            agency=hospital, lead_worker=lead, person=PersonFactory(gp_practice=practices[i % 3])
        )
        theirs = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
        consent(
            theirs.person,
            holder=council,
            recipient=hospital,
            by=carol,
            classes=[DataClass.DEMOGRAPHICS, DataClass.ASSESSMENTS],
        )


def _queries(api, url, page_size):
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(captured)


@pytest.mark.parametrize(
    "url", ["/api/v1/persons/", "/api/v1/case-files/", "/api/v1/sharing-bases/"]
)
def test_a_list_costs_the_same_whatever_the_page_size(hospital_partner, many, url):
    small = _queries(hospital_partner.api, url, 5)
    large = _queries(hospital_partner.api, url, 50)

    assert large == small, f"{url}: {small} queries for 5 rows, {large} for 50"


def test_a_person_detail_is_the_token_the_person_and_one_audit_row(hospital_partner, many):
    """The bearer token, the person through the rule, and the sight's audit row (its lane's
    head locked, then the row written with the head moved on): four statements."""
    person = hospital_partner.api.get("/api/v1/persons/", {"page_size": 1}).json()["results"][0]
    with CaptureQueriesContext(connection) as captured:
        response = hospital_partner.api.get(f"/api/v1/persons/{person['id']}/")
    assert response.status_code == 200
    # (The request's own transaction is a savepoint inside the test's: not counted.)
    statements = [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 4, statements
    assert sum("audit_auditevent" in q for q in statements) == 2  # the lane's id, then the row
    assert sum("people_person" in q for q in statements) == 1
