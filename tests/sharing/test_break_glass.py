"""Break-glass: emergency access for one named clinician, with a reason, for four hours,
reviewed by the holding agency's Caldicott guardian, and gone the moment it expires whether
or not the sweeper has run."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.people.models import CaseFile, CaseFileUserObjectPermission, DataClass, Person
from caretrust.sharing import services as sharing
from caretrust.sharing.models import (
    BREAK_GLASS_DURATION,
    BasisKind,
    BreakGlassReview,
    ReviewOutcome,
    SharingBasis,
    Status,
)
from tests.conftest import signed_in
from tests.sharing.conftest import events, staff

REASON = "Collapsed in A&E, unable to give a history; need care plan and medication."


def _break_glass(user, agency, person, reason=REASON):
    return sharing.break_glass(person=person, user=user, acting_agency=agency, reason=reason)


def _visible(agency, person, user=None):
    return Person.objects.visible_to(agency, user).filter(pk=person.pk).exists()


@pytest.fixture
def glass(nina, hospital, council_file, grace, django_capture_on_commit_callbacks):
    """nina breaks the glass on the council's file; the alert email is sent on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        (basis,) = _break_glass(nina, hospital, council_file.person)
    return basis


def test_break_glass_without_a_reason_is_refused_by_the_service(nina, hospital, council_file):
    for reason in ("", "   ", "urgent", "         x         "):
        with pytest.raises(ValidationError) as caught:
            _break_glass(nina, hospital, council_file.person, reason=reason)
        assert "reason" in caught.value.message_dict

    assert not SharingBasis.objects.exists()
    assert not _visible(hospital, council_file.person, nina)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Give the reason for emergency access."),
        ("urgent", "Give the reason in at least 10 characters."),
    ],
)
def test_break_glass_without_a_reason_is_a_form_error_in_the_browser(
    nina_client, council_file, reason, message
):
    response = nina_client.post(
        reverse("break_glass"),
        {"nhs_number": council_file.person.nhs_number, "reason": reason},
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SharingBasis.objects.exists()


def test_a_finance_officer_cannot_break_the_glass(hospital, council_file):
    clerk = staff(hospital, Role.FINANCE_OFFICER, "fiona")

    with pytest.raises(PermissionDenied):
        _break_glass(clerk, hospital, council_file.person)
    response = signed_in(clerk).post(
        reverse("break_glass"), {"nhs_number": council_file.person.nhs_number, "reason": REASON}
    )

    assert response.status_code == 403
    assert not SharingBasis.objects.exists()
    assert not _visible(hospital, council_file.person, clerk)


def test_breaking_the_glass_in_the_browser_opens_the_person_page(nina_client, council_file):
    response = nina_client.post(
        reverse("break_glass"), {"nhs_number": council_file.person.nhs_number, "reason": REASON}
    )

    assert response.status_code == 302
    assert response.url == reverse("person_detail", args=[council_file.person.pk])
    page = nina_client.get(response.url)
    assert page.status_code == 200
    assert escape(council_file.person.full_name) in page.content.decode()


def test_break_glass_is_audited_and_queued_for_the_holders_review(
    glass, nina, hospital, council, council_file
):
    assert glass.kind == BasisKind.BREAK_GLASS
    assert glass.break_glass_user == nina
    assert glass.period_end - glass.period_start == BREAK_GLASS_DURATION
    (started,) = events(Action.BREAK_GLASS_STARTED)
    assert (started.actor_id, started.agency_id) == (nina.pk, hospital.pk)
    assert started.person_id == council_file.person.pk
    assert started.detail["reason"] == REASON
    assert started.detail["holding_agency"] == council.slug
    review = BreakGlassReview.objects.get()
    assert (review.basis, review.guardian_agency) == (glass, council)
    assert review.reviewed_at is None
    assert review.outcome == ""


def test_the_holders_caldicott_guardian_is_emailed_without_the_persons_details(
    glass, grace, nina, hospital, council_file
):
    person = council_file.person

    (message,) = mail.outbox
    assert message.to == [grace.email]
    text = message.subject + message.body
    assert nina.get_full_name() in text
    assert hospital.name in text
    assert reverse("break_glass_queue") in text
    for detail in (
        person.given_name,
        person.family_name,
        person.nhs_number,
        person.nhs_number_display,
        str(person.pk),
        person.postcode,
        person.date_of_birth.strftime("%d %b %Y"),
    ):
        assert detail not in text, detail


def test_the_recipients_own_guardian_is_not_emailed(
    nina, hospital, council_file, grace, django_capture_on_commit_callbacks
):
    staff(hospital, Role.CALDICOTT_GUARDIAN, "harriet", email="harriet@hospital.example")

    with django_capture_on_commit_callbacks(execute=True):
        _break_glass(nina, hospital, council_file.person)

    assert [m.to for m in mail.outbox] == [[grace.email]]


def test_only_the_named_user_sees_the_file(glass, nina, hospital, council_file):
    colleague = staff(hospital, Role.NURSE, "nadia")

    assert _visible(hospital, council_file.person, nina)
    assert not _visible(hospital, council_file.person, colleague)
    assert not _visible(hospital, council_file.person)
    assert (
        signed_in(nina).get(reverse("person_detail", args=[council_file.person.pk])).status_code
        == 200
    )
    assert (
        signed_in(colleague)
        .get(reverse("person_detail", args=[council_file.person.pk]))
        .status_code
        == 404
    )


def test_break_glass_counts_only_while_acting_for_the_agency_it_was_given_to(
    glass, nina, outsider_agency, council_file
):
    assert not _visible(outsider_agency, council_file.person, nina)


def test_expired_break_glass_answers_404_before_any_sweeper_runs(
    glass, nina, hospital, council_file
):
    url = reverse("person_detail", args=[council_file.person.pk])
    client = signed_in(nina)
    assert client.get(url).status_code == 200

    # Four hours pass, by the database's clock (the visibility query compares with now()).
    SharingBasis.objects.filter(pk=glass.pk).update(
        period_start=Now() - BREAK_GLASS_DURATION - dt.timedelta(seconds=1),
        period_end=Now() - dt.timedelta(seconds=1),
    )
    rows = CaseFileUserObjectPermission.objects.filter(user=nina)
    assert rows.count() == len(DataClass.values)
    rows.update(valid_until=Now() - dt.timedelta(seconds=1))

    response = client.get(url)
    assert response.status_code == 404
    assert escape(council_file.person.full_name) not in response.content.decode()
    assert not _visible(hospital, council_file.person, nina)
    for dc in DataClass.values:
        assert not CaseFile.objects.visible_to(hospital, dc, nina).exists()
    assert SharingBasis.objects.get(pk=glass.pk).status == Status.ACTIVE  # nothing swept yet

    assert sharing.expire_lapsed_bases() == 1

    glass.refresh_from_db()
    assert glass.status == Status.EXPIRED
    (expired,) = events(Action.BREAK_GLASS_EXPIRED)
    assert expired.object_id == str(glass.pk)
    assert expired.detail["user_id"] == nina.pk
    assert not CaseFileUserObjectPermission.objects.exists()
    assert glass.history.order_by("id").last().reason == "period ended"
    assert sharing.expire_lapsed_bases() == 0


def test_the_caldicott_guardian_reviews_the_access(glass, grace, grace_client, council):
    review = BreakGlassReview.objects.get()
    queue = grace_client.get(reverse("break_glass_queue"))
    assert queue.status_code == 200
    assert reverse("break_glass_review", args=[review.pk]) in queue.content.decode()

    response = grace_client.post(
        reverse("break_glass_review", args=[review.pk]),
        {"outcome": ReviewOutcome.APPROPRIATE, "notes": "Clinically justified."},
    )

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.reviewed_by == grace
    assert review.outcome == ReviewOutcome.APPROPRIATE
    assert review.reviewed_at is not None
    (reviewed,) = events(Action.BREAK_GLASS_REVIEWED)
    assert (reviewed.actor_id, reviewed.agency_id) == (grace.pk, council.pk)
    assert reviewed.detail == {"outcome": ReviewOutcome.APPROPRIATE}
    assert reviewed.object_id == str(glass.pk)

    again = grace_client.post(
        reverse("break_glass_review", args=[review.pk]), {"outcome": ReviewOutcome.INAPPROPRIATE}
    )
    assert again.status_code == 400
    review.refresh_from_db()
    assert review.outcome == ReviewOutcome.APPROPRIATE
    assert len(events(Action.BREAK_GLASS_REVIEWED)) == 1


def test_an_inappropriate_outcome_needs_notes(glass, grace_client):
    review = BreakGlassReview.objects.get()

    response = grace_client.post(
        reverse("break_glass_review", args=[review.pk]), {"outcome": ReviewOutcome.INAPPROPRIATE}
    )

    assert response.status_code == 400
    assert "Say why the access was not appropriate." in response.content.decode()
    review.refresh_from_db()
    assert review.reviewed_at is None


def test_someone_at_the_holder_who_is_not_its_guardian_gets_403(glass, carol_client):
    review = BreakGlassReview.objects.get()

    get = carol_client.get(reverse("break_glass_review", args=[review.pk]))
    post = carol_client.post(
        reverse("break_glass_review", args=[review.pk]), {"outcome": ReviewOutcome.APPROPRIATE}
    )

    assert (get.status_code, post.status_code) == (403, 403)
    assert BreakGlassReview.objects.get().reviewed_at is None


@pytest.mark.parametrize("agency_fixture", ["hospital", "outsider_agency"])
def test_another_agencys_guardian_gets_404(glass, request, agency_fixture):
    other = staff(request.getfixturevalue(agency_fixture), Role.CALDICOTT_GUARDIAN, "otto")
    review = BreakGlassReview.objects.get()
    client = signed_in(other)

    get = client.get(reverse("break_glass_review", args=[review.pk]))
    post = client.post(
        reverse("break_glass_review", args=[review.pk]), {"outcome": ReviewOutcome.APPROPRIATE}
    )
    missing = client.get(reverse("break_glass_review", args=[review.pk + 1000]))

    assert (get.status_code, post.status_code) == (404, 404)
    assert get.content == missing.content
    assert BreakGlassReview.objects.get().reviewed_at is None
    assert (
        reverse("break_glass_review", args=[review.pk])
        not in client.get(reverse("break_glass_queue")).content.decode()
    )


def test_breaking_the_glass_again_extends_it_rather_than_failing(
    nina_client, nina, glass, hospital, council_file
):
    response = nina_client.post(
        reverse("break_glass"), {"nhs_number": council_file.person.nhs_number, "reason": REASON}
    )

    assert response.status_code == 302
    first, second = SharingBasis.objects.filter(kind=BasisKind.BREAK_GLASS).order_by("period_start")
    rows = CaseFileUserObjectPermission.objects.filter(user=nina)
    assert rows.count() == len(DataClass.values)
    assert {r.valid_until for r in rows} == {second.period_end}
    assert BreakGlassReview.objects.count() == 2
    assert sharing.recompute_all().drifted == []

    # The first lapsing leaves the second in force.
    SharingBasis.objects.filter(pk=first.pk).update(
        period_start=Now() - BREAK_GLASS_DURATION, period_end=Now() - dt.timedelta(seconds=1)
    )
    assert sharing.expire_lapsed_bases() == 1
    assert _visible(hospital, council_file.person, nina)
    assert {r.valid_until for r in rows.all()} == {second.period_end}


def test_an_expired_but_unswept_break_glass_is_not_reported_as_drift(
    glass, nina, hospital, council_file
):
    SharingBasis.objects.filter(pk=glass.pk).update(
        period_start=Now() - BREAK_GLASS_DURATION - dt.timedelta(seconds=1),
        period_end=Now() - dt.timedelta(seconds=1),
    )
    CaseFileUserObjectPermission.objects.update(valid_until=Now() - dt.timedelta(seconds=1))

    report = sharing.recompute_all()

    assert report.drifted == []
    assert not events(Action.SHARING_DRIFT)
    assert not CaseFileUserObjectPermission.objects.exists()  # tidied all the same
    assert not _visible(hospital, council_file.person, nina)


def test_someone_working_for_two_agencies_can_break_the_glass_on_one_file_for_each(
    hospital, outsider_agency, council_file
):
    medic = staff(hospital, Role.NURSE, "medic")
    directory.add_membership(user=medic, agency=outsider_agency, role=Role.DISTRICT_NURSE)

    _break_glass(medic, hospital, council_file.person)
    _break_glass(medic, outsider_agency, council_file.person)

    assert _visible(hospital, council_file.person, medic)
    assert _visible(outsider_agency, council_file.person, medic)
    assert CaseFileUserObjectPermission.objects.filter(user=medic).count() == 2 * len(
        DataClass.values
    )
    assert sharing.recompute_all().drifted == []
