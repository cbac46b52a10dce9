"""The access reports, for the Caldicott guardian of an agency holding a file: who has seen a
person's record (including searches that returned them), and what one member has done. Only
governance roles may ask, only about their own agency's people and staff, and every report
viewed is itself audited."""

import pytest
from django.urls import reverse

from caretrust.audit.models import Action, AuditEvent
from caretrust.directory import services as directory
from caretrust.directory.models import Membership, Role
from tests.conftest import signed_in
from tests.factories import UserFactory
from tests.sharing.conftest import events, staff


@pytest.fixture
def ninas_look(nina_client, consent_to_hospital, council_file):
    """nina searches for the shared person by NHS number, then opens their page."""
    person = council_file.person
    nina_client.get(reverse("person_search"), {"nhs_number": person.nhs_number})
    nina_client.get(reverse("person_detail", args=[person.pk]))
    return person


def _report(client, person, **params):
    return client.get(reverse("access_report", args=[person.pk]), params)


def test_the_guardian_sees_ninas_view_and_her_search_that_returned_the_person(
    grace_client, nina, ninas_look
):
    response = _report(grace_client, ninas_look)

    assert response.status_code == 200
    shown = list(response.context["page"])
    ninas = [e for e in shown if e.actor_id == nina.pk]
    searched = [e for e in ninas if e.action == Action.PERSON_SEARCHED]
    viewed = [e for e in ninas if e.action == Action.PERSON_VIEWED]
    assert len(searched) == 1
    assert str(ninas_look.pk) in searched[0].detail["persons"]
    assert searched[0].person_id is None  # found through the ids the search returned
    assert [e.detail["purpose"] for e in viewed] == ["integrated_view"]
    page = response.content.decode()
    assert "Searched for people" in page
    assert "Viewed a person" in page
    assert nina.get_username() in page


def test_a_search_that_did_not_return_the_person_is_not_in_their_report(
    grace_client, nina, nina_client, ninas_look
):
    nina_client.get(reverse("person_search"), {"nhs_number": "9434765919"})

    shown = list(_report(grace_client, ninas_look).context["page"])

    assert len([e for e in shown if e.action == Action.PERSON_SEARCHED]) == 1


def test_a_refused_look_is_in_the_report_too(grace_client, nina_client, nina, council_file):
    nina_client.get(reverse("person_detail", args=[council_file.person.pk]))

    shown = list(_report(grace_client, council_file.person).context["page"])

    (denied,) = [e for e in shown if e.action == Action.ACCESS_DENIED]
    assert denied.actor_id == nina.pk
    assert denied.detail["reason"] == "not_permitted"


def test_a_care_manager_cannot_see_the_access_report(carol_client, ninas_look):
    response = _report(carol_client, ninas_look)

    assert response.status_code == 403
    assert not events(Action.REPORT_VIEWED)


def test_an_outsider_agencys_guardian_gets_404_for_the_person(outsider_agency, ninas_look):
    olive = staff(outsider_agency, Role.CALDICOTT_GUARDIAN, "olive")

    response = _report(signed_in(olive), ninas_look)

    assert response.status_code == 404
    assert ninas_look.family_name not in response.content.decode()
    assert not events(Action.REPORT_VIEWED)


def test_the_recipients_guardian_cannot_report_on_a_file_it_does_not_hold(hospital, ninas_look):
    # The hospital can see the person through the share, but holds no file of its own.
    harriet = staff(hospital, Role.CALDICOTT_GUARDIAN, "harriet")

    response = _report(signed_in(harriet), ninas_look)

    assert response.status_code == 403
    assert not events(Action.REPORT_VIEWED)


def test_viewing_the_access_report_is_audited(grace_client, grace, council, ninas_look):
    _report(grace_client, ninas_look)

    (viewed,) = events(Action.REPORT_VIEWED)
    assert (viewed.actor_id, viewed.agency_id) == (grace.pk, council.pk)
    assert viewed.person_id == ninas_look.pk
    assert viewed.detail == {"report": "person_access", "page": 1}
    # And the next report shows that the guardian looked.
    shown = list(_report(grace_client, ninas_look).context["page"])
    assert any(e.pk == viewed.pk for e in shown)


def test_the_guardian_sees_a_council_members_activity(grace_client, carol, consent_to_hospital):
    response = grace_client.get(reverse("user_activity", args=[carol.pk]))

    assert response.status_code == 200
    assert response.context["target"] == carol
    shown = list(response.context["page"])
    assert {e.action for e in shown} >= {Action.BASIS_RECORDED}
    assert all(e.actor_id == carol.pk for e in shown)


def test_the_guardian_sees_a_former_members_activity(grace_client, council):
    leaver = staff(council, Role.SOCIAL_WORKER, "leaver")
    directory.end_membership(membership=Membership.objects.get(user=leaver))

    assert grace_client.get(reverse("user_activity", args=[leaver.pk])).status_code == 200


def test_someone_who_never_worked_for_the_council_answers_404(grace_client, nina, ninas_look):
    hidden = grace_client.get(reverse("user_activity", args=[nina.pk]))
    missing = grace_client.get(reverse("user_activity", args=[UserFactory().pk + 1000]))
    garbage = grace_client.get(reverse("user_activity", args=["nina"]))

    assert hidden.status_code == missing.status_code == garbage.status_code == 404
    assert hidden.content == missing.content == garbage.content
    assert not events(Action.REPORT_VIEWED)


def test_a_care_manager_cannot_see_user_activity(carol_client, carol):
    assert carol_client.get(reverse("user_activity", args=[carol.pk])).status_code == 403


def test_viewing_user_activity_is_audited(grace_client, grace, council, carol):
    grace_client.get(reverse("user_activity", args=[carol.pk]))

    (viewed,) = events(Action.REPORT_VIEWED)
    assert (viewed.actor_id, viewed.agency_id) == (grace.pk, council.pk)
    assert viewed.detail == {"report": "user_activity", "user_id": carol.pk, "page": 1}


def test_viewing_the_break_glass_queue_is_audited(grace_client, grace):
    assert grace_client.get(reverse("break_glass_queue")).status_code == 200

    (viewed,) = events(Action.REPORT_VIEWED)
    assert viewed.actor_id == grace.pk
    assert viewed.detail["report"] == "break_glass_queue"


def test_the_access_report_lists_every_event_about_the_person_the_oldest_included(
    grace_client, ninas_look
):
    about = AuditEvent.objects.filter(person_id=ninas_look.pk) | AuditEvent.objects.filter(
        detail__contains={"persons": [str(ninas_look.pk)]}
    )
    expected = list(about.order_by("-id").values_list("pk", flat=True))

    response = _report(grace_client, ninas_look)

    # The guardian's own sight of the person (read before the report) is the newest row.
    shown = [e.pk for e in response.context["page"]]
    assert shown[1:] == expected
    assert len(shown) == response.context["page"].paginator.count


def test_a_guardians_own_activity_report_leaves_none_of_her_events_out(grace_client, grace):
    grace_client.get(reverse("break_glass_queue"))
    grace_client.get(reverse("break_glass_queue"))
    before = list(AuditEvent.objects.filter(actor_id=grace.pk).values_list("pk", flat=True))
    assert len(before) == 3  # signed in, and looked at the queue twice

    response = grace_client.get(reverse("user_activity", args=[grace.pk]))

    shown = [e.pk for e in response.context["page"]]
    assert len(shown) == response.context["page"].paginator.count
    assert sorted(shown) == sorted(before)
