"""The demo area: a whole, consistent Calderbridge, and a second run changes nothing."""

import datetime as dt
from io import StringIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from caretrust.directory.models import Agency, AgencyKind, Membership, Role
from caretrust.directory.selectors import agencies_of, roles_at
from caretrust.directory.services import sync_agency_groups
from caretrust.people.models import CarerLink, CaseFile, Person
from caretrust.people.validators import normalise_nhs_number, today_in_london

NAMED_ACCOUNTS = ["admin", "carol.cm", "nina.nurse", "oscar.ot", "fiona.finance", "grace.caldicott"]


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Person, CaseFile, CarerLink, Membership, get_user_model(), Agency)
    }


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def test_seeding_twice_creates_nothing_the_second_time(db):
    call_command("seed_demo", stdout=StringIO())
    first = _counts()

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert _counts() == first
    assert "nothing to add" in out.getvalue()
    assert first["Person"] >= 200


def test_the_demo_area_is_complete_and_consistent(db):
    call_command("seed_demo", stdout=StringIO())
    user_model = get_user_model()
    council = Agency.objects.get(kind=AgencyKind.COUNCIL_ASC)

    people = list(Person.objects.values_list("nhs_number", "date_of_birth"))
    assert len(people) >= 200
    for nhs_number, _ in people:
        assert nhs_number.startswith("999")
        assert normalise_nhs_number(nhs_number) == nhs_number
    today = today_in_london()
    over_65 = sum(1 for _, born in people if _age(born, today) > 65)
    assert over_65 > len(people) / 2

    for username in NAMED_ACCOUNTS:
        assert user_model.objects.get(username=username).check_password("caretrust-demo")
    assert user_model.objects.get(username="admin").is_superuser

    carol = user_model.objects.get(username="carol.cm")
    assert Role.CARE_MANAGER in roles_at(carol, council)
    assert CaseFile.objects.visible_to(council).open().filter(lead_worker=carol).exists()
    fiona = user_model.objects.get(username="fiona.finance")
    assert {Role.FINANCE_OFFICER, Role.POOL_MANAGER} <= roles_at(fiona, council)

    kinds = set(Agency.objects.values_list("kind", flat=True))
    assert set(AgencyKind.values) - {AgencyKind.HOUSING} <= kinds
    held = set(Membership.objects.current().values_list("role", flat=True))
    assert held == set(Role.values)

    agency_groups = set(Agency.objects.values_list("group_id", flat=True))
    members = user_model.objects.filter(memberships__ended_at__isnull=True).distinct()
    for user in members:
        groups = set(user.groups.filter(pk__in=agency_groups).values_list("pk", flat=True))
        assert groups == {a.group_id for a in agencies_of(user)}, user.username
    assert not Group.objects.filter(pk__in=agency_groups, user__memberships__isnull=True).exists()
    assert sync_agency_groups() == 0

    assert CarerLink.objects.exists()
    assert CaseFile.objects.filter(closed_on__isnull=False).exists()
