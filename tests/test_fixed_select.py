"""A FixedSelect gives the instances select_related would: the same values through the same
converters, with the related objects cached so that following them sends no query."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.db import models
from oauth2_provider.models import AccessToken, Application

from caretrust.api.auth import token_with_partner
from caretrust.api.models import IdempotencyRecord
from caretrust.api.services import create_partner_client
from caretrust.directory.models import AgencyKind
from caretrust.fixed_select import FixedSelect, Join
from caretrust.people.models import Person
from tests.factories import AgencyFactory, PersonFactory

pytestmark = pytest.mark.django_db


def values(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def a_token(application: Application, raw: str = "raw-token-value") -> AccessToken:
    return AccessToken.objects.create(
        application=application,
        token=raw,
        expires=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        scope="persons:read",
    )


def test_a_partner_token_loads_as_select_related_loads_it(hospital, django_assert_num_queries):
    new = create_partner_client(agency=hospital, name="Hospital EPR", scopes=["persons:read"])
    a_token(new.partner.application)
    checksum = hashlib.sha256(b"raw-token-value").hexdigest()
    expected = AccessToken.objects.select_related(
        "application__partner__agency", "application__partner__service_user"
    ).get(token_checksum=checksum)

    with django_assert_num_queries(1):
        (token,) = token_with_partner().fetch([checksum])
        partner = token.application.partner
        loaded = [token, token.application, partner, partner.agency, partner.service_user]
        assert partner.application is token.application  # both sides of the one-to-one

    wanted = [
        expected,
        expected.application,
        expected.application.partner,
        expected.application.partner.agency,
        expected.application.partner.service_user,
    ]
    assert [values(o) for o in loaded] == [values(o) for o in wanted]
    assert all(not o._state.adding and o._state.db == "default" for o in loaded)


def test_an_application_without_a_partner_has_none(hospital, django_assert_num_queries):
    app = Application.objects.create(
        name="Not a partner",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    a_token(app, "another-token")

    with django_assert_num_queries(1):
        (token,) = token_with_partner().fetch([hashlib.sha256(b"another-token").hexdigest()])
        assert getattr(token.application, "partner", None) is None
    assert token.application.pk == app.pk


def test_an_unknown_token_finds_nothing():
    assert token_with_partner().fetch([hashlib.sha256(b"nobody's").hexdigest()]) == []


def test_a_missing_foreign_key_is_none_without_a_query(django_assert_num_queries):
    practice = AgencyFactory(kind=AgencyKind.GP_PRACTICE)
    with_gp, without = PersonFactory(gp_practice=practice), PersonFactory(gp_practice=None)
    select = FixedSelect(Person, "pe", [Join("gp", via="pe", name="gp_practice")], "pe.id = %s")

    with django_assert_num_queries(2):
        (a,) = select.fetch([with_gp.pk])
        (b,) = select.fetch([without.pk])
        assert a.gp_practice is not None and b.gp_practice is None

    assert values(a) == values(Person.objects.get(pk=with_gp.pk))
    assert values(a.gp_practice) == values(practice)


def test_columns_go_through_their_converters():
    """A JSONField's text becomes its value, as the ORM's own query would make it."""
    record = IdempotencyRecord.objects.create(
        owner="client:1",
        key="k",
        method="POST",
        path="/api/v1/persons/",
        request_hash="0" * 64,
        status_code=201,
        body={"id": "x", "nested": [1, {"a": None}]},
        headers={"ETag": '"x-v1"'},
    )
    select = FixedSelect(IdempotencyRecord, "i", [], "i.id = %s")

    (loaded,) = select.fetch([record.pk])

    assert values(loaded) == values(IdempotencyRecord.objects.get(pk=record.pk))
    assert loaded.body == {"id": "x", "nested": [1, {"a": None}]}


def test_only_foreign_keys_and_one_to_ones_can_be_joined():
    select = FixedSelect(Person, "pe", [Join("f", via="pe", name="case_files")], "true")
    with pytest.raises(TypeError, match="case_files is not a foreign key"):
        select.fetch([])
