"""What a basis covers: only its recipient, only its data classes; a refusal beats any permit
for its classes (before or after it, break-glass included) and nothing else; restricted notes
stay home whatever is shared."""

import pytest
from django.urls import reverse

from caretrust.people.models import CaseFile, CaseNote, DataClass, Person
from caretrust.sharing import services as sharing
from tests.sharing.conftest import note_in, refuse, share

DEMOGRAPHICS, CLINICAL, FINANCE = (
    DataClass.DEMOGRAPHICS,
    DataClass.CLINICAL_NOTES,
    DataClass.FINANCE,
)


def _visible(agency, data_class, case_file, user=None):
    return CaseFile.objects.visible_to(agency, data_class, user).filter(pk=case_file.pk).exists()


def test_consent_to_the_hospital_gives_the_outsider_nothing(
    oscar_client, outsider_agency, oscar, council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=tuple(DataClass.values),
    )
    note = note_in(council_file, by=carol, text="Seen at home.")

    assert all(_visible(hospital, dc, council_file) for dc in DataClass.values)
    assert not any(_visible(outsider_agency, dc, council_file, oscar) for dc in DataClass.values)
    assert not Person.objects.visible_to(outsider_agency, oscar).exists()
    assert not CaseNote.objects.visible_to(outsider_agency, oscar).exists()
    person_page = oscar_client.get(reverse("person_detail", args=[council_file.person.pk]))
    note_page = oscar_client.get(reverse("note_detail", args=[note.pk]))
    assert (person_page.status_code, note_page.status_code) == (404, 404)


def test_consent_one_way_does_not_share_the_recipients_own_file_back(
    council_file, hospital_file, council, hospital, carol
):
    # Same person, a file at each agency; the council shares with the hospital, not vice versa.
    hospital_file.person = council_file.person
    hospital_file.save()
    share(council_file.person, holder=council, recipient=hospital, by=carol)

    assert _visible(hospital, DEMOGRAPHICS, council_file)
    assert not _visible(council, DEMOGRAPHICS, hospital_file)


def test_consent_for_demographics_only_does_not_cover_clinical_notes(
    consent_to_hospital, council_file, hospital
):
    assert _visible(hospital, DEMOGRAPHICS, council_file)
    assert not CaseFile.objects.visible_to(hospital, CLINICAL).filter(pk=council_file.pk).exists()
    for dc in set(DataClass.values) - {DEMOGRAPHICS}:
        assert not _visible(hospital, dc, council_file), dc


def test_a_refusal_overrides_an_earlier_permit_for_its_class_only(
    council_file, council, hospital, carol
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DEMOGRAPHICS, CLINICAL),
    )
    assert _visible(hospital, CLINICAL, council_file)

    refuse(council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,))

    assert not _visible(hospital, CLINICAL, council_file)
    assert _visible(hospital, DEMOGRAPHICS, council_file)


def test_a_refusal_overrides_a_later_permit_for_its_class_only(
    council_file, council, hospital, carol
):
    refuse(council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,))

    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DEMOGRAPHICS, CLINICAL, FINANCE),
    )

    assert not _visible(hospital, CLINICAL, council_file)
    assert _visible(hospital, DEMOGRAPHICS, council_file)
    assert _visible(hospital, FINANCE, council_file)


def test_a_refusal_to_one_agency_does_not_touch_a_permit_to_another(
    council_file, council, hospital, outsider_agency, carol
):
    share(council_file.person, holder=council, recipient=outsider_agency, by=carol)

    refuse(
        council_file.person, holder=council, recipient=hospital, by=carol, classes=(DEMOGRAPHICS,)
    )

    assert _visible(outsider_agency, DEMOGRAPHICS, council_file)
    assert not _visible(hospital, DEMOGRAPHICS, council_file)


def test_withdrawing_the_refusal_lets_the_permit_count_again(
    council_file, council, hospital, carol
):
    share(council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,))
    refusal = refuse(
        council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,)
    )
    assert not _visible(hospital, CLINICAL, council_file)

    sharing.withdraw_basis(
        basis=refusal, reason="Refusal entered by mistake.", by=carol, acting_agency=council
    )

    assert _visible(hospital, CLINICAL, council_file)


def test_a_recorded_refusal_blocks_break_glass_for_its_class(
    nina_client, nina, council_file, council, hospital, carol
):
    refuse(council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,))
    note = note_in(council_file, by=carol, text="Clinical observations, refused for sharing.")

    sharing.break_glass(
        person=council_file.person,
        user=nina,
        acting_agency=hospital,
        reason="Unconscious in A&E, no history available.",
    )

    assert _visible(hospital, DEMOGRAPHICS, council_file, nina)
    assert _visible(hospital, DataClass.ASSESSMENTS, council_file, nina)
    assert not _visible(hospital, CLINICAL, council_file, nina)
    # Break-glass opens every class the refusal leaves; a nurse's role still needs no finance.
    assert not _visible(hospital, FINANCE, council_file, nina)
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )
    assert nina_client.get(reverse("note_detail", args=[note.pk])).status_code == 404


def test_a_refusal_recorded_during_break_glass_ends_it_for_its_class(
    nina, council_file, council, hospital, carol
):
    sharing.break_glass(
        person=council_file.person,
        user=nina,
        acting_agency=hospital,
        reason="Unconscious in A&E, no history available.",
    )
    assert _visible(hospital, CLINICAL, council_file, nina)

    refuse(council_file.person, holder=council, recipient=hospital, by=carol, classes=(CLINICAL,))

    assert not _visible(hospital, CLINICAL, council_file, nina)
    assert _visible(hospital, DEMOGRAPHICS, council_file, nina)


@pytest.mark.parametrize("classes", [(CLINICAL,), tuple(DataClass.values)])
def test_restricted_notes_stay_hidden_whatever_is_shared(
    nina_client, nina, council_file, council, hospital, carol, classes
):
    share(council_file.person, holder=council, recipient=hospital, by=carol, classes=classes)
    restricted = note_in(council_file, by=carol, text="Restricted.", restricted=True)
    open_note = note_in(council_file, by=carol, text="Open.")

    assert list(CaseNote.objects.visible_to(hospital, nina)) == [open_note]
    assert nina_client.get(reverse("note_detail", args=[restricted.pk])).status_code == 404
    assert nina_client.get(reverse("note_detail", args=[open_note.pk])).status_code == 200


def test_restricted_notes_stay_hidden_even_after_break_glass(
    nina_client, nina, council_file, hospital, carol
):
    restricted = note_in(council_file, by=carol, text="Restricted.", restricted=True)
    sharing.break_glass(
        person=council_file.person,
        user=nina,
        acting_agency=hospital,
        reason="Unconscious in A&E, no history available.",
    )

    assert nina_client.get(reverse("note_detail", args=[restricted.pk])).status_code == 404
    assert not CaseNote.objects.visible_to(hospital, nina).exists()
