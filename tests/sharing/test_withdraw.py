"""Withdrawing consent: it stops counting on the recipient's very next request, the audit
shows the withdrawal before the refused read, and the status history is append-only."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import CaseFile, CaseFileGroupObjectPermission
from caretrust.sharing.models import SharingBasis, Status, StatusChange
from tests.sharing.conftest import events


def _withdraw(client, basis, reason="The person has withdrawn their consent."):
    data = {"reason": reason} if reason is not None else {}
    return client.post(reverse("withdraw_basis", args=[basis.pk]), data)


def test_the_recipient_loses_the_person_on_its_very_next_request_after_a_withdrawal(
    nina_client, nina, hospital, carol_client, consent_to_hospital, council_file
):
    person = council_file.person
    url = reverse("person_detail", args=[person.pk])
    before = nina_client.get(url)
    assert before.status_code == 200
    assert escape(person.full_name) in before.content.decode()

    response = _withdraw(carol_client, consent_to_hospital)
    assert response.status_code == 302
    assert response.url == url

    after = nina_client.get(url)
    assert after.status_code == 404
    assert escape(person.full_name) not in after.content.decode()
    assert person.nhs_number_display not in after.content.decode()
    assert not CaseFile.objects.visible_to(hospital).filter(pk=council_file.pk).exists()


def test_the_audit_shows_the_withdrawal_and_then_the_refused_read(
    nina_client, nina, hospital, carol_client, carol, consent_to_hospital, council_file
):
    url = reverse("person_detail", args=[council_file.person.pk])
    nina_client.get(url)
    _withdraw(carol_client, consent_to_hospital, reason="Consent withdrawn by phone.")
    nina_client.get(url)

    (withdrawn,) = events(Action.BASIS_STATUS_CHANGED)
    assert withdrawn.object_id == str(consent_to_hospital.pk)
    assert withdrawn.actor_id == carol.pk
    assert withdrawn.detail["to"] == Status.WITHDRAWN
    assert withdrawn.detail["reason"] == "Consent withdrawn by phone."
    # (A nurse's role needs no finance: each page view also audits that part left out.)
    (denied,) = [
        e for e in events(Action.ACCESS_DENIED) if e.detail["reason"] != "role_need_to_know"
    ]
    assert denied.id > withdrawn.id
    assert (denied.actor_id, denied.agency_id) == (nina.pk, hospital.pk)
    assert denied.detail["reason"] == "not_permitted"
    assert denied.detail["id"] == str(council_file.person.pk)
    assert denied.person_id == council_file.person.pk


def test_a_withdrawal_without_a_reason_is_a_form_error_and_changes_nothing(
    nina_client, carol_client, consent_to_hospital, council_file
):
    response = _withdraw(carol_client, consent_to_hospital, reason="   ")

    assert response.status_code == 400
    assert "Say why the basis is being withdrawn." in response.content.decode()
    consent_to_hospital.refresh_from_db()
    assert consent_to_hospital.status == Status.ACTIVE
    assert consent_to_hospital.history.count() == 1
    assert not AuditEvent.objects.filter(action=Action.BASIS_STATUS_CHANGED).exists()
    assert CaseFileGroupObjectPermission.objects.filter(content_object=council_file).exists()
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )


def test_a_withdrawal_with_no_reason_field_at_all_is_refused_too(carol_client, consent_to_hospital):
    response = _withdraw(carol_client, consent_to_hospital, reason=None)

    assert response.status_code == 400
    assert SharingBasis.objects.get(pk=consent_to_hospital.pk).status == Status.ACTIVE


def test_withdrawing_twice_is_an_error_and_writes_no_second_history_row(
    carol_client, consent_to_hospital
):
    assert _withdraw(carol_client, consent_to_hospital).status_code == 302

    again = _withdraw(carol_client, consent_to_hospital, reason="Withdrawn once more.")

    assert again.status_code == 400
    assert "This basis is already withdrawn." in again.content.decode()
    assert list(
        StatusChange.objects.filter(basis=consent_to_hospital).values_list("to_status", flat=True)
    ) == [Status.ACTIVE, Status.WITHDRAWN]
    assert len(events(Action.BASIS_STATUS_CHANGED)) == 1


def test_the_recipient_cannot_withdraw_the_holders_consent(
    nina_client, consent_to_hospital, council_file
):
    response = _withdraw(nina_client, consent_to_hospital)

    assert response.status_code == 403
    assert SharingBasis.objects.get(pk=consent_to_hospital.pk).status == Status.ACTIVE
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )


def test_the_history_records_who_recorded_and_who_withdrew_and_why(
    carol_client, carol, consent_to_hospital
):
    _withdraw(carol_client, consent_to_hospital, reason="Moved out of the area.")

    recorded, withdrawn = StatusChange.objects.filter(basis=consent_to_hospital).order_by("id")
    assert (recorded.from_status, recorded.to_status) == ("", Status.ACTIVE)
    assert recorded.changed_by == carol
    assert recorded.reason == "recorded"
    assert (withdrawn.from_status, withdrawn.to_status) == (Status.ACTIVE, Status.WITHDRAWN)
    assert withdrawn.changed_by == carol
    assert withdrawn.reason == "Moved out of the area."
    assert withdrawn.changed_at >= recorded.changed_at


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sharing_statuschange SET reason = 'rewritten' WHERE basis_id = %s",
        "UPDATE sharing_statuschange SET to_status = 'active' WHERE basis_id = %s",
        "DELETE FROM sharing_statuschange WHERE basis_id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_or_remove_status_history(
    carol_client, consent_to_hospital, statement
):
    _withdraw(carol_client, consent_to_hospital, reason="Moved out of the area.")

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [consent_to_hospital.pk])

    assert list(
        StatusChange.objects.filter(basis=consent_to_hospital)
        .order_by("id")
        .values_list("to_status", "reason")
    ) == [(Status.ACTIVE, "recorded"), (Status.WITHDRAWN, "Moved out of the area.")]


def test_the_orm_cannot_rewrite_status_history_either(consent_to_hospital):
    with pytest.raises(DatabaseError), transaction.atomic():
        StatusChange.objects.filter(basis=consent_to_hospital).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        StatusChange.objects.filter(basis=consent_to_hospital).delete()

    assert StatusChange.objects.get(basis=consent_to_hospital).reason == "recorded"
