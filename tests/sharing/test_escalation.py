"""Nothing but a sharing basis widens what an agency sees: not a model-level permission on
its group (refused by the database, and ignored if smuggled in), not a superuser flag, not
guardian's generic tables, and not a direct permission row written by hand, which the nightly
recompute reports as drift and removes."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm

from caretrust.audit.models import Action
from caretrust.directory.models import Role
from caretrust.people.models import (
    CaseFile,
    CaseFileGroupObjectPermission,
    CaseFileUserObjectPermission,
    CaseNote,
    DataClass,
    Person,
)
from caretrust.sharing import services as sharing
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory
from tests.sharing.conftest import events, note_in, share, staff


def _perm(data_class=DataClass.DEMOGRAPHICS):
    return Permission.objects.get(content_type__app_label="people", codename=f"view_{data_class}")


@pytest.fixture
def two_council_files(council, carol, council_file):
    """council_file (to be shared) and a second council file that never is."""
    other = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    return council_file, other


@pytest.fixture
def shared_one(two_council_files, council, hospital, carol):
    shared, _ = two_council_files
    share(shared.person, holder=council, recipient=hospital, by=carol)
    return two_council_files


def _hospital_sight(hospital, user=None):
    """Everything the hospital can see, for every data class and the notes."""
    return (
        {
            dc: set(CaseFile.objects.visible_to(hospital, dc, user).values_list("pk", flat=True))
            for dc in DataClass.values
        },
        set(Person.objects.visible_to(hospital, user).values_list("pk", flat=True)),
        set(CaseNote.objects.visible_to(hospital, user).values_list("pk", flat=True)),
    )


def test_the_database_refuses_a_model_permission_for_an_agency_group(hospital):
    with (
        pytest.raises(DatabaseError, match="agency groups never hold model-level permissions"),
        transaction.atomic(),
    ):
        hospital.group.permissions.add(_perm())

    assert not hospital.group.permissions.exists()


def test_guardian_assign_perm_without_an_object_is_refused_too(hospital):
    with (
        pytest.raises(DatabaseError, match="agency groups never hold model-level permissions"),
        transaction.atomic(),
    ):
        assign_perm("people.view_demographics", hospital.group)

    assert not hospital.group.permissions.exists()


def test_a_model_permission_smuggled_past_the_trigger_widens_nothing(
    shared_one, hospital, nina, nina_client, carol
):
    shared, unshared = shared_one
    note_in(unshared, by=carol, text="Never shared.")
    before = _hospital_sight(hospital, nina)
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE auth_group_permissions DISABLE TRIGGER agency_group_no_model_permissions"
        )
    hospital.group.permissions.add(*[_perm(dc) for dc in DataClass.values])
    with connection.cursor() as cursor:
        # Run the deferred foreign-key checks now: a table with pending trigger events
        # cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE auth_group_permissions ENABLE TRIGGER agency_group_no_model_permissions"
        )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    assert hospital.group.permissions.count() == len(DataClass.values)

    assert _hospital_sight(hospital, nina) == before
    assert _hospital_sight(hospital) == before
    assert before[1] == {shared.person.pk}
    assert nina_client.get(reverse("person_detail", args=[unshared.person.pk])).status_code == 404
    search = nina_client.get(reverse("person_search"), {"nhs_number": unshared.person.nhs_number})
    assert "0 people found" in search.content.decode()
    # The nightly recompute reports the smuggled permissions.
    report = sharing.recompute_all()
    assert any(
        d.get("group") == hospital.group.name and "model-level" in d["problem"]
        for d in report.drifted
    )


def test_a_superuser_member_of_the_hospital_sees_no_more_than_nina(shared_one, hospital, nina):
    shared, unshared = shared_one
    boss = staff(hospital, Role.NURSE, "boss", is_superuser=True, is_staff=True)
    client = signed_in(boss)

    assert _hospital_sight(hospital, boss) == _hospital_sight(hospital, nina)
    assert client.get(reverse("person_detail", args=[unshared.person.pk])).status_code == 404
    assert client.get(reverse("person_detail", args=[shared.person.pk])).status_code == 200
    search = client.get(reverse("person_search"), {"nhs_number": unshared.person.nhs_number})
    assert "0 people found" in search.content.decode()


def test_guardians_generic_tables_widen_nothing(shared_one, hospital, nina, nina_client, carol):
    _, unshared = shared_one
    note = note_in(unshared, by=carol, text="Never shared.")
    before = _hospital_sight(hospital, nina)
    casefile_type = ContentType.objects.get_for_model(CaseFile)
    for dc in DataClass.values:
        UserObjectPermission.objects.create(
            user=nina, permission=_perm(dc), content_type=casefile_type, object_pk=str(unshared.pk)
        )
        GroupObjectPermission.objects.create(
            group=hospital.group,
            permission=_perm(dc),
            content_type=casefile_type,
            object_pk=str(unshared.pk),
        )

    assert _hospital_sight(hospital, nina) == before
    assert unshared.pk not in before[0][DataClass.DEMOGRAPHICS]
    assert nina_client.get(reverse("person_detail", args=[unshared.person.pk])).status_code == 404
    assert nina_client.get(reverse("note_detail", args=[note.pk])).status_code == 404


def test_a_direct_group_row_written_by_hand_is_reported_as_drift_and_removed(
    shared_one, hospital, council
):
    shared, unshared = shared_one
    CaseFileGroupObjectPermission.objects.create(
        content_object=unshared, group=hospital.group, permission=_perm()
    )
    # The forged row does widen the query until it is found: that is why it is looked for.
    assert Person.objects.visible_to(hospital).filter(pk=unshared.person.pk).exists()

    report = sharing.recompute_all()

    assert report.drifted == [
        {
            "person_id": str(unshared.person.pk),
            "holding": council.slug,
            "recipient": hospital.slug,
            "added": [],
            "removed": ["group:demographics"],
        }
    ]
    assert not CaseFileGroupObjectPermission.objects.filter(content_object=unshared).exists()
    assert not Person.objects.visible_to(hospital).filter(pk=unshared.person.pk).exists()
    # The legitimate row is untouched, and the drift is in the audit trail.
    assert Person.objects.visible_to(hospital).filter(pk=shared.person.pk).exists()
    (drift,) = events(Action.SHARING_DRIFT)
    assert drift.person_id == unshared.person.pk
    assert sharing.recompute_all().drifted == []


def test_a_direct_break_glass_row_written_by_hand_is_reported_as_drift_and_removed(
    shared_one, hospital, nina
):
    _, unshared = shared_one
    CaseFileUserObjectPermission.objects.create(
        content_object=unshared,
        user=nina,
        agency=hospital,
        permission=_perm(),
        valid_until=timezone.now() + dt.timedelta(hours=4),
    )
    assert CaseFile.objects.visible_to(hospital, user=nina).filter(pk=unshared.pk).exists()

    report = sharing.recompute_all()

    assert [d["removed"] for d in report.drifted] == [[f"user{nina.pk}:demographics"]]
    assert not CaseFile.objects.visible_to(hospital, user=nina).filter(pk=unshared.pk).exists()


def test_a_widened_existing_row_is_drift_too(shared_one, hospital):
    # The one legitimate row, edited by hand to cover clinical notes instead.
    shared, _ = shared_one
    CaseFileGroupObjectPermission.objects.filter(content_object=shared).update(
        permission=_perm(DataClass.CLINICAL_NOTES)
    )
    assert CaseFile.objects.visible_to(hospital, DataClass.CLINICAL_NOTES).exists()

    report = sharing.recompute_all()

    assert [(d["added"], d["removed"]) for d in report.drifted] == [
        (["group:demographics"], ["group:clinical_notes"])
    ]
    assert not CaseFile.objects.visible_to(hospital, DataClass.CLINICAL_NOTES).exists()
    assert CaseFile.objects.visible_to(hospital, DataClass.DEMOGRAPHICS).get() == shared


def test_an_intact_projection_reports_no_drift(shared_one):
    report = sharing.recompute_all()

    assert report.pairs_checked == 1
    assert report.drifted == []
    assert not events(Action.SHARING_DRIFT)
