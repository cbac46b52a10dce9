"""The budgets API's permission matrix, generated from its router: every operation x every
token scope x every kind of fund.

The acting client is the council's. Its world: a fund the council hosts (``own``), a fund
the hospital hosts with the council as a partner (``shared``: readable, not writable), a fund
of others (``unshared``) and one that does not exist. The rules:

- a token without the scope the operation needs: 403, whatever the object;
- an unshared or nonexistent fund (or anything in one): 404, the same body;
- a write in a shared fund: 403 (only the host posts);
- otherwise 2xx (201 for a journal or reversal, 202 for a care package event).

Refused requests change nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from oauth2_provider.models import AccessToken

from budgets import services
from budgets.models import AccountKind, Commitment, Journal
from budgets.urls import router
from caretrust.api.models import SCOPES
from caretrust.api.services import create_partner_client
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.events.models import OutboxEvent
from tests.api.conftest import bearer, obtain_token
from tests.api.matrix import Operation, operations_of
from tests.budgets.conftest import make_pool
from tests.factories import CaseFileFactory, UserFactory

RESOURCE_OF_PREFIX = dict.fromkeys(
    ["funds", "budget-accounts", "journals", "commitments", "care-package-events"], "budgets"
)
NO_SCOPE = "(none)"
TOKEN_SCOPES = [sc for sc in SCOPES if sc.startswith("budgets:")] + [NO_SCOPE]
OBJECTS = ["own", "shared", "unshared", "nonexistent"]

OPERATIONS = operations_of(
    router,
    RESOURCE_OF_PREFIX,
    on_person=lambda prefix, route, writes: writes and not route.detail and prefix == "journals",
)


def _objects_for(op: Operation) -> list[str]:
    return OBJECTS if op.detail or op.on_person else ["all"]


def expected_status(op: Operation, scope: str, obj: str) -> int:
    if scope != op.needs:
        return 403
    if obj in ("unshared", "nonexistent"):
        return 404
    if op.writes and obj == "shared":
        return 403
    if op.method == "post":
        return 202 if "care-package-events" in op.path else 201
    return 200


CASES = [
    pytest.param(op, scope, obj, expected_status(op, scope, obj), id=f"{op}|{scope}|{obj}")
    for op in OPERATIONS
    for scope, obj in itertools.product(TOKEN_SCOPES, _objects_for(op))
]


@pytest.fixture(autouse=True)
def _cheap_secrets_and_fresh_limits(settings: Any) -> Any:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@dataclass
class World:
    pools: dict[str, Any]
    journals: dict[str, Journal]
    commitments: dict[str, Commitment]
    case_file: Any

    def fingerprint(self) -> tuple[int, int, int]:
        return Journal.objects.count(), Commitment.objects.count(), OutboxEvent.objects.count()


def _manager(agency: Any) -> Any:
    user = UserFactory()
    directory.add_membership(user=user, agency=agency, role=Role.POOL_MANAGER)
    return user


@pytest.fixture
def world(council, hospital, outsider_agency, carol) -> World:
    pools = {
        "own": make_pool(council, hospital, _manager(council), slug="own"),
        "shared": make_pool(hospital, council, _manager(hospital), slug="shared"),
        "unshared": make_pool(outsider_agency, hospital, _manager(outsider_agency), slug="un"),
    }
    journals, commitments = {}, {}
    for name, pool in pools.items():
        journals[name] = services.record_expenditure(
            line=pool.home_care, amount_pence=1_000, on=dt.date(2026, 4, 10)
        )
        commitments[name] = Commitment.objects.create(
            fund=pool.fund,
            line=pool.home_care,
            year=2026,
            care_plan_id=uuid.uuid4(),
            service_id="s",
            case_file_id=uuid.uuid4(),
            version=1,
            weekly_cost_pence=100,
            starts_on=dt.date(2026, 4, 1),
            total_pence=0,
        )
    return World(pools, journals, commitments, CaseFileFactory(agency=council, lead_worker=carol))


def _token(council: Any, scope: str) -> str:
    new = create_partner_client(agency=council, name="Council ledger", scopes=list(SCOPES))
    if scope != NO_SCOPE:
        return obtain_token(new.client_id, new.client_secret, scope)
    token = obtain_token(new.client_id, new.client_secret, "budgets:read")
    AccessToken.objects.filter(application=new.partner.application).update(scope="")
    return token


def _object_id(op: Operation, obj: str, world: World) -> Any:
    if obj == "nonexistent":
        return 987_654_321
    pool = world.pools[obj]
    kind = op.path.split("/")[3]
    return {
        "funds": pool.fund.pk,
        "budget-accounts": services.account(pool.fund, AccountKind.CASH).pk,
        "journals": world.journals[obj].pk,
        "commitments": world.commitments[obj].pk,
    }[kind]


def _journal_body(obj: str, world: World) -> dict[str, Any]:
    if obj == "nonexistent":
        fund_id, cash, spend = 987_654_321, 1, 2
    else:
        pool = world.pools[obj]
        fund_id = pool.fund.pk
        cash = services.account(pool.fund, AccountKind.CASH).pk
        spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care).pk
    return {
        "fund": fund_id,
        "effective_date": "2026-04-12",
        "kind": "manual",
        "postings": [
            {"account": spend, "side": "debit", "amount_pence": 250},
            {"account": cash, "side": "credit", "amount": "2.50"},
        ],
    }


def _call(api: Any, op: Operation, obj: str, world: World) -> Any:
    url = op.path
    if "{id}" in url:
        url = url.replace("{id}", str(_object_id(op, obj, world)))
    if op.method == "get":
        return api.get(url)
    if op.on_person:
        body: Any = _journal_body(obj, world)
    elif url.endswith("/reverse/"):
        body = {"effective_date": "2026-04-20"}
    else:
        cf = world.case_file
        body = {
            "type": "care_package.authorised",
            "payload": {
                "care_plan_id": str(uuid.uuid4()),
                "version": 1,
                "case_file_id": str(cf.pk),
                "person_id": str(cf.person_id),
                "agency_id": cf.agency_id,
                "authorised_by": 1,
                "authorised_on": "2026-05-01",
                "weekly_cost_pence": 7000,
                "services": [
                    {
                        "service_id": "h",
                        "kind": "home_care",
                        "funding": "social_care",
                        "weekly_cost_pence": 7000,
                        "start_date": "2026-05-01",
                        "end_date": None,
                    }
                ],
            },
        }
    return getattr(api, op.method)(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("op", "scope", "obj", "status"), CASES)
def test_budgets_permission_matrix(op, scope, obj, status, world, council):
    api = bearer(_token(council, scope))
    before = world.fingerprint()

    response = _call(api, op, obj, world)

    assert response.status_code == status, response.content[:400]
    if status >= 400:
        assert response["Content-Type"] == "application/problem+json"
        if status == 404:
            assert response.json()["detail"] == "Not found."
        assert world.fingerprint() == before, "a refused request changed something"
    elif obj == "all" and op.method == "get":
        listed = {row["fund"] if "fund" in row else row["id"] for row in response.json()["results"]}
        assert world.pools["own"].fund.pk in listed
        assert world.pools["shared"].fund.pk in listed
        assert world.pools["unshared"].fund.pk not in listed


def test_the_matrix_covers_every_budgets_operation():
    assert {str(op) for op in OPERATIONS} >= {
        "POST /api/v1/journals/",
        "POST /api/v1/journals/{id}/reverse/",
        "GET /api/v1/funds/{id}/reconciliation/",
        "POST /api/v1/care-package-events/",
    }
