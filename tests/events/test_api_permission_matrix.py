"""The webhook endpoints: every operation x every token scope x every kind of object,
generated from the events router.

- a token without the scope the operation needs: 403, whatever the object;
- another client's subscription or delivery (of the same agency or another), or one that
  does not exist: 404, with the same body;
- otherwise 2xx (201 for a create, 204 for a delete).

The acting client is the hospital's EPR. Its world: its own subscription with a delivery; a
second hospital client's; the council client's. Refused writes change nothing.
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
from caretrust.events import webhooks
from caretrust.events.models import WebhookDelivery, WebhookSubscription
from caretrust.events.urls import router
from tests.api.conftest import bearer, make_partner
from tests.api.matrix import Operation, operations_of
from tests.events.conftest import announce

RESOURCE_OF_PREFIX = {"webhook-subscriptions": "webhooks", "webhook-deliveries": "webhooks"}
NO_SCOPE = "(none)"
TOKEN_SCOPES = [sc for sc in SCOPES if sc.startswith("webhooks:")] + [NO_SCOPE]
OBJECTS = ["own", "same_agency_client", "other_agency", "nonexistent"]

OPERATIONS = operations_of(router, RESOURCE_OF_PREFIX)


def expected_status(op: Operation, scope: str, obj: str) -> int:
    if scope != op.needs:
        return 403
    if obj not in ("own", "all"):
        return 404
    if op.method == "post" and not op.detail:
        return 201
    if op.method == "delete":
        return 204
    return 200


CASES = [
    pytest.param(op, scope, obj, expected_status(op, scope, obj), id=f"{op}|{scope}|{obj}")
    for op in OPERATIONS
    for scope, obj in itertools.product(TOKEN_SCOPES, OBJECTS if op.detail else ["all"])
]

NOT_FOUND = {
    "type": "https://caretrust.example/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "Not found.",
}


@dataclass
class World:
    acting: Any  # tests.api.conftest.Partner
    subscriptions: dict[str, WebhookSubscription]
    deliveries: dict[str, WebhookDelivery]

    def fingerprint(self) -> tuple[Any, ...]:
        return (
            sorted(WebhookSubscription.objects.values_list("pk", "version", "secret", "url")),
            sorted(WebhookDelivery.objects.values_list("pk", "status", "tries", "next_attempt_at")),
        )


@pytest.fixture
def world(hospital, council) -> World:
    acting = make_partner(hospital, name="Hospital EPR")
    clients = {
        "own": acting.partner,
        "same_agency_client": make_partner(hospital, name="Hospital pharmacy").partner,
        "other_agency": make_partner(council, name="Council case system").partner,
    }
    subscriptions = {
        kind: webhooks.create_subscription(
            client=client, url=f"https://{kind.replace('_', '-')}.example/hook", event_types=["*"]
        ).subscription
        for kind, client in clients.items()
    }
    announce("test.happened", "a1", agencies=[hospital, council])
    deliveries = {d.subscription_id: d for d in WebhookDelivery.objects.all()}
    return World(
        acting=acting,
        subscriptions=subscriptions,
        deliveries={kind: deliveries[sub.pk] for kind, sub in subscriptions.items()},
    )


def _token(world: World, scope: str) -> str:
    if scope != NO_SCOPE:
        return world.acting.token_with(scope)
    token = world.acting.token_with("webhooks:read")
    AccessToken.objects.filter(application=world.acting.partner.application).update(scope="")
    return token


def _call(api: Any, op: Operation, obj: str, world: World) -> Any:
    target: Any = None
    if op.detail and obj != "nonexistent":
        source = world.deliveries if "deliveries" in op.path else world.subscriptions
        target = source[obj]
    object_id = target.pk if target is not None else uuid.uuid4()
    url = op.path.replace("{id}", str(object_id))
    headers: dict[str, str] = {}
    body: Any = {}
    if op.method == "patch":
        version = target.version if target is not None else 1
        headers["HTTP_IF_MATCH"] = f'"{object_id}-v{version}"'
        body = {"description": "Changed"}
    elif op.method == "post" and not op.detail:
        body = {"url": "https://new.example/hook", "event_types": ["test.*"]}
    elif op.method in ("get", "delete"):
        return getattr(api, op.method)(url)
    return getattr(api, op.method)(
        url, json.dumps(body), content_type="application/json", **headers
    )


@pytest.mark.parametrize(("op", "scope", "obj", "status"), CASES)
def test_permission_matrix(op, scope, obj, status, world):
    api = bearer(_token(world, scope))
    before = world.fingerprint()

    response = _call(api, op, obj, world)

    assert response.status_code == status, response.content[:300]
    if status >= 400:
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body.pop("request_id") == response["X-Request-ID"]
        if status == 404:
            assert body == NOT_FOUND
        else:
            assert "scope" in body["detail"]
        assert world.fingerprint() == before, "a refused request changed something"
    elif obj == "all" and op.method == "get":
        listed = {row["id"] for row in response.json()["results"]}
        source = world.deliveries if "deliveries" in op.path else world.subscriptions
        assert listed == {str(source["own"].pk)}


def test_a_staff_session_is_refused(world, nina):
    from tests.conftest import signed_in

    client = signed_in(nina)  # of the hospital, her one agency

    for op in OPERATIONS:
        if op.method != "get":
            continue
        url = op.path.replace("{id}", str(world.subscriptions["own"].pk))
        response = client.get(url)
        assert response.status_code == 403, (str(op), response.content[:200])
        assert "partner clients" in response.json()["detail"]
