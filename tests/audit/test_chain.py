"""The audit trail is append-only in the database and hash-chained, so a row altered or
removed by someone who bypasses the database's refusal is detected."""

from io import StringIO
from itertools import pairwise

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action, AuditChainHead, AuditEvent
from caretrust.audit.services import GENESIS, verify_chain


@pytest.fixture
def trail(db):
    """Five events, chained."""
    return [audit.record(Action.LOGIN_FAILED, detail={"username": f"user{n}"}) for n in range(5)]


def _sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _as_table_owner_bypassing_triggers(statement, params=None):
    for table in ("audit_auditevent", "audit_auditchainhead"):
        _sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    _sql(statement, params)
    for table in ("audit_auditevent", "audit_auditchainhead"):
        _sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


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
    assert f"Audit trail intact: {len(trail)} events verified, on 1 chain(s)." in out.getvalue()


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
        chain=last.chain,
        prev_hash=trail[-2].hash,
        hash="f" * 64,
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save(force_insert=True)


def test_each_chain_has_a_genesis_of_its_own(trail):
    """The no-fork rule is per chain: another chain's first row also follows the genesis."""
    other = (trail[-1].chain + 1) % settings.AUDIT_CHAINS
    assert not AuditEvent.objects.filter(chain=other).exists()

    audit_row = AuditEvent(
        occurred_at=trail[-1].occurred_at,
        action=Action.LOGIN_FAILED,
        chain=other,
        prev_hash=GENESIS,
    )
    audit_row.hash = audit._digest(GENESIS, audit._chained_fields(audit_row))
    with transaction.atomic():
        audit_row.save(force_insert=True)

    assert AuditEvent.objects.filter(prev_hash=GENESIS).count() == 2


def _append_to(chain, detail):
    """Append a row to ``chain`` as record() would, but on the chain the test says, so that
    a trail on several chains can be built on one connection."""
    head = AuditChainHead.objects.filter(chain=chain).first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id'))")
        (event_id,) = cursor.fetchone()
    event = AuditEvent(
        id=event_id,
        occurred_at=timezone.now(),
        action=Action.PERSON_VIEWED,
        chain=chain,
        detail=detail,
        prev_hash=head.hash if head else GENESIS,
    )
    event.hash = audit._digest(event.prev_hash, audit._chained_fields(event))
    event.save(force_insert=True)
    AuditChainHead.objects.update_or_create(
        chain=chain, defaults={"last_id": event.id, "hash": event.hash}
    )
    return event


@pytest.fixture
def braided(db):
    """Eight events on three chains, interleaved in id order: 0, 1, 0, 2, 1, 1, 0, 2."""
    return [_append_to(chain, {"n": n}) for n, chain in enumerate([0, 1, 0, 2, 1, 1, 0, 2])]


def test_a_chain_links_its_own_rows_from_its_own_genesis(braided):
    assert [e.chain for e in braided] == [0, 1, 0, 2, 1, 1, 0, 2]
    for chain in (0, 1, 2):
        rows = list(AuditEvent.objects.filter(chain=chain).order_by("id"))
        assert rows[0].prev_hash == GENESIS
        for before, after in pairwise(rows):
            assert after.prev_hash == before.hash
    assert list(verify_chain()) == []


def test_a_row_deleted_from_one_chain_breaks_that_chain_only(braided):
    # braided[4] is chain 1's second row; chain 1's next row is braided[5].
    _as_table_owner_bypassing_triggers(
        "DELETE FROM audit_auditevent WHERE id = %s", [braided[4].pk]
    )

    assert [b.event_id for b in verify_chain()] == [braided[5].pk]


def test_a_row_moved_to_another_chain_breaks_both(braided):
    # The chain number is not hashed, but moving a row from chain 0 to chain 2 breaks its own
    # link (it does not follow chain 2's last row), the link of chain 2's next row, and the
    # link of chain 0's next row.
    _as_table_owner_bypassing_triggers(
        "UPDATE audit_auditevent SET chain = 2 WHERE id = %s", [braided[2].pk]
    )

    assert [b.event_id for b in verify_chain()] == [braided[2].pk, braided[3].pk, braided[6].pk]


def test_a_stretch_of_the_trail_verifies_from_each_chains_head_before_it(braided):
    before = braided[3].pk
    stretch = AuditEvent.objects.filter(id__gt=before).order_by("id")
    heads = audit.chain_ends(before)

    assert heads == {0: braided[2].hash, 1: braided[1].hash, 2: braided[3].hash}
    assert list(verify_chain(stretch, heads)) == []
    # From the genesis instead, the first row of each chain in the stretch does not link.
    assert [b.event_id for b in verify_chain(stretch)] == [
        braided[4].pk,
        braided[6].pk,
        braided[7].pk,
    ]


def test_rows_removed_from_the_end_of_a_chain_are_found_by_its_head(braided):
    # No link reveals it (no row follows chain 2's last), but the head still names it.
    _as_table_owner_bypassing_triggers(
        "DELETE FROM audit_auditevent WHERE id = %s", [braided[7].pk]
    )

    breaks = list(verify_chain())

    assert [b.event_id for b in breaks] == [braided[7].pk]
    assert f"should end at this row but ends at row #{braided[3].pk}" in breaks[0].problem


def test_a_removed_head_is_found(braided):
    _as_table_owner_bypassing_triggers("DELETE FROM audit_auditchainhead WHERE chain = 1")

    breaks = list(verify_chain())

    assert [b.event_id for b in breaks] == [braided[5].pk]
    assert "no head" in breaks[0].problem


def test_a_head_moved_back_is_found(braided):
    _as_table_owner_bypassing_triggers(
        "UPDATE audit_auditchainhead SET last_id = %s, hash = %s WHERE chain = 0",
        [braided[2].pk, braided[2].hash],
    )

    assert [b.event_id for b in verify_chain()] == [braided[2].pk]


def test_the_database_refuses_to_remove_a_chain_head(braided):
    for statement in ["DELETE FROM audit_auditchainhead", "TRUNCATE audit_auditchainhead"]:
        with (
            pytest.raises(DatabaseError, match="chain heads cannot be removed"),
            transaction.atomic(),
        ):
            _sql(statement)

    assert AuditChainHead.objects.count() == 64  # as migration 0006 made them


def test_rows_written_in_one_transaction_stay_on_one_chain(db):
    with transaction.atomic():
        first = audit.record(Action.PERSON_VIEWED)
        second = audit.record(Action.PERSON_VIEWED)

    assert second.chain == first.chain
    assert second.prev_hash == first.hash


def test_the_sequence_the_trail_draws_ids_from_is_the_id_columns(db):
    """services._ID_SEQUENCE names the sequence as a constant: it must stay the identity
    sequence of audit_auditevent.id, or rows would take ids out of step with it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('audit_auditevent', 'id')")
        (sequence,) = cursor.fetchone()
    assert sequence.split(".")[-1] == audit._ID_SEQUENCE
