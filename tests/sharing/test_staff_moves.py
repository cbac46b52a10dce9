"""Staff move: someone who leaves the hospital loses what was shared with it on their very
next request, and someone working for two agencies sees, while acting for one, only what
that one may see."""

from django.urls import reverse
from django.utils.html import escape

from caretrust.directory import services as directory
from caretrust.directory.middleware import SESSION_KEY
from caretrust.directory.models import Membership, Role
from caretrust.people.models import Person
from tests.conftest import signed_in


def _person_url(case_file):
    return reverse("person_detail", args=[case_file.person.pk])


def _shows_no_person_data(response, person):
    page = response.content.decode()
    return all(
        marker not in page
        for marker in (escape(person.full_name), person.nhs_number_display, person.postcode)
    )


def test_a_nurse_who_leaves_the_hospital_is_refused_on_her_next_request(
    nina_client, nina, hospital, consent_to_hospital, council_file
):
    assert nina_client.get(_person_url(council_file)).status_code == 200

    directory.end_membership(membership=Membership.objects.get(user=nina, agency=hospital))
    response = nina_client.get(_person_url(council_file))

    assert response.status_code != 200
    assert response.status_code in (403, 404)
    assert _shows_no_person_data(response, council_file.person)
    assert not hospital.group.user_set.filter(pk=nina.pk).exists()


def test_a_leaver_cannot_search_for_the_shared_person_either(
    nina_client, nina, hospital, consent_to_hospital, council_file
):
    directory.end_membership(membership=Membership.objects.get(user=nina, agency=hospital))

    response = nina_client.get(
        reverse("person_search"), {"nhs_number": council_file.person.nhs_number}
    )

    assert response.status_code == 403
    assert _shows_no_person_data(response, council_file.person)


def test_a_leaver_who_rejoins_in_another_role_sees_the_shared_person_again(
    nina_client, nina, hospital, consent_to_hospital, council_file
):
    directory.end_membership(membership=Membership.objects.get(user=nina, agency=hospital))
    assert nina_client.get(_person_url(council_file)).status_code != 200

    directory.add_membership(user=nina, agency=hospital, role=Role.DISTRICT_NURSE)

    assert nina_client.get(_person_url(council_file)).status_code == 200


def test_a_leaver_keeps_nothing_through_a_second_role_at_another_agency(
    nina, hospital, outsider_agency, consent_to_hospital, council_file
):
    # nina also works for the outsider; once she leaves the hospital she acts for the outsider
    # alone, and the hospital's share is not the outsider's.
    directory.add_membership(user=nina, agency=outsider_agency, role=Role.DISTRICT_NURSE)
    client = signed_in(nina)
    client.post(reverse("choose_agency"), {"agency": hospital.pk, "next": "/"})
    assert client.get(_person_url(council_file)).status_code == 200

    directory.end_membership(membership=Membership.objects.get(user=nina, agency=hospital))
    response = client.get(_person_url(council_file))

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == outsider_agency.pk
    assert _shows_no_person_data(response, council_file.person)


def test_someone_acting_for_the_hospital_sees_only_what_is_shared_with_the_hospital(
    dual, council, hospital, council_file, carol
):
    client = signed_in(dual)
    for_hospital = client.post(
        reverse("choose_agency"), {"agency": hospital.pk, "next": _person_url(council_file)}
    )
    assert for_hospital.status_code == 302

    as_hospital = client.get(_person_url(council_file))
    assert as_hospital.status_code == 404
    assert _shows_no_person_data(as_hospital, council_file.person)
    assert not Person.objects.visible_to(hospital, dual).filter(pk=council_file.person.pk).exists()

    client.post(reverse("choose_agency"), {"agency": council.pk, "next": "/"})
    as_council = client.get(_person_url(council_file))
    assert as_council.status_code == 200
    assert escape(council_file.person.full_name) in as_council.content.decode()

    client.post(reverse("choose_agency"), {"agency": hospital.pk, "next": "/"})
    assert client.get(_person_url(council_file)).status_code == 404


def test_acting_for_the_hospital_a_dual_worker_sees_the_council_file_once_shared(
    dual, council, hospital, consent_to_hospital, council_file
):
    client = signed_in(dual)
    client.post(reverse("choose_agency"), {"agency": hospital.pk, "next": "/"})

    response = client.get(_person_url(council_file))

    assert response.status_code == 200
    # Acting for the hospital, the council's file is shown as shared, not as dual's own agency's.
    assert "Your agency" not in response.content.decode()
    assert "Shared with you: Demographics" in response.content.decode()


def test_a_dual_worker_cannot_record_council_sharing_while_acting_for_the_hospital(
    dual, council, hospital, council_file, outsider_agency
):
    client = signed_in(dual)
    client.post(reverse("choose_agency"), {"agency": hospital.pk, "next": "/"})

    response = client.post(
        reverse("record_basis", args=[council_file.person.pk, "consent"]),
        {
            "recipient_agency": outsider_agency.pk,
            "data_classes": ["demographics"],
            "purpose": "direct_care",
            "provision": "permit",
            "grantor": "person",
            "grantor_name": "The person",
            "evidence": "verbal",
        },
    )

    assert response.status_code == 404
