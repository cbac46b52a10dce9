"""A case note fetched by its raw id is shown only when its file and its data class are
shared, and a restricted note never leaves the holding agency."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action
from caretrust.people.models import CaseNote, DataClass
from tests.sharing.conftest import events, note_in, share

NOTE_TEXT = "Blood pressure reviewed; medication changed to ramipril."
SECRET_TEXT = "Disclosed concerns about her son; do not share outside the council."


@pytest.fixture
def note(council_file, carol):
    return note_in(council_file, by=carol, text=NOTE_TEXT, data_class=DataClass.CLINICAL_NOTES)


@pytest.fixture
def restricted_note(council_file, carol):
    return note_in(
        council_file,
        by=carol,
        text=SECRET_TEXT,
        data_class=DataClass.CLINICAL_NOTES,
        restricted=True,
    )


def _get_note(client, note):
    return client.get(reverse("note_detail", args=[note.pk]))


def test_a_note_by_raw_id_is_404_without_a_share(nina_client, note):
    response = _get_note(nina_client, note)

    assert response.status_code == 404
    assert NOTE_TEXT not in response.content.decode()


def test_a_note_is_shown_once_its_data_class_is_shared(
    nina_client, note, council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES),
    )

    response = _get_note(nina_client, note)

    assert response.status_code == 200
    assert escape(NOTE_TEXT) in response.content.decode()
    assert events(Action.NOTE_VIEWED)[0].object_id == str(note.pk)


def test_a_note_stays_hidden_when_only_demographics_are_shared(
    nina_client, note, consent_to_hospital, council_file
):
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )

    response = _get_note(nina_client, note)

    assert response.status_code == 404
    assert NOTE_TEXT not in response.content.decode()
    assert events(Action.ACCESS_DENIED)[-1].detail["reason"] == "not_permitted"


def test_sharing_one_class_does_not_show_a_note_of_another_class(
    nina_client, council_file, council, hospital, carol
):
    finance = note_in(
        council_file, by=carol, text="Charging assessment: full cost.", data_class=DataClass.FINANCE
    )
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES),
    )

    assert _get_note(nina_client, finance).status_code == 404
    assert list(CaseNote.objects.visible_to(hospital)) == []


def test_a_restricted_note_is_hidden_from_the_recipient_even_with_clinical_notes_shared(
    nina_client, carol_client, restricted_note, note, council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES),
    )

    hidden = _get_note(nina_client, restricted_note)
    shown = _get_note(carol_client, restricted_note)

    assert hidden.status_code == 404
    assert escape(SECRET_TEXT) not in hidden.content.decode()
    assert shown.status_code == 200
    assert escape(SECRET_TEXT) in shown.content.decode()
    assert set(CaseNote.objects.visible_to(hospital)) == {note}
    assert set(CaseNote.objects.visible_to(council)) == {note, restricted_note}


def test_the_person_page_leaves_out_the_restricted_note_but_shows_the_shared_one(
    nina_client, carol_client, restricted_note, note, council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES),
    )
    url = reverse("person_detail", args=[council_file.person.pk])

    ninas = nina_client.get(url).content.decode()
    carols = carol_client.get(url).content.decode()

    assert escape(NOTE_TEXT) in ninas
    assert escape(SECRET_TEXT)[:60] not in ninas
    assert reverse("note_detail", args=[restricted_note.pk]) not in ninas
    assert reverse("note_detail", args=[restricted_note.pk]) in carols
    viewed = events(Action.PERSON_VIEWED, detail__purpose="integrated_view")
    assert str(restricted_note.pk) not in viewed[0].detail["notes"]
    assert str(note.pk) in viewed[0].detail["notes"]


def test_the_person_page_shows_no_notes_of_a_class_not_shared(
    nina_client, note, consent_to_hospital, council_file
):
    page = nina_client.get(reverse("person_detail", args=[council_file.person.pk])).content.decode()

    assert escape(NOTE_TEXT)[:60] not in page
    assert reverse("note_detail", args=[note.pk]) not in page
