"""An existence probe, as a partner system would try one: every operation of the published
OpenAPI document that names an object in its path, each method, writes included, sent for a
real object the caller may not see and for an id that names nothing. The two answers must be
the same: status, body (but for the request id) and headers (but for X-Request-ID).

The real objects are those tests/api/world.py seeds for the hospital's client
(people, case files, sharing bases, referrals, hospital stays, assessments and their parts,
pooled budgets, webhook subscriptions and deliveries); the prober is a third agency's client
with every scope, which may see none of them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.api.conftest import make_partner
from tests.api.openapi import generated_document
from tests.api.world import World

DOCUMENT = generated_document()
METHODS = ("get", "put", "patch", "delete", "post")
# Not people's data, and the same for every agency: the catalogue of services one may refer to.
PUBLIC = {"/api/v1/referral-services/{id}/"}
IGNORED_HEADERS = {"X-Request-ID"}
# Writes that check their body before the object: a valid body, so the probe gets past it.
BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/sharing-bases/{id}/withdraw/": {"reason": "The person asked us to stop."},
    "/api/v1/care-plans/{id}/end/": {"ended_on": "2026-01-05"},
    "/api/v1/sections/{id}/delegate/": {
        "author": "nina",
        "author_agency": "hospital",
    },
}

OPERATIONS = sorted(
    (method, path)
    for path, item in DOCUMENT["paths"].items()
    if "{id}" in path and path not in PUBLIC
    for method in METHODS
    if method in item
)


def _request(api: Any, method: str, path: str, object_id: str) -> Any:
    url = path.replace("{id}", object_id)
    headers = {"HTTP_IF_MATCH": f'"{object_id}-v1"'}
    if method == "get":
        return api.get(url, **headers)
    body = json.dumps(BODIES.get(path, {}))
    return getattr(api, method)(url, body, content_type="application/json", **headers)


def _answer(response: Any) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in IGNORED_HEADERS}
    body: Any = response.content
    if response.content and "json" in response.get("Content-Type", ""):
        body = json.loads(response.content)
        if isinstance(body, dict):
            body.pop("request_id", None)
            body.pop("instance", None)
    return response.status_code, headers, body


def _same_form(real: str) -> str:
    """An id of the same form as ``real`` (a UUID or a number) that names nothing."""
    if real.isdigit():
        return str(int(real) + 10**9)
    return str(uuid.UUID(int=uuid.UUID(real).int ^ 0xFFFF))


def test_every_probed_path_has_a_real_object(world: World) -> None:
    """So that no operation below is probed with a made-up id only."""
    assert {path for _, path in OPERATIONS} <= set(world.ids)
    assert len(OPERATIONS) > 30


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_an_object_not_visible_answers_exactly_as_one_that_does_not_exist(
    world: World,
    outsider_agency: Any,
    method: str,
    path: str,
) -> None:
    prober = make_partner(outsider_agency, name="Third agency's system")
    real = world.ids[path][0]
    missing = _same_form(real)

    hidden = _answer(_request(prober.api, method, path, real))
    nothing = _answer(_request(prober.api, method, path, missing))

    assert hidden == nothing
    assert hidden[0] == 404, hidden  # the probe got as far as looking the object up
