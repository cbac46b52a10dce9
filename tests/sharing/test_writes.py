"""Writes name their target in the URL or the body, and are checked like any read: a file or
person the agency cannot see answers 404, one it may only read answers 403, and nothing is
written either way."""

import pytest
from django.urls import reverse

from caretrust.audit.models import Action
from caretrust.people.models import CaseNote, DataClass
from caretrust.sharing.models import SharingBasis
from tests.sharing.conftest import events, share

CONSENT = {
    "data_classes": [DataClass.DEMOGRAPHICS],
    "purpose": "direct_care",
    "provision": "permit",
    "grantor": "person",
    "grantor_name": "Edna Ackroyd",
    "evidence": "verbal",
}


def _write_note(client, case_file, text="Visited; no concerns."):
    return client.post(
        reverse("note_create"),
        {"case_file": str(case_file.pk), "data_class": DataClass.CLINICAL_NOTES, "text": text},
    )


def _record_consent(client, person, recipient, **overrides):
    return client.post(
        reverse("record_basis", args=[person.pk, "consent"]),
        {**CONSENT, "recipient_agency": recipient.pk, **overrides},
    )


def test_a_note_in_an_unshared_file_answers_404_and_writes_nothing(nina_client, council_file):
    response = _write_note(nina_client, council_file, text="Written into the council's file.")

    assert response.status_code == 404
    assert CaseNote.objects.count() == 0
    (denied,) = events(Action.ACCESS_DENIED)
    assert (denied.detail["object"], denied.detail["reason"]) == ("case_file", "not_permitted")


def test_a_note_in_a_file_shared_for_reading_answers_403_and_writes_nothing(
    nina_client, council_file, consent_to_hospital
):
    response = _write_note(nina_client, council_file, text="Written into the council's file.")

    assert response.status_code == 403
    assert CaseNote.objects.count() == 0
    assert events(Action.ACCESS_DENIED)[-1].detail["reason"] == "read_only_share"


def test_a_note_in_a_file_shared_for_clinical_notes_is_still_read_only(
    nina_client, council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=tuple(DataClass.values),
    )

    assert _write_note(nina_client, council_file).status_code == 403
    assert CaseNote.objects.count() == 0


def test_a_note_in_the_agencys_own_file_is_written(nina_client, hospital_file, nina):
    response = _write_note(nina_client, hospital_file, text="Admitted to ward 7.")

    assert response.status_code == 302
    note = CaseNote.objects.get()
    assert (note.case_file, note.author, note.text) == (hospital_file, nina, "Admitted to ward 7.")


def test_a_request_naming_another_agencys_file_in_its_body_is_refused_whatever_the_page(
    nina_client, council_file, hospital_file
):
    # The note form on nina's own person page carries her file's id; she swaps in another's.
    page = nina_client.get(reverse("person_detail", args=[hospital_file.person.pk]))
    assert str(hospital_file.pk) in page.content.decode()

    response = nina_client.post(
        reverse("note_create"),
        {
            "case_file": str(council_file.pk),
            "data_class": DataClass.CLINICAL_NOTES,
            "text": "Swapped the hidden field.",
        },
    )

    assert response.status_code == 404
    assert not CaseNote.objects.filter(case_file=council_file).exists()


def test_consent_for_a_person_the_hospital_cannot_see_answers_404(
    nina_client, council_file, council
):
    response = _record_consent(nina_client, council_file.person, council)

    assert response.status_code == 404
    assert SharingBasis.objects.count() == 0


def test_consent_for_a_person_seen_only_through_a_share_answers_403(
    nina_client, council_file, council, consent_to_hospital, outsider_agency
):
    response = _record_consent(nina_client, council_file.person, outsider_agency)

    assert response.status_code == 403
    assert list(SharingBasis.objects.all()) == [consent_to_hospital]


@pytest.mark.parametrize("kind", ["consent", "best-interests", "legal-duty"])
def test_no_kind_of_basis_can_be_recorded_on_a_file_the_hospital_does_not_hold(
    nina_client, council_file, consent_to_hospital, outsider_agency, kind
):
    get = nina_client.get(reverse("record_basis", args=[council_file.person.pk, kind]))
    post = nina_client.post(
        reverse("record_basis", args=[council_file.person.pk, kind]),
        {**CONSENT, "recipient_agency": outsider_agency.pk, "statutory_reason": "Care Act s.42"},
    )

    assert (get.status_code, post.status_code) == (403, 403)
    assert SharingBasis.objects.count() == 1


def test_sharing_with_your_own_agency_is_a_form_error(carol_client, council_file, council):
    response = _record_consent(carol_client, council_file.person, council)

    assert response.status_code == 400
    assert "Choose one of the agencies listed." in response.content.decode()
    assert SharingBasis.objects.count() == 0


def test_the_holder_records_consent_through_the_form(
    carol_client, council_file, hospital, nina_client
):
    response = _record_consent(carol_client, council_file.person, hospital)

    assert response.status_code == 302
    assert SharingBasis.objects.get().recipient_agency == hospital
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )


@pytest.fixture
def fiona_client(council):
    from caretrust.directory.models import Role
    from tests.conftest import _staff, signed_in

    return signed_in(_staff("fiona", council, Role.FINANCE_OFFICER))


def test_a_role_cannot_write_a_note_of_a_kind_it_may_not_read(fiona_client, council_file):
    """Need to know holds for writing too: a finance officer reads demographics and finance,
    so it is not offered a clinical note, and one posted anyway is a form error."""
    page = fiona_client.get(reverse("person_detail", args=[council_file.person_id]))
    form = page.context["note_form"]
    assert DataClass.CLINICAL_NOTES not in dict(form.fields["data_class"].choices)
    assert "restricted" not in form.fields  # finance reads no restricted items

    response = _write_note(fiona_client, council_file, text="Seems confused today.")
    assert response.status_code == 400
    assert CaseNote.objects.count() == 0


def test_the_service_refuses_it_too_and_audits_the_refusal(council, council_file):
    from django.core.exceptions import PermissionDenied

    from caretrust.directory.models import Role
    from caretrust.people.services import write_note
    from tests.conftest import _staff

    fiona = _staff("fiona", council, Role.FINANCE_OFFICER)
    with pytest.raises(PermissionDenied, match="access to clinical notes"):
        write_note(
            agency=council,
            by=fiona,
            case_file=council_file.pk,
            data_class=DataClass.CLINICAL_NOTES,
            text="Seems confused today.",
        )
    with pytest.raises(PermissionDenied, match="restricted items of finance"):
        write_note(
            agency=council,
            by=fiona,
            case_file=council_file.pk,
            data_class=DataClass.FINANCE,
            text="Disputes the charge.",
            restricted=True,
        )
    assert CaseNote.objects.count() == 0
    assert [e.detail["reason"] for e in events(Action.ACCESS_DENIED)] == ["role_need_to_know"] * 2
