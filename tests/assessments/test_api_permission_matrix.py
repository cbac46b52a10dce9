"""The assessments API's permission matrix, generated from its router: every operation x the
scopes x the kinds of object, so a new endpoint cannot forget its access tests.

- a token without the scope the operation needs: 403 (checked first, so it reveals nothing);
- an object (or, for a create, the assessment or person named in the body) the agency may not
  see, or one that does not exist: 404, the same body;
- an object the agency sees only through another agency's share, with a write: 403 (a share
  lets it read, never change) - except adopting, which is what a share is for (201), while
  adopting one's own assessment is refused (400);
- otherwise 2xx. Refused requests change nothing.

The acting client is the hospital's; its service user leads the hospital's assessments. The
council shares a signed-off assessment with the hospital (consent); an outsider's is hidden.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from oauth2_provider.models import AccessToken

from assessments.models import (
    Addendum,
    Adoption,
    Assessment,
    CarePlan,
    JointMeeting,
    ScaleResult,
    Section,
)
from assessments.urls import router
from caretrust.api.services import create_partner_client
from tests.api.conftest import bearer, obtain_token
from tests.api.matrix import Operation, operations_of
from tests.assessments.conftest import consent_to_assessments
from tests.assessments.factories import AMTS, contact_assessment, meeting_plans_addendum
from tests.factories import CaseFileFactory, PersonFactory

RESOURCE_OF_PREFIX = {
    p: "assessments"
    for p in ("assessments", "sections", "scales", "meetings", "care-plans", "addenda")
}
BODY_NAMES_ASSESSMENT = {"scales", "meetings", "care-plans", "addenda"}
SCOPES = ["assessments:read", "assessments:write", "(none)"]
OBJECTS = ["own", "shared", "unshared", "nonexistent"]


def _operations() -> list[Operation]:
    return operations_of(
        router,
        RESOURCE_OF_PREFIX,
        on_person=lambda prefix, route, writes: writes and not route.detail,
    )


OPERATIONS = _operations()


def expected_status(op: Operation, scope: str, obj: str) -> int:
    if scope != op.needs:
        return 403
    if obj in ("unshared", "nonexistent"):
        return 404
    adopt = op.path.endswith("/adopt/")
    if adopt:
        return 400 if obj == "own" else 201
    if op.writes and obj == "shared":
        return 403
    if op.method == "post" and not op.detail:
        return 201
    return 200


def _cases() -> list[Any]:
    cases = []
    for op in OPERATIONS:
        objects = OBJECTS if (op.detail or op.on_person) else ["all"]
        for scope, obj in itertools.product(SCOPES, objects):
            if scope != op.needs and obj not in ("own", "all"):
                continue  # the scope is checked before the object: one object is enough
            status = expected_status(op, scope, obj)
            cases.append(pytest.param(op, scope, obj, status, id=f"{op}|{scope}|{obj}"))
    return cases


CASES = _cases()


@pytest.fixture(autouse=True)
def _cheap_client_secrets(settings):
    """Every case registers a partner client: hash its secret with a fast hasher (the real
    Argon2 path is tests/api/test_auth.py's), and start with no rate-limit counters."""
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


NOT_FOUND = {
    "type": "https://caretrust.example/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "Not found.",
}


@dataclass
class World:
    svc: Any
    objects: dict[str, dict[str, Any]]  # kind -> own/shared/unshared -> object

    def fingerprint(self) -> tuple[Any, ...]:
        return (
            sorted(Assessment.objects.values_list("pk", "status", "version")),
            sorted(Section.objects.values_list("pk", "version", "author_id")),
            ScaleResult.objects.count(),
            JointMeeting.objects.count(),
            sorted(CarePlan.objects.values_list("pk", "status", "version")),
            Addendum.objects.count(),
            Adoption.objects.count(),
        )


EXTRAS = {"meeting", "draft", "authorised", "addendum"}


def _needs(op: Operation) -> set[str]:
    """The kinds of object the case touches, so each case builds only those."""
    prefix = op.path.split("/")[3]
    if not op.detail and not op.on_person:
        return {LISTED_KIND[prefix]}
    if op.on_person:
        return {"signed" if prefix in ("care-plans", "addenda") else "assessment", "person"}
    return {_target_kind(op)}


def _world(hospital, council, outsider_agency, carol, oscar, svc, need: set[str]) -> World:
    extras = bool(need & EXTRAS)
    own_file = CaseFileFactory(agency=hospital, lead_worker=svc, person=PersonFactory())
    open_ = None
    if need & {"assessment", "section", "scale"}:
        open_ = contact_assessment(own_file, svc, hospital, sign_off=False)
    signed = None
    if extras or "signed" in need:
        signed = contact_assessment(own_file, svc, hospital, sign_off=True)
    own = meeting_plans_addendum(signed, svc, hospital) if extras and signed else {}

    shared_file = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    consent_to_assessments(shared_file.person, holder=council, recipient=hospital, by=carol)
    shared_a = contact_assessment(shared_file, carol, council, sign_off=True)
    shared = meeting_plans_addendum(shared_a, carol, council) if extras else {}

    hidden_file = CaseFileFactory(agency=outsider_agency, lead_worker=oscar, person=PersonFactory())
    hidden_a = contact_assessment(hidden_file, oscar, outsider_agency, sign_off=True)
    hidden = meeting_plans_addendum(hidden_a, oscar, outsider_agency) if extras else {}

    def senses(a):
        return Section.objects.filter(assessment=a, domain__key="senses").first()

    def scale(a):
        return ScaleResult.objects.filter(assessment=a).first()

    objects = {
        "assessment": {"own": open_, "shared": shared_a, "unshared": hidden_a},
        "signed": {"own": signed, "shared": shared_a, "unshared": hidden_a},
        "section": {"own": senses(open_), "shared": senses(shared_a), "unshared": senses(hidden_a)},
        "scale": {"own": scale(open_), "shared": scale(shared_a), "unshared": scale(hidden_a)},
        "person": {
            "own": own_file.person,
            "shared": shared_file.person,
            "unshared": hidden_file.person,
        },
    }
    for kind in EXTRAS:
        objects[kind] = {
            "own": own.get(kind),
            "shared": shared.get(kind),
            "unshared": hidden.get(kind),
        }
    return World(svc=svc, objects=objects)


def _token_and_world(hospital, council, outsider_agency, carol, oscar, scope, op):
    new = create_partner_client(
        agency=hospital, name="Hospital EPR", scopes=[s for s in SCOPES if ":" in s]
    )
    world = _world(
        hospital, council, outsider_agency, carol, oscar, new.partner.service_user, _needs(op)
    )
    if scope != "(none)":
        return obtain_token(new.client_id, new.client_secret, scope), world
    token = obtain_token(new.client_id, new.client_secret, "assessments:read")
    AccessToken.objects.filter(application=new.partner.application).update(scope="")
    return token, world


def _target_kind(op: Operation) -> str:
    prefix = op.path.split("/")[3]
    if op.path.endswith("/adopt/"):
        return "signed"
    if op.path.endswith("/end/"):
        return "authorised"
    if prefix == "care-plans" and op.detail:
        return "draft"
    return {
        "assessments": "assessment",
        "sections": "section",
        "scales": "scale",
        "meetings": "meeting",
        "addenda": "addendum",
    }[prefix]


def _body_for_create(prefix: str, assessment_id: Any, person_id: Any) -> dict[str, Any]:
    a = str(assessment_id)
    return {
        "assessments": {
            "person": str(person_id),
            "depth": "contact",
            "reason": "R",
            "episode": "E",
        },
        "scales": {"assessment": a, "scale": "amts", "items": AMTS, "assessed_on": "2026-11-30"},
        "meetings": {
            "assessment": a,
            "held_on": "2026-12-01",
            "place": "ward",
            "attendees": [
                {"role": "nurse", "name": "N"},
                {"role": "care_manager", "name": "C"},
                {"role": "occupational_therapist", "name": "O"},
            ],
            "wishes": "Home.",
            "from_impairment_or_illness": True,
            "outcomes_not_achieved": ["nutrition", "hygiene"],
            "significant_impact_on_wellbeing": True,
            "eligibility_confirmed": True,
        },
        "care-plans": {
            "assessment": a,
            "goals": "Walk to the shop",
            "review_on": (dt.date.today() + dt.timedelta(days=20)).isoformat(),
            "services": [
                {"kind": "equipment", "funding": "social_care", "start_date": "2026-12-10"}
            ],
        },
        "addenda": {"assessment": a, "reason": "New fact", "text": "A fall on Tuesday."},
    }[prefix]


def _call(api: Any, op: Operation, obj: str, world: World) -> Any:
    prefix = op.path.split("/")[3]
    if not op.detail and not op.on_person:
        return api.get(op.path + "?page_size=100")
    if op.on_person:  # a create naming its assessment (or person) in the body
        if obj == "nonexistent":
            a_id = p_id = uuid.uuid4()
        else:
            kind = "signed" if prefix in ("care-plans", "addenda") else "assessment"
            a_id = world.objects[kind][obj].pk
            p_id = world.objects["person"][obj].pk
        body = _body_for_create(prefix, a_id, p_id)
        return api.post(op.path, json.dumps(body), content_type="application/json")
    target = None if obj == "nonexistent" else world.objects[_target_kind(op)][obj]
    object_id = target.pk if target is not None else uuid.uuid4()
    url = op.path.replace("{id}", str(object_id))
    if op.method == "get":
        return api.get(url)
    headers: dict[str, str] = {}
    if prefix == "sections" and (op.method == "patch" or url.endswith("/sign/")):
        headers["HTTP_IF_MATCH"] = f'"{object_id}-v{getattr(target, "version", 1)}"'
    if op.method == "patch":
        body: Any = {"answers": {"sight": "yes"}, "narrative": "Wears glasses."}
    elif url.endswith("/delegate/"):
        body = {"author": world.svc.username, "author_agency": "hospital"}
    elif url.endswith("/end/"):
        body = {"ended_on": "2027-01-31"}
    else:
        body = {}
    call = getattr(api, op.method)
    return call(url, json.dumps(body), content_type="application/json", **headers)


LISTED_KIND = {
    "assessments": "assessment",
    "sections": "section",
    "scales": "scale",
    "meetings": "meeting",
    "care-plans": "draft",
    "addenda": "addendum",
}


@pytest.mark.parametrize(("op", "scope", "obj", "status"), CASES)
def test_assessments_permission_matrix(
    op, scope, obj, status, hospital, council, outsider_agency, carol, oscar
):
    token, world = _token_and_world(hospital, council, outsider_agency, carol, oscar, scope, op)
    api = bearer(token)
    before = world.fingerprint()

    response = _call(api, op, obj, world)

    assert response.status_code == status, response.content[:400]
    if status >= 400:
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body.pop("request_id") == response["X-Request-ID"]
        if status == 404:
            assert body == NOT_FOUND
        elif scope != op.needs:
            assert "scope" in body["detail"]
        assert world.fingerprint() == before, "a refused request changed something"
    elif obj == "all":
        listed = {row["id"] for row in response.json()["results"]}
        objects = world.objects[LISTED_KIND[op.path.split("/")[3]]]
        assert str(objects["own"].pk) in listed
        assert str(objects["shared"].pk) in listed
        assert str(objects["unshared"].pk) not in listed


def test_the_matrix_covers_every_operation_of_the_router():
    assert len(OPERATIONS) == 24
    assert {op.path.split("/")[3] for op in OPERATIONS} == set(RESOURCE_OF_PREFIX)
