"""Property-based testing of the whole API against its own OpenAPI document.

schemathesis loads /api/schema/ from the app in-process (WSGI) and, for every operation,
generates valid and invalid requests; every response must be a non-5xx answer that conforms
to the document (status code, content type, headers, body schema). Requests carry a bearer
token of a hospital client holding every scope, and there is data to find: a person with a
hospital file, one shared by the council, and a consent on each side.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode, checks

from caretrust.people.models import DataClass
from tests.api.conftest import Partner, consent, make_partner
from tests.budgets.conftest import schemathesis_ids as budgets_ids
from tests.budgets.test_api_permission_matrix import OPERATIONS as BUDGETS_OPERATIONS
from tests.factories import CaseFileFactory, PersonFactory

EXPECTED_OPERATIONS = {
    "GET /api/v1/persons/",
    "POST /api/v1/persons/",
    "GET /api/v1/persons/{id}/",
    "PATCH /api/v1/persons/{id}/",
    "GET /api/v1/persons/{id}/access-report/",
    "GET /api/v1/case-files/",
    "GET /api/v1/case-files/{id}/",
    "GET /api/v1/sharing-bases/",
    "POST /api/v1/sharing-bases/",
    "GET /api/v1/sharing-bases/{id}/",
    "POST /api/v1/sharing-bases/{id}/withdraw/",
}
# The domain apps' operations, as each app's permission matrix lists them.
EXPECTED_OPERATIONS |= {str(op) for op in BUDGETS_OPERATIONS}


@pytest.fixture
def _in_test_transaction() -> Iterator[None]:
    """Serve schemathesis's WSGI calls inside the test's transaction, as Django's own test
    client does: the end of a request must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@dataclass
class World:
    partner: Partner
    # For each path with an {id}: ids the hospital may see, to use in place of generated ones.
    ids: dict[str, list[str]]


@pytest.fixture
def world(hospital: Any, council: Any, nina: Any, carol: Any) -> World:
    own = CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())
    theirs = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    given = consent(own.person, holder=hospital, recipient=council, by=nina)
    received = consent(
        theirs.person, holder=council, recipient=hospital, by=carol, classes=DataClass.values
    )
    persons = [str(own.person.pk), str(theirs.person.pk)]
    return World(
        partner=make_partner(hospital, name="Hospital EPR (all scopes)"),
        ids={
            "/api/v1/persons/{id}/": persons,
            "/api/v1/persons/{id}/access-report/": persons,
            "/api/v1/case-files/{id}/": [str(own.pk), str(theirs.pk)],
            "/api/v1/sharing-bases/{id}/": [str(given.pk), str(received.pk)],
            "/api/v1/sharing-bases/{id}/withdraw/": [str(given.pk), str(received.pk)],
            **budgets_ids(hospital, council),
        },
    )


def _aim_at_real_records(case: Any, world: World) -> None:
    """Random ids only ever find nothing (404). For two valid cases in three, use the id of a
    record the client may see (own or shared), so that success and 403 responses are checked
    against the schema too. Invalid (negative) cases are left exactly as generated."""
    generated = (case.path_parameters or {}).get("id")
    if generated is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    choice = zlib.crc32(str(generated).encode()) % 3
    if choice < 2:
        case.path_parameters["id"] = world.ids[case.path][choice]


def _document() -> dict[str, Any]:
    """The OpenAPI document exactly as /api/schema/ serves it (the same generator), built at
    collection time: fetching it through the app there is not possible, as every request
    opens a transaction (ATOMIC_REQUESTS) and the test database does not exist yet.
    ``test_the_document_is_the_one_served`` checks it against the real endpoint.

    (``schemathesis.pytest.from_fixture`` would load it per test through a fixture, but its
    lazy loader writes ``Function._nodeid``, which this version of pytest no longer has.)"""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
schema.app = WSGIHandler()


def test_the_document_is_the_one_served(client: Any, db: Any) -> None:
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    assert json.loads(response.content) == DOCUMENT


def test_the_schema_describes_every_endpoint() -> None:
    """So that nothing below is skipped silently: every route is an operation under test."""
    found = {
        f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()
    }
    assert found == EXPECTED_OPERATIONS


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, world: World, _in_test_transaction: None) -> None:
    _aim_at_real_records(case, world)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {world.partner.token}"},
        # Every built-in check runs (no server errors; status codes, content types, headers
        # and bodies as documented; invalid requests rejected; authentication enforced) but
        # one: "schema-valid requests are accepted". Valid-looking data is rightly refused
        # where the rules go beyond what a schema can say: an NHS number's check digit, a
        # date of birth in the future, an agency slug that does not exist, a duplicate NHS
        # number. tests/api/test_bad_input.py covers those refusals one by one.
        excluded_checks=[checks.positive_data_acceptance],
    )
