"""The integrated person page names what is shared, in words, on both sides of a share."""

from django.urls import reverse

from caretrust.people.models import DataClass
from tests.factories import share


def test_the_recipient_sees_which_kinds_of_information_are_shared_in_words(
    council_file, council, hospital, carol, nina_client
):
    share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.DEMOGRAPHICS, DataClass.CARE_PLANS, DataClass.CLINICAL_NOTES),
    )

    page = nina_client.get(reverse("person_detail", args=[council_file.person.pk])).content.decode()

    assert "Shared with you: Demographics, care plans, clinical notes" in page
    assert "Clinicalnotes" not in page


def test_the_holder_sees_its_share_in_the_sharing_panel_with_a_withdraw_link(
    council_file, council, hospital, carol, carol_client
):
    basis = share(
        council_file.person,
        holder=council,
        recipient=hospital,
        by=carol,
        classes=(DataClass.CARE_PLANS,),
    )

    page = carol_client.get(
        reverse("person_detail", args=[council_file.person.pk])
    ).content.decode()

    assert "Care plans" in page
    assert reverse("withdraw_basis", args=[basis.pk]) in page
