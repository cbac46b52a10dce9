"""Fixtures for the partner API suite.

Partner clients are registered through ``create_partner_client`` and get their bearer tokens
from the real ``/o/token/`` endpoint (client credentials, HTTP basic client authentication),
so every test that calls the API also exercises the OAuth path a partner uses.

- ``hospital_partner`` / ``council_partner``: a client with every scope for that agency, with a
  token and an ``APIClient`` that sends it.
- ``consent`` shares a holder's file on a person with a recipient (the person's consent).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from caretrust.api.models import SCOPES, PartnerClient
from caretrust.api.services import create_partner_client
from caretrust.audit.models import AuditEvent
from tests.factories import share

ALL_SCOPES: tuple[str, ...] = tuple(SCOPES)
PROBLEM = "application/problem+json"
TOKEN_URL = "/o/token/"

# A valid person, as a partner would send it (the NHS number is in the 999 test range).
PERSON_BODY: dict[str, Any] = {
    "nhs_number": "999 000 0018",
    "given_name": "Margaret",
    "family_name": "Holroyd",
    "date_of_birth": "1938-04-12",
    "address_line_1": "14 Mill Lane",
    "address_line_2": "",
    "town": "Calderbridge",
    "postcode": "hx1 2ab",
}


def basic_auth(client_id: str, secret: str) -> str:
    raw = f"{client_id}:{secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def request_token(client_id: str, secret: str, scope: str | None = None) -> Any:
    """POST /o/token/ for the client credentials grant; the raw response."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return Client().post(
        TOKEN_URL, data, HTTP_AUTHORIZATION=basic_auth(client_id, secret), REMOTE_ADDR="10.0.0.1"
    )


def obtain_token(client_id: str, secret: str, scope: str | None = None) -> str:
    response = request_token(client_id, secret, scope)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@dataclass
class Partner:
    """A registered partner client, its secret (shown once), a token and a client using it."""

    partner: PartnerClient
    client_id: str
    client_secret: str
    token: str
    api: APIClient = field(repr=False)

    @property
    def agency(self) -> Any:
        return self.partner.agency

    def token_with(self, scope: str | None) -> str:
        return obtain_token(self.client_id, self.client_secret, scope)

    def api_with(self, scope: str | None) -> APIClient:
        return bearer(self.token_with(scope))


def make_partner(agency: Any, scopes: Iterable[str] = ALL_SCOPES, name: str = "") -> Partner:
    new = create_partner_client(
        agency=agency, name=name or f"{agency.slug} EPR", scopes=list(scopes)
    )
    token = obtain_token(new.client_id, new.client_secret)
    return Partner(new.partner, new.client_id, new.client_secret, token, bearer(token))


@pytest.fixture
def hospital_partner(hospital: Any) -> Partner:
    return make_partner(hospital, name="Hospital EPR")


@pytest.fixture
def council_partner(council: Any) -> Partner:
    return make_partner(council, name="Council case system")


@pytest.fixture(autouse=True)
def _cheap_client_secrets(request: pytest.FixtureRequest) -> None:
    """Nearly every test registers a client and gets a token, and Argon2 is deliberately slow
    (once to hash the secret, once to check it): hash client secrets with a fast hasher here.
    test_auth.py keeps the real one (its module sets ``REAL_SECRET_HASHING = True``)."""
    if getattr(request.module, "REAL_SECRET_HASHING", False):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Throttle counters live in the cache: start and end every test with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(hospital: Any, council: Any, nina: Any, carol: Any) -> Any:
    """The seeded world of tests/api/world.py, seen by the hospital's all-scopes client."""
    from tests.api.world import build_world

    return build_world(hospital, council, nina, carol)


consent = share  # the person's consent, recorded by ``by`` at ``holder``


def consent_body(person_id: Any, recipient_slug: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "person": str(person_id),
        "recipient_agency": recipient_slug,
        "data_classes": ["demographics"],
        "purpose": "discharge",
        "provision": "permit",
        "grantor": "person",
        "grantor_name": "Margaret Holroyd",
        "evidence": "verbal",
    }
    body.update(overrides)
    return body


def post_json(api: Any, url: str, body: Any, **headers: Any) -> Any:
    return api.post(url, json.dumps(body), content_type="application/json", **headers)


def patch_json(api: Any, url: str, body: Any, **headers: Any) -> Any:
    return api.patch(url, json.dumps(body), content_type="application/json", **headers)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an application/problem+json document with the given status."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["type"].startswith("https://caretrust.example/problems/")
    assert body["title"] and body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


def audit_rows_for(response: Any) -> list[AuditEvent]:
    """The audit rows written while serving this response (matched by its request id)."""
    return list(AuditEvent.objects.filter(request_id=response["X-Request-ID"]).order_by("id"))
