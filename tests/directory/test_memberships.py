"""Memberships: a user is in an agency's group exactly while they hold a role there."""

import pytest
from django.core.exceptions import ValidationError

from caretrust.audit.models import Action, AuditEvent
from caretrust.directory import services
from caretrust.directory.models import AgencyKind, Membership, Role
from caretrust.directory.selectors import agencies_of, roles_at
from tests.factories import AgencyFactory, TeamFactory, UserFactory


def _in_group(user, agency) -> bool:
    return agency.group.user_set.filter(pk=user.pk).exists()


def test_adding_a_membership_puts_the_user_in_the_agencys_group(council):
    user = UserFactory()
    membership = services.add_membership(user=user, agency=council, role=Role.SOCIAL_WORKER)

    assert _in_group(user, council)
    assert membership.ended_at is None
    assert list(agencies_of(user)) == [council]
    event = AuditEvent.objects.get(action=Action.MEMBERSHIP_ADDED, object_id=str(membership.pk))
    assert event.detail == {"user": user.username, "role": Role.SOCIAL_WORKER}


def test_ending_the_only_membership_takes_the_user_out_of_the_group(council, carol):
    membership = Membership.objects.get(user=carol, agency=council)

    ended = services.end_membership(membership=membership)

    assert ended.ended_at is not None
    assert not _in_group(carol, council)
    assert list(agencies_of(carol)) == []
    assert AuditEvent.objects.filter(
        action=Action.MEMBERSHIP_ENDED, object_id=str(membership.pk)
    ).exists()


def test_ending_one_of_two_roles_at_an_agency_keeps_the_user_in_its_group(council, carol):
    second = services.add_membership(user=carol, agency=council, role=Role.SOCIAL_WORKER)
    first = Membership.objects.get(user=carol, agency=council, role=Role.CARE_MANAGER)

    services.end_membership(membership=first)
    assert _in_group(carol, council)
    assert roles_at(carol, council) == {Role.SOCIAL_WORKER}

    services.end_membership(membership=second)
    assert not _in_group(carol, council)


def test_ending_a_membership_twice_changes_nothing_the_second_time(council, carol):
    membership = Membership.objects.get(user=carol, agency=council)
    first = services.end_membership(membership=membership)
    second = services.end_membership(membership=membership)

    assert second.ended_at == first.ended_at
    assert AuditEvent.objects.filter(action=Action.MEMBERSHIP_ENDED).count() == 1


def test_ending_a_membership_at_one_agency_leaves_the_other_alone(council, hospital, dual):
    services.end_membership(membership=Membership.objects.get(user=dual, agency=council))

    assert not _in_group(dual, council)
    assert _in_group(dual, hospital)


def test_a_council_cannot_have_a_gp(council):
    user = UserFactory()
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=user, agency=council, role=Role.GP)

    assert caught.value.message_dict == {"role": ["A council adult social care has no GP role."]}
    assert not Membership.objects.filter(user=user).exists()
    assert not _in_group(user, council)


def test_a_hospital_cannot_have_a_care_manager(hospital):
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=UserFactory(), agency=hospital, role=Role.CARE_MANAGER)

    assert caught.value.message_dict == {
        "role": ["An acute hospital trust has no care manager role."]
    }


def test_a_care_trust_can_have_both_nurses_and_care_managers(db):
    care_trust = AgencyFactory(kind=AgencyKind.CARE_TRUST)
    user = UserFactory()

    services.add_membership(user=user, agency=care_trust, role=Role.NURSE)
    services.add_membership(user=user, agency=care_trust, role=Role.CARE_MANAGER)

    assert roles_at(user, care_trust) == {Role.NURSE, Role.CARE_MANAGER}
    assert _in_group(user, care_trust)


@pytest.mark.parametrize("role", [Role.FINANCE_OFFICER, Role.CALDICOTT_GUARDIAN])
def test_governance_and_finance_roles_exist_in_every_kind_of_agency(council, hospital, role):
    for agency in (council, hospital):
        services.add_membership(user=UserFactory(), agency=agency, role=role)


def test_an_unknown_role_is_refused(council):
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=UserFactory(), agency=council, role="wizard")
    assert "'wizard' is not a role" in caught.value.message_dict["role"][0]


def test_a_team_of_another_agency_is_refused(council, hospital):
    ward = TeamFactory(agency=hospital, name="Ward 7")
    user = UserFactory()

    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=user, agency=council, role=Role.SOCIAL_WORKER, team=ward)

    assert caught.value.message_dict == {
        "team": [
            "Ward 7 belongs to Calderbridge Hospitals NHS Trust, "
            "not Calderbridge Council Adult Social Care."
        ]
    }
    assert not Membership.objects.filter(user=user).exists()


def test_a_team_of_the_same_agency_is_accepted(council):
    team = TeamFactory(agency=council)
    membership = services.add_membership(
        user=UserFactory(), agency=council, role=Role.SOCIAL_WORKER, team=team
    )
    assert membership.team == team


def test_the_same_current_role_twice_is_refused(council, carol):
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=carol, agency=council, role=Role.CARE_MANAGER)

    assert caught.value.messages == [
        "carol is already a care manager at Calderbridge Council Adult Social Care."
    ]
    assert Membership.objects.filter(user=carol, agency=council).count() == 1


def test_the_refusal_of_a_duplicate_role_reads_as_english(council, dual):
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=dual, agency=council, role=Role.OCCUPATIONAL_THERAPIST)
    assert caught.value.messages == [
        "dual is already an occupational therapist at Calderbridge Council Adult Social Care."
    ]


def test_an_ended_role_can_be_held_again(council, carol):
    services.end_membership(membership=Membership.objects.get(user=carol, agency=council))
    services.add_membership(user=carol, agency=council, role=Role.CARE_MANAGER)

    assert Membership.objects.filter(user=carol, agency=council).count() == 2
    assert _in_group(carol, council)


def test_sync_agency_groups_changes_nothing_when_groups_are_in_step(carol, nina, dual):
    assert services.sync_agency_groups() == 0


def test_sync_agency_groups_removes_a_stray_user_from_a_group(council, carol):
    stray = UserFactory()
    council.group.user_set.add(stray)

    assert services.sync_agency_groups() == 1

    assert not _in_group(stray, council)
    assert _in_group(carol, council)
    assert services.sync_agency_groups() == 0


def test_sync_agency_groups_puts_back_a_member_missing_from_a_group(council, hospital, carol, nina):
    council.group.user_set.remove(carol)
    hospital.group.user_set.add(carol)

    assert services.sync_agency_groups() == 2

    assert _in_group(carol, council)
    assert not _in_group(carol, hospital)
    assert _in_group(nina, hospital)


def test_a_gp_practice_cannot_have_a_social_worker(db):
    practice = AgencyFactory(kind=AgencyKind.GP_PRACTICE)
    with pytest.raises(ValidationError) as caught:
        services.add_membership(user=UserFactory(), agency=practice, role=Role.SOCIAL_WORKER)
    assert caught.value.message_dict == {"role": ["A GP practice has no social worker role."]}


def test_the_nightly_sharing_jobs_put_a_stray_group_member_back_out(council, carol, oscar):
    from io import StringIO

    from django.core.management import call_command

    council.group.user_set.add(oscar)  # someone wrote to the group behind the services' back
    out = StringIO()

    call_command("run_sharing_jobs", stdout=out)

    assert not council.group.user_set.filter(pk=oscar.pk).exists()
    assert council.group.user_set.filter(pk=carol.pk).exists()
    assert "moved 1 user(s)" in out.getvalue()
