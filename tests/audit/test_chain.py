"""The audit trail is append-only in the database and hash-chained, so a row altered or
removed by someone who bypasses the database's refusal is detected."""

from io import StringIO
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from caretrust.audit import services as audit
from caretrust.audit.models import Action, AuditEvent
from caretrust.audit.services import GENESIS, verify_chain


@pytest.fixture
def trail(db):
    """Five events, chained."""
    return [audit.record(Action.LOGIN_FAILED, detail={"username": f"user{n}"}) for n in range(5)]


def _sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _as_table_owner_bypassing_triggers(statement, params=None):
    _sql("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    _sql(statement, params)
    _sql("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def test_each_row_links_to_the_hash_of_the_row_before(trail):
    rows = list(AuditEvent.objects.order_by("id"))

    assert rows[0].prev_hash == GENESIS
    for before, after in pairwise(rows):
        assert after.prev_hash == before.hash
    assert len({row.hash for row in rows}) == len(rows)


def test_an_intact_trail_verifies(trail):
    assert list(verify_chain()) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET detail = '{}'::jsonb",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_rows(trail, statement):
    with (
        pytest.raises(DatabaseError, match="audit_auditevent is append-only"),
        transaction.atomic(),
    ):
        _sql(statement)

    assert AuditEvent.objects.count() == len(trail)
    assert list(verify_chain()) == []


def test_the_orm_cannot_change_or_delete_audit_rows_either(trail):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[0].pk).update(actor_username="someone")
    with pytest.raises(DatabaseError), transaction.atomic():
        trail[0].delete()

    assert AuditEvent.objects.get(pk=trail[0].pk).actor_username == ""


def test_a_row_altered_behind_the_triggers_is_reported_as_altered(trail):
    middle = trail[2]
    _as_table_owner_bypassing_triggers(
        "UPDATE audit_auditevent SET detail = %s::jsonb WHERE id = %s",
        ['{"username": "someone-else"}', middle.pk],
    )

    breaks = list(verify_chain())

    assert [b.event_id for b in breaks] == [middle.pk]
    assert "altered" in breaks[0].problem


def test_a_row_deleted_behind_the_triggers_breaks_the_link_of_the_next(trail):
    _as_table_owner_bypassing_triggers("DELETE FROM audit_auditevent WHERE id = %s", [trail[2].pk])

    breaks = list(verify_chain())

    assert [b.event_id for b in breaks] == [trail[3].pk]
    assert "broken" in breaks[0].problem


def test_a_rehashed_row_still_breaks_the_link_of_the_next(trail):
    # A tamperer who recomputes the altered row's own hash still breaks the following link.
    middle = trail[2]
    middle.detail = {"username": "someone-else"}
    new_hash = audit._digest(middle.prev_hash, audit._chained_fields(middle))
    _as_table_owner_bypassing_triggers(
        "UPDATE audit_auditevent SET detail = %s::jsonb, hash = %s WHERE id = %s",
        ['{"username": "someone-else"}', new_hash, middle.pk],
    )

    assert [b.event_id for b in verify_chain()] == [trail[3].pk]


def test_verify_audit_reports_an_intact_trail(trail):
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert f"Audit trail intact: {len(trail)} events verified." in out.getvalue()


def test_verify_audit_fails_on_a_tampered_trail_and_names_the_row(trail):
    _as_table_owner_bypassing_triggers("DELETE FROM audit_auditevent WHERE id = %s", [trail[1].pk])
    err = StringIO()

    with pytest.raises(CommandError, match="tampered with"):
        call_command("verify_audit", stdout=StringIO(), stderr=err)

    assert f"audit event #{trail[2].pk}" in err.getvalue()


def test_the_hash_postgresql_computes_is_the_one_python_recomputes(db):
    """record() has PostgreSQL hash the row (splicing the id it draws into the canonical JSON);
    verify_chain recomputes every hash in Python. Awkward details must not tell them apart:
    an "id" key of their own, nesting, non-ASCII text, quotes, a NUL (stored as U+FFFD)."""
    awkward = [
        {"id": None, "nested": {"id": 7, "list": [1, "two", None]}},
        {"name": "Siân O'Connor-Ďurić", "quote": 'say "id":1,', "emoji": "\U0001f3e5"},
        {"nul": "a\x00b", "empty": {}, "zero": 0, "float": 1.5, "flag": False},
    ]
    events = [audit.record(Action.PERSON_SEARCHED, detail=detail) for detail in awkward]

    assert list(verify_chain()) == []
    stored = {e.pk: e for e in AuditEvent.objects.all()}
    for event in events:
        assert stored[event.pk].hash == event.hash
        assert stored[event.pk].prev_hash == event.prev_hash
    assert stored[events[2].pk].detail["nul"] == "a\ufffdb"


def test_the_database_refuses_a_second_row_after_the_same_row(trail):
    """A writer that skipped the chain lock would chain onto a row another row already follows:
    the fork is refused, not left for verify_audit to find."""
    last = trail[-1]
    fork = AuditEvent(
        occurred_at=last.occurred_at,
        action=Action.LOGIN_FAILED,
        prev_hash=trail[-2].hash,
        hash="f" * 64,
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save(force_insert=True)
