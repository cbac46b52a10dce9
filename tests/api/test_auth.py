"""Who may call the API: partner clients with OAuth 2.0 client credentials, and signed-in
staff with their session (CSRF enforced). Tokens expire; revoking a client ends them all."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from rest_framework.test import APIClient

from caretrust.api.models import PartnerClient
from caretrust.api.services import revoke_partner_client
from caretrust.audit.models import Action, AuditEvent
from caretrust.directory.middleware import SESSION_KEY
from tests.api.conftest import (
    PERSON_BODY,
    assert_problem,
    bearer,
    make_partner,
    obtain_token,
    post_json,
    request_token,
)
from tests.conftest import signed_in

PERSONS = "/api/v1/persons/"
# Client secrets hashed with the configured (Argon2) hasher, not the suite's fast one.
REAL_SECRET_HASHING = True


# --- Tokens --------------------------------------------------------------------------------


def test_a_token_from_the_token_endpoint_opens_the_api(hospital_partner, hospital_file):
    token = obtain_token(hospital_partner.client_id, hospital_partner.client_secret)

    response = bearer(token).get(PERSONS)

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(hospital_file.person.pk)]
    stored = AccessToken.objects.filter(application=hospital_partner.partner.application)
    assert stored.count() == 2  # the fixture's token and this one


def test_a_wrong_secret_is_an_invalid_client(hospital_partner):
    response = request_token(hospital_partner.client_id, "not-the-secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_an_unknown_client_is_an_invalid_client(db):
    response = request_token("no-such-client", "whatever")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_a_client_cannot_ask_for_a_scope_it_was_not_given(hospital):
    reader = make_partner(hospital, scopes=["persons:read"], name="Read only")

    response = request_token(reader.client_id, reader.client_secret, "persons:read sharing:write")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}
    assert AccessToken.objects.filter(application=reader.partner.application).count() == 1


def test_a_client_may_ask_for_fewer_scopes_than_it_has(hospital_partner):
    response = request_token(
        hospital_partner.client_id, hospital_partner.client_secret, "persons:read"
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "persons:read"
    narrow = bearer(response.json()["access_token"])
    assert narrow.get(PERSONS).status_code == 200
    assert_problem(narrow.get("/api/v1/case-files/"), 403)


def test_without_a_token_the_api_answers_401_problem(db):
    response = Client().get(PERSONS)

    body = assert_problem(response, 401)
    assert body["type"].endswith("/unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_made_up_token_answers_401_problem(db):
    assert_problem(bearer("not-a-real-token").get(PERSONS), 401)


def test_an_expired_token_answers_401_problem(hospital_partner):
    assert hospital_partner.api.get(PERSONS).status_code == 200
    AccessToken.objects.filter(application=hospital_partner.partner.application).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )

    response = hospital_partner.api.get(PERSONS)

    assert_problem(response, 401)


# --- Revocation ----------------------------------------------------------------------------


def test_revoking_a_client_ends_its_tokens_and_refuses_new_ones(hospital_partner):
    assert hospital_partner.api.get(PERSONS).status_code == 200

    revoke_partner_client(partner=hospital_partner.partner)

    assert_problem(hospital_partner.api.get(PERSONS), 401)
    refused = request_token(hospital_partner.client_id, hospital_partner.client_secret)
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid_client"}
    assert AuditEvent.objects.filter(action=Action.PARTNER_CLIENT_REVOKED).count() == 1


def test_the_revoke_command_revokes_by_client_id(hospital_partner):
    out = StringIO()

    call_command("revoke_partner_client", hospital_partner.client_id, stdout=out)

    assert "Revoked Hospital EPR" in out.getvalue()
    assert PartnerClient.objects.get(pk=hospital_partner.partner.pk).revoked_at is not None
    assert_problem(hospital_partner.api.get(PERSONS), 401)
    refused = request_token(hospital_partner.client_id, hospital_partner.client_secret)
    assert refused.status_code == 401


def test_the_revoke_command_names_an_unknown_client_id(db):
    with pytest.raises(CommandError, match="No partner client has the client id 'nope'"):
        call_command("revoke_partner_client", "nope")


def test_a_token_that_outlives_its_revoked_client_is_refused(hospital_partner):
    """Even if a token row survived revocation, the client's revoked flag refuses it."""
    PartnerClient.objects.filter(pk=hospital_partner.partner.pk).update(revoked_at=timezone.now())

    body = assert_problem(hospital_partner.api.get(PERSONS), 401)

    assert "revoked" in body["detail"]


# --- The management command ----------------------------------------------------------------


def test_the_create_command_prints_the_secret_once_and_stores_only_its_hash(hospital):
    out = StringIO()

    call_command(
        "create_partner_client",
        "hospital",
        "Ward system",
        "--scopes",
        "persons:read",
        "sharing:read",
        stdout=out,
    )

    text = out.getvalue()
    client_id = re.search(r"^client_id:\s+(\S+)$", text, re.M).group(1)
    secret = re.search(r"^client_secret:\s+(\S+)$", text, re.M).group(1)
    assert text.count(secret) == 1
    assert "not shown again" in text
    application = Application.objects.get(client_id=client_id)
    assert application.client_secret != secret
    assert secret not in application.client_secret
    assert check_password(secret, application.client_secret)
    assert application.partner.scopes == ["persons:read", "sharing:read"]
    assert application.partner.agency == hospital
    # What was printed works.
    token = obtain_token(client_id, secret)
    assert bearer(token).get(PERSONS).status_code == 200


def test_the_create_command_names_a_bad_agency_slug(hospital):
    with pytest.raises(CommandError) as raised:
        call_command("create_partner_client", "no-such-agency", "Ward system", stdout=StringIO())

    assert str(raised.value) == "No agency has the slug 'no-such-agency'. Known: hospital."
    assert not Application.objects.exists()


# --- Browser sessions ----------------------------------------------------------------------


def test_a_signed_in_member_of_staff_can_use_the_api_for_their_agency(carol, council_file):
    response = signed_in(carol).get(PERSONS)

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(council_file.person.pk)]
    (event,) = AuditEvent.objects.filter(action=Action.PERSON_SEARCHED)
    assert event.actor_id == carol.pk


def test_staff_with_two_agencies_must_choose_one_first(dual, council, council_file):
    session_client = signed_in(dual)

    body = assert_problem(session_client.get(PERSONS), 403)
    assert "Choose the agency" in body["detail"]

    session = session_client.session
    session[SESSION_KEY] = council.pk
    session.save()
    assert session_client.get(PERSONS).status_code == 200


def test_a_session_post_without_a_csrf_token_is_refused(carol):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(carol, backend="django.contrib.auth.backends.ModelBackend")

    response = post_json(browser, PERSONS, PERSON_BODY)

    body = assert_problem(response, 403)
    assert "CSRF" in body["detail"]
    assert not PartnerClient.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.PERSON_CREATED).exists()


def test_a_session_post_with_its_csrf_token_is_accepted(carol):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(carol, backend="django.contrib.auth.backends.ModelBackend")
    browser.get("/people/new/")  # any page with a form sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value

    response = post_json(browser, PERSONS, PERSON_BODY, HTTP_X_CSRFTOKEN=csrf)

    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(action=Action.PERSON_CREATED)
    assert event.actor_id == carol.pk


def test_a_bearer_post_needs_no_csrf_token(hospital):
    partner = make_partner(hospital, name="EPR")
    api = APIClient(enforce_csrf_checks=True)  # no cookies, no CSRF token: a bearer only
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {partner.token}")

    response = post_json(api, PERSONS, PERSON_BODY)

    assert response.status_code == 201
