"""The referrals API's generated permission matrix: every operation of its router x token
scope (referrals:read, referrals:write, none) x object (own, shared, unshared, nonexistent).

The acting client is the hospital's. Its world: a referral its ward made to its own discharge
service (own: it is both referrer and receiver), a referral it sent to the community trust
(shared: it sees it as the referrer and may withdraw it, never triage it: 403), one between two
other agencies (unshared: 404), and hospital stays (own; another trust's, unshared: 404).

- a token without the scope the operation needs: 403, whatever the object;
- unshared or nonexistent: 404 with the body of any other 404;
- a step the referral's state does not allow (an episode on a new referral): 409;
- otherwise 2xx. Refused requests change nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
import uuid
from typing import Any

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from caretrust.api.services import create_partner_client
from caretrust.people.validators import today_in_london
from referrals import discharge, services
from referrals.models import HospitalStay, Referral
from referrals.urls import router
from tests.api.conftest import bearer
from tests.api.matrix import Operation, operations_of
from tests.factories import AgencyFactory, CaseFileFactory, PersonFactory, TeamFactory
from tests.referrals.conftest import staff
from tests.referrals.factories import ServiceFactory

RESOURCE_OF_PREFIX = {
    "referral-services": "referrals",
    "referrals": "referrals",
    "hospital-stays": "referrals",
}
NO_SCOPE = "(none)"
TOKEN_SCOPES = ["referrals:read", "referrals:write", NO_SCOPE]
OBJECTS = ["own", "shared", "unshared", "nonexistent"]


def _operations() -> list[Operation]:
    return operations_of(
        router,
        RESOURCE_OF_PREFIX,
        on_person=lambda prefix, route, writes: writes and not route.detail,
    )


OPERATIONS = _operations()


def _objects_for(op: Operation) -> list[str]:
    if op.on_person:
        return ["own", "unshared", "nonexistent"]  # the person the create names
    if op.path.startswith("/api/v1/referral-services/"):
        return ["own", "nonexistent"] if op.detail else ["all"]
    if op.path.startswith("/api/v1/hospital-stays/") and op.detail:
        return ["own", "unshared", "nonexistent"]
    return OBJECTS if op.detail else ["all"]


# Steps a receiving agency may take on a new referral, and the referrer's withdrawal.
RECEIVER_STEPS = {"claim", "release", "accept", "decline", "redirect"}
ILLEGAL_ON_NEW = {"start-episode", "end-episode"}


def _step(op: Operation) -> str:
    return op.path.rstrip("/").split("/")[-1]


def expected_status(op: Operation, scope: str, obj: str) -> int:
    if scope != op.needs:
        return 403
    if obj in ("unshared", "nonexistent"):
        return 404
    if op.method == "post" and not op.detail:
        return 201
    if op.writes and op.path.startswith("/api/v1/referrals/{id}/"):
        step = _step(op)
        if step in ILLEGAL_ON_NEW:
            return 409 if obj == "own" else 403
        if step == "release":
            return 400 if obj == "own" else 403  # nobody has claimed it
        if step in RECEIVER_STEPS and obj == "shared":
            return 403
    return 200


# A token without the scope is refused before any object is looked at, so one object is
# enough for each wrong scope; the needed scope meets every kind of object.
CASES = [
    pytest.param(op, scope, obj, expected_status(op, scope, obj), id=f"{op}|{scope}|{obj}")
    for op in OPERATIONS
    for scope, obj in itertools.chain(
        ((op.needs, obj) for obj in _objects_for(op)),
        ((sc, _objects_for(op)[0]) for sc in TOKEN_SCOPES if sc != op.needs),
    )
]

NOT_FOUND = {
    "type": "https://caretrust.example/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "Not found.",
}


@pytest.fixture(autouse=True)
def _cheap_client_secrets(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(hospital: Any, nina: Any, outsider_agency: Any, oscar: Any) -> dict[str, Any]:
    community = AgencyFactory(name="Community", slug="community", kind="community_health")
    rita = staff("rita", community, "nurse")
    discharge_service = ServiceFactory(
        team=TeamFactory(agency=hospital), slug="discharge-team", kind="early_discharge"
    )
    ServiceFactory(team=TeamFactory(agency=hospital), slug="hospital-other", kind="reablement")
    rapid = ServiceFactory(team=TeamFactory(agency=community), slug="community-rapid")
    other = ServiceFactory(team=TeamFactory(agency=outsider_agency), slug="westvale-service")
    person = PersonFactory()
    CaseFileFactory(person=person, agency=hospital, lead_worker=nina)
    common = {"source": "ward", "reason": "ready to go home", "urgency": "urgent"}
    own = services.make_referral(
        agency=hospital, by=nina, person=person, service=discharge_service, **common
    )
    shared = services.make_referral(
        agency=hospital,
        by=nina,
        person=person,
        service=rapid,
        consent=services.ConsentAtReferral(),
        **common,
    )
    stranger = PersonFactory()
    CaseFileFactory(person=stranger, agency=outsider_agency, lead_worker=oscar)
    unshared = services.make_referral(
        agency=outsider_agency, by=oscar, person=stranger, service=other, **common
    )
    stay = discharge.record_admission(
        agency=hospital,
        by=nina,
        person=person,
        ward="Ward 7",
        admitted_on=today_in_london() - dt.timedelta(days=5),
    )
    other_hospital = AgencyFactory(name="Other Trust", slug="other-trust", kind="acute_trust")
    nurse = staff("other-nurse", other_hospital, "nurse")
    other_stay = discharge.record_admission(
        agency=other_hospital,
        by=nurse,
        person=stranger,
        ward="Ward 1",
        admitted_on=today_in_london() - dt.timedelta(days=5),
    )
    del rita
    return {
        "referrals": {"own": own, "shared": shared, "unshared": unshared},
        "stays": {"own": stay, "unshared": other_stay},
        "services": {"own": rapid},
        "persons": {"own": person, "unshared": stranger},
        "redirect_to": "hospital-other",
    }


def fingerprint() -> tuple[Any, ...]:
    return (
        sorted(Referral.objects.values_list("pk", "status", "version", "claimed_by_id")),
        sorted(HospitalStay.objects.values_list("pk", "version")),
    )


def _token(hospital: Any, scope: str) -> str:
    """A token as the token endpoint would issue it (tests/api covers that endpoint)."""
    new = create_partner_client(agency=hospital, name="Hospital PAS", scopes=TOKEN_SCOPES[:2])
    token = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        application=new.partner.application,
        token=token,
        expires=timezone.now() + dt.timedelta(hours=1),
        scope="" if scope == NO_SCOPE else scope,
    )
    return token


def _body(op: Operation, world: dict[str, Any], obj: str) -> Any:
    step = _step(op)
    if op.on_person:
        person = world["persons"].get(obj)
        person_id = str(person.pk) if person else str(uuid.uuid4())
        if op.path.startswith("/api/v1/referrals/"):
            return {
                "person": person_id,
                "source": "ward",
                "reason": "home soon",
                "urgency": "urgent",
                "service": "discharge-team",
            }
        return {"person": person_id, "ward": "Ward 2", "admitted_on": today_in_london().isoformat()}
    return {
        "decline": {"decline_reason": "no_capacity"},
        "redirect": {"to_service": world["redirect_to"], "reason": "better placed"},
        "withdraw": {"reason": "went home"},
        "end-episode": {"outcome": "home_independent"},
        "ready-date": {"discharge_ready_on": today_in_london().isoformat()},
        "discharge": {
            "discharged_on": today_in_london().isoformat(),
            "early_reason": "self-discharged",
        },
    }.get(step, {"ward": "Ward 8"} if op.method == "patch" else {})


def _call(api: Any, op: Operation, obj: str, world: dict[str, Any]) -> Any:
    kind = op.path.split("/")[3]
    pool = {
        "referrals": world["referrals"],
        "hospital-stays": world["stays"],
        "referral-services": world["services"],
    }[kind]
    target = pool.get(obj)
    object_id = target.pk if target is not None else uuid.uuid4()
    url = op.path.replace("{id}", str(object_id))
    if op.method == "get":
        return api.get(url)
    headers = {}
    if op.method == "patch":
        headers["HTTP_IF_MATCH"] = f'"{object_id}-v{target.version if target else 1}"'
    return getattr(api, op.method)(
        url, json.dumps(_body(op, world, obj)), content_type="application/json", **headers
    )


@pytest.mark.parametrize(("op", "scope", "obj", "status"), CASES)
def test_referrals_permission_matrix(
    op: Operation, scope: str, obj: str, status: int, world: Any, hospital: Any
) -> None:
    api = bearer(_token(hospital, scope))
    before = fingerprint()
    response = _call(api, op, obj, world)
    assert response.status_code == status, response.content[:400]
    if status >= 400:
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        body.pop("request_id", None)
        if status == 404:
            assert body == NOT_FOUND
        assert fingerprint() == before, "a refused request changed something"
    elif op.method == "get" and obj == "all" and op.path == "/api/v1/referrals/":
        listed = {row["id"] for row in response.json()["results"]}
        refs = world["referrals"]
        assert {str(refs["own"].pk), str(refs["shared"].pk)} <= listed
        assert str(refs["unshared"].pk) not in listed


def test_the_matrix_covers_every_operation_of_the_router() -> None:
    assert len(OPERATIONS) == 19
    assert 80 <= len(CASES) <= 120
