"""The active agency: a signed-in user acts for one agency at a time, re-checked against
their current memberships on every request."""

import re
from urllib.parse import urlencode

from django.urls import reverse

from caretrust.audit.models import Action, AuditEvent
from caretrust.directory import services
from caretrust.directory.middleware import SESSION_KEY
from caretrust.directory.models import Membership, Role
from tests.conftest import signed_in
from tests.factories import UserFactory

COUNCIL = "Calderbridge Council Adult Social Care"
HOSPITAL = "Calderbridge Hospitals NHS Trust"


def _acting_for(response) -> str | None:
    match = re.search(r"Acting for\s*<strong>([^<]*)</strong>", response.content.decode())
    return match[1] if match else None


def _choose_url(next_url: str) -> str:
    return f"{reverse('choose_agency')}?{urlencode({'next': next_url})}"


def test_a_user_of_one_agency_acts_for_it_without_choosing(carol_client, council):
    response = carol_client.get(reverse("caseload"))

    assert response.status_code == 200
    assert _acting_for(response) == COUNCIL
    assert carol_client.session[SESSION_KEY] == council.pk
    assert "Switch agency" not in response.content.decode()


def test_a_user_of_two_agencies_is_asked_to_choose_and_sent_back(dual):
    client = signed_in(dual)

    response = client.get(reverse("caseload"))

    assert response.status_code == 302
    assert response.url == _choose_url(reverse("caseload"))
    assert SESSION_KEY not in client.session


def test_the_choose_page_offers_exactly_the_users_agencies(dual, outsider_agency):
    page = signed_in(dual).get(_choose_url(reverse("caseload"))).content.decode()

    assert COUNCIL in page
    assert HOSPITAL in page
    assert outsider_agency.name not in page
    assert 'name="next" value="/caseload/"' in page


def test_choosing_an_agency_acts_for_it_from_then_on(dual, council, hospital):
    client = signed_in(dual)

    response = client.post(
        reverse("choose_agency"), {"agency": hospital.pk, "next": reverse("caseload")}
    )

    assert response.status_code == 302
    assert response.url == reverse("caseload")
    caseload = client.get(reverse("caseload"))
    assert caseload.status_code == 200
    assert _acting_for(caseload) == HOSPITAL
    assert "Switch agency" in caseload.content.decode()
    event = AuditEvent.objects.get(action=Action.AGENCY_SWITCHED)
    assert (event.actor_id, event.agency_id) == (dual.pk, hospital.pk)


def test_choosing_can_switch_to_the_other_agency(dual, council, hospital):
    client = signed_in(dual)
    client.post(reverse("choose_agency"), {"agency": hospital.pk})
    client.post(reverse("choose_agency"), {"agency": council.pk})

    assert _acting_for(client.get(reverse("caseload"))) == COUNCIL


def test_choosing_an_agency_the_user_does_not_work_for_is_refused(dual, outsider_agency):
    client = signed_in(dual)

    response = client.post(reverse("choose_agency"), {"agency": outsider_agency.pk})

    assert response.status_code == 400
    assert "Select the agency you are working for" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert client.get(reverse("caseload")).status_code == 302
    assert not AuditEvent.objects.filter(action=Action.AGENCY_SWITCHED).exists()


def test_choosing_nothing_is_refused(dual):
    response = signed_in(dual).post(reverse("choose_agency"), {"agency": "not-a-number"})
    assert response.status_code == 400
    assert "Select the agency you are working for" in response.content.decode()


def test_an_offsite_next_address_is_ignored(dual, council):
    response = signed_in(dual).post(
        reverse("choose_agency"), {"agency": council.pk, "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.url == "/"


def test_ending_the_active_agency_falls_back_to_the_only_one_left(dual, council, hospital):
    client = signed_in(dual)
    client.post(reverse("choose_agency"), {"agency": council.pk})
    assert _acting_for(client.get(reverse("caseload"))) == COUNCIL

    services.end_membership(membership=Membership.objects.get(user=dual, agency=council))

    response = client.get(reverse("caseload"))
    assert response.status_code == 200
    assert _acting_for(response) == HOSPITAL
    assert client.session[SESSION_KEY] == hospital.pk


def test_ending_the_active_agency_sends_a_user_of_several_back_to_choose(
    dual, council, hospital, outsider_agency
):
    services.add_membership(user=dual, agency=outsider_agency, role=Role.OCCUPATIONAL_THERAPIST)
    client = signed_in(dual)
    client.post(reverse("choose_agency"), {"agency": council.pk})
    assert _acting_for(client.get(reverse("caseload"))) == COUNCIL

    services.end_membership(membership=Membership.objects.get(user=dual, agency=council))

    response = client.get(reverse("caseload"))
    assert response.status_code == 302
    assert response.url == _choose_url(reverse("caseload"))
    assert SESSION_KEY not in client.session
    choices = client.get(response.url).content.decode()
    assert COUNCIL not in choices
    assert HOSPITAL in choices


def test_a_user_whose_only_membership_ends_is_refused_on_the_next_request(carol_client, carol):
    assert carol_client.get(reverse("caseload")).status_code == 200

    services.end_membership(membership=Membership.objects.get(user=carol))

    response = carol_client.get(reverse("caseload"))
    assert response.status_code == 403
    assert "not working for any agency" in response.content.decode()
    assert _acting_for(response) is None


def test_a_user_with_no_memberships_is_told_they_work_for_no_agency(db):
    client = signed_in(UserFactory(username="nobody"))

    for name in ("caseload", "person_search", "person_register", "choose_agency"):
        response = client.get(reverse(name))
        assert response.status_code == 403, name
        assert "not working for any agency" in response.content.decode()
