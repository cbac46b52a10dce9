"""Every operation x every token scope x every kind of object, generated, not hand-listed.

The operations are read from the API's router; the rules below say what each combination
must answer, and the cases are their product:

- a token without the scope the operation needs: 403, whatever the object (even one that
  does not exist: the scope is checked first, so it reveals nothing);
- an object the agency may not see, or one that does not exist: 404, with the same body
  (only the request id differs);
- an object the agency sees only because another agency shared it, with a write: 403
  (a share lets an agency read another's file, never change it or how it is shared);
- the access report: 403 for any partner client (it is for staff with a governance role);
- otherwise: 2xx.

The acting client is the hospital's. Its world: its own file on a person; a council file it
may see through the person's consent; an outsider's file it may not see; and a sharing
basis of each kind (given by the hospital, received from the council, between two others).
Refused writes change nothing.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from oauth2_provider.models import AccessToken

from caretrust.api.models import SCOPES
from caretrust.api.services import create_partner_client
from caretrust.api.urls import router
from caretrust.people.models import Person
from caretrust.sharing.models import SharingBasis
from tests.api.conftest import (
    PERSON_BODY,
    bearer,
    consent,
    consent_body,
    obtain_token,
)
from tests.api.matrix import Operation, operations_of
from tests.factories import CaseFileFactory, PersonFactory

# The specification: which resource group (for scopes) each collection belongs to.
RESOURCE_OF_PREFIX = {"persons": "persons", "case-files": "casefiles", "sharing-bases": "sharing"}
# Operations partner clients may never use, whatever their scopes.
STAFF_ONLY = {("get", "/api/v1/persons/{id}/access-report/")}

NO_SCOPE = "(none)"
# This module's own resource groups' scopes (a domain app's scope is its own matrix's business).
TOKEN_SCOPES = [sc for sc in SCOPES if sc.split(":")[0] in RESOURCE_OF_PREFIX.values()]
TOKEN_SCOPES.append(NO_SCOPE)
OBJECTS = ["own", "shared", "unshared", "nonexistent"]


def _operations() -> list[Operation]:
    return operations_of(
        router,
        RESOURCE_OF_PREFIX,
        on_person=lambda prefix, route, writes: (
            writes and not route.detail and prefix == "sharing-bases"
        ),
    )


OPERATIONS = _operations()


def _objects_for(op: Operation) -> list[str]:
    # A list's "object" is every kind at once (checked by what it lists); registering a
    # person acts on no existing object.
    if op.detail or op.on_person:
        return OBJECTS
    return ["all"]


def expected_status(op: Operation, scope: str, obj: str) -> int:
    if scope != op.needs:
        return 403
    if obj in ("unshared", "nonexistent"):
        return 404
    if (op.method, op.path) in STAFF_ONLY:
        return 403
    if op.writes and obj == "shared":
        return 403
    if op.method == "post" and not op.detail:
        return 201
    return 200


CASES = [
    pytest.param(op, scope, obj, expected_status(op, scope, obj), id=f"{op}|{scope}|{obj}")
    for op in OPERATIONS
    for scope, obj in itertools.product(TOKEN_SCOPES, _objects_for(op))
]

NOT_FOUND = {
    "type": "https://caretrust.example/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "Not found.",
}


@dataclass
class World:
    persons: dict[str, Any]
    case_files: dict[str, Any]
    bases: dict[str, Any]

    def fingerprint(self) -> tuple[Any, ...]:
        return (
            sorted(Person.objects.values_list("pk", "version")),
            sorted(SharingBasis.objects.values_list("pk", "status", "version")),
        )


@pytest.fixture
def world(hospital, council, outsider_agency, nina, carol, oscar) -> World:
    own = CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())
    shared = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    unshared = CaseFileFactory(agency=outsider_agency, lead_worker=oscar, person=PersonFactory())
    given = consent(own.person, holder=hospital, recipient=council, by=nina)
    received = consent(shared.person, holder=council, recipient=hospital, by=carol)
    between_others = consent(unshared.person, holder=outsider_agency, recipient=council, by=oscar)
    return World(
        persons={"own": own.person, "shared": shared.person, "unshared": unshared.person},
        case_files={"own": own, "shared": shared, "unshared": unshared},
        bases={"own": given, "shared": received, "unshared": between_others},
    )


def _token(hospital: Any, scope: str) -> str:
    new = create_partner_client(agency=hospital, name="Hospital EPR", scopes=list(SCOPES))
    if scope != NO_SCOPE:
        return obtain_token(new.client_id, new.client_secret, scope)
    token = obtain_token(new.client_id, new.client_secret, "persons:read")
    AccessToken.objects.filter(application=new.partner.application).update(scope="")
    return token


def _target(op: Operation, obj: str, world: World) -> Any:
    if obj in ("all", "nonexistent"):
        return None
    if op.on_person or op.path.startswith("/api/v1/persons/"):
        return world.persons[obj]
    if op.path.startswith("/api/v1/case-files/"):
        return world.case_files[obj]
    return world.bases[obj]


def _call(api: Any, op: Operation, obj: str, world: World) -> Any:
    target = _target(op, obj, world)
    object_id = target.pk if target is not None else uuid.uuid4()
    url = op.path.replace("{id}", str(object_id))
    headers: dict[str, str] = {}
    if op.path.startswith("/api/v1/persons/{id}") and op.method == "patch":
        version = target.version if target is not None else 1
        headers["HTTP_IF_MATCH"] = f'"{object_id}-v{version}"'
        body: Any = {"town": "Halifax"}
    elif op.on_person:
        recipient = "council" if obj == "own" else "westvale"
        body = consent_body(object_id, recipient)
    elif op.path.endswith("/withdraw/"):
        body = {"reason": "The person withdrew their consent."}
    elif op.method == "post":
        body = PERSON_BODY
    else:
        return api.get(url)
    call = getattr(api, op.method)
    return call(url, json.dumps(body), content_type="application/json", **headers)


def _listed_ids(response: Any) -> set[str]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(("op", "scope", "obj", "status"), CASES)
def test_permission_matrix(op, scope, obj, status, world, hospital):
    api = bearer(_token(hospital, scope))
    before = world.fingerprint()

    response = _call(api, op, obj, world)

    assert response.status_code == status, response.content[:300]
    if status >= 400:
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body.pop("request_id") == response["X-Request-ID"]
        if status == 404:
            assert body == NOT_FOUND
        elif scope != op.needs:
            assert "scope" in body["detail"]
        assert world.fingerprint() == before, "a refused request changed something"
    elif obj == "all" and op.method == "get":
        listed = _listed_ids(response)
        kind = op.path.split("/")[3]
        visible = {"persons": world.persons, "case-files": world.case_files}.get(kind, world.bases)
        assert str(visible["own"].pk) in listed
        assert str(visible["shared"].pk) in listed
        assert str(visible["unshared"].pk) not in listed


def test_the_matrix_is_small_enough_to_run_on_every_push():
    assert 150 <= len(CASES) <= 200
