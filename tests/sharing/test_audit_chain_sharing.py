"""The sharing actions' audit rows are part of the hash chain: rewriting or removing one,
even as the table's owner with the triggers switched off, is detected by verify_audit."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import DataClass
from caretrust.sharing import services as sharing
from tests.sharing.conftest import events, refuse, share


@pytest.fixture
def sharing_history(council_file, council, hospital, carol, nina, nina_client, carol_client, grace):
    """Consent, a read, a refusal, a withdrawal, a refused read, break-glass and a review."""
    person = council_file.person
    consent = share(
        person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES),
    )
    nina_client.get(reverse("person_detail", args=[person.pk]))
    refuse(person, holder=council, recipient=hospital, by=carol, classes=(DataClass.FINANCE,))
    carol_client.post(
        reverse("withdraw_basis", args=[consent.pk]), {"reason": "Consent withdrawn."}
    )
    nina_client.get(reverse("person_detail", args=[person.pk]))
    (glass,) = sharing.break_glass(
        person=person, user=nina, acting_agency=hospital, reason="Collapsed; no history known."
    )
    sharing.review_break_glass(
        review=glass.review, outcome="appropriate", notes="Justified.", by=grace
    )
    call_command("verify_audit", stdout=StringIO())  # intact so far
    return person


def _bypassing_triggers(statement, params):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(statement, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def _verify():
    err = StringIO()
    with pytest.raises(CommandError, match="tampered with") as caught:
        call_command("verify_audit", stdout=StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def test_the_sharing_actions_are_all_in_the_trail(sharing_history):
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        Action.BASIS_RECORDED,
        Action.PERMISSIONS_CHANGED,
        Action.PERSON_VIEWED,
        Action.BASIS_STATUS_CHANGED,
        Action.ACCESS_DENIED,
        Action.BREAK_GLASS_STARTED,
        Action.BREAK_GLASS_REVIEWED,
    } <= actions


def test_a_withdrawal_reworded_behind_the_triggers_is_detected(sharing_history):
    (withdrawal,) = events(Action.BASIS_STATUS_CHANGED)
    _bypassing_triggers(
        "UPDATE audit_auditevent SET detail = jsonb_set(detail, '{reason}', %s) WHERE id = %s",
        ['"Never consented."', withdrawal.pk],
    )

    _, err = _verify()

    assert f"audit event #{withdrawal.pk}:" in err
    assert "altered" in err


def test_a_refused_read_reattributed_behind_the_triggers_is_detected(sharing_history, carol):
    denied = events(Action.ACCESS_DENIED)[0]
    _bypassing_triggers(
        "UPDATE audit_auditevent SET actor_id = %s, actor_username = 'carol' WHERE id = %s",
        [carol.pk, denied.pk],
    )

    _, err = _verify()

    assert f"audit event #{denied.pk}:" in err


def test_a_deleted_break_glass_row_is_detected_at_the_row_after_it(sharing_history):
    (started,) = events(Action.BREAK_GLASS_STARTED)
    following = AuditEvent.objects.filter(id__gt=started.pk).order_by("id").first()
    _bypassing_triggers("DELETE FROM audit_auditevent WHERE id = %s", [started.pk])

    message, err = _verify()

    assert f"audit event #{following.pk}:" in err
    assert "broken" in err
    assert "1 problem" in message
    assert not AuditEvent.objects.filter(pk=started.pk).exists()
