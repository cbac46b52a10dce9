"""A read that writes its own audit row (audit.along_with): the person point check finds the
person and accounts for the sight in one statement, and writes nothing when it finds no one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from caretrust.audit.models import Action, AuditEvent
from caretrust.audit.services import verify_chain
from caretrust.people.selectors import get_visible_person, record_person_viewed


def test_a_visible_person_and_the_sight_of_them_are_one_statement(council, carol, council_file):
    person_id = council_file.person_id
    with CaptureQueriesContext(connection) as captured:
        person = get_visible_person(
            user=carol, agency=council, person_id=str(person_id), purpose="api"
        )

    assert person.pk == person_id
    assert len(captured) == 1
    assert "INSERT INTO audit_auditevent" in captured[0]["sql"]
    row = AuditEvent.objects.get(action=Action.PERSON_VIEWED)
    assert (row.actor_id, row.agency_id, row.person_id) == (carol.pk, council.pk, person_id)
    assert (row.object_type, row.object_id) == ("people.Person", str(person_id))
    assert row.detail == {"purpose": "api"}
    assert list(verify_chain()) == []


def test_the_row_it_writes_is_the_row_record_writes(council, carol, council_file):
    """Same columns as record_person_viewed's row for the same sight, and both on the chain."""
    person = get_visible_person(user=carol, agency=council, person_id=council_file.person_id)
    record_person_viewed(user=carol, agency=council, person=person, purpose="view")
    along, recorded = AuditEvent.objects.filter(action=Action.PERSON_VIEWED).order_by("id")
    columns = ["action", "actor_id", "actor_username", "agency_id", "object_type", "object_id"]
    columns += ["person_id", "request_id", "detail", "chain"]
    assert [getattr(along, c) for c in columns] == [getattr(recorded, c) for c in columns]
    assert recorded.prev_hash == along.hash
    assert list(verify_chain()) == []


def test_a_person_it_does_not_find_is_no_sight_only_a_denial(oscar, outsider_agency, council_file):
    with pytest.raises(Http404):
        get_visible_person(user=oscar, agency=outsider_agency, person_id=council_file.person_id)

    assert not AuditEvent.objects.filter(action=Action.PERSON_VIEWED).exists()
    denial = AuditEvent.objects.get(action=Action.ACCESS_DENIED)
    assert denial.detail["reason"] == "not_permitted"
    assert list(verify_chain()) == []


def test_without_audit_view_the_point_check_writes_nothing(council, carol, council_file):
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as captured:
        get_visible_person(
            user=carol, agency=council, person_id=council_file.person_id, audit_view=False
        )
    assert "audit_auditevent" not in captured[0]["sql"]
    assert AuditEvent.objects.count() == before
