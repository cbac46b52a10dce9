"""Need to know inside an agency: a role reads the data classes its work needs, restricted
notes only if its agency's rows say so, through the one visibility rule, and every part left
out is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from caretrust.audit.models import Action
from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from caretrust.people.models import CaseFile, CaseNote, DataClass, Person
from caretrust.sharing.models import NeedToKnow
from caretrust.sharing.need_to_know import DEFAULT_NEED_TO_KNOW
from tests.conftest import signed_in
from tests.factories import AgencyFactory
from tests.sharing.conftest import events, note_in, share, staff

CLINICAL = DataClass.CLINICAL_NOTES
FINANCE = DataClass.FINANCE


def _sees(agency: Any, data_class: str, case_file: Any, user: Any) -> bool:
    """Both shapes of the rule agree, and say whether ``user`` sees the class of the file."""
    row = CaseFile.objects.visible_to(agency, data_class, user).filter(pk=case_file.pk).exists()
    ids = (
        CaseFile.objects.visible_to(agency, data_class, user, listing=True)
        .filter(pk=case_file.pk)
        .exists()
    )
    assert row == ids
    return row


@pytest.fixture
def fiona(council: Any) -> Any:
    return staff(council, Role.FINANCE_OFFICER, "fiona", first_name="Fiona")


@pytest.fixture
def notes(council_file: Any, carol: Any) -> dict[str, CaseNote]:
    return {
        "clinical": note_in(council_file, by=carol, text="Falls at night; new medication."),
        "abuse": note_in(
            council_file, by=carol, text="Discloses domestic abuse by son.", restricted=True
        ),
        "finance": note_in(
            council_file, by=carol, text="Assessed charge agreed.", data_class=FINANCE
        ),
        "finance_restricted": note_in(
            council_file,
            by=carol,
            text="Debt to a loan shark.",
            data_class=FINANCE,
            restricted=True,
        ),
    }


def test_every_new_agency_gets_the_default_rows(db: Any) -> None:
    agency = AgencyFactory(kind=AgencyKind.ACUTE_TRUST)
    rows = set(NeedToKnow.objects.filter(agency=agency).values_list("role", "data_class"))
    assert (Role.NURSE, CLINICAL) in rows
    assert (Role.FINANCE_OFFICER, FINANCE) in rows
    assert (Role.FINANCE_OFFICER, CLINICAL) not in rows
    assert not any(role == Role.CARE_MANAGER for role, _ in rows)  # not a health role
    assert DEFAULT_NEED_TO_KNOW[Role.FINANCE_OFFICER][1] is False


def test_a_finance_officer_reads_demographics_and_finance_of_her_own_agencys_file(
    council: Any, council_file: Any, fiona: Any, carol: Any, notes: dict[str, CaseNote]
) -> None:
    for dc in DataClass.values:
        assert _sees(council, dc, council_file, fiona) is (dc in (DataClass.DEMOGRAPHICS, FINANCE))
        assert _sees(council, dc, council_file, carol)
    assert set(CaseNote.objects.visible_to(council, fiona)) == {notes["finance"]}
    assert set(CaseNote.objects.visible_to(council, carol)) == set(notes.values())
    # The agency as a body (a task) still sees its whole file.
    assert set(CaseNote.objects.visible_to(council)) == set(notes.values())


def test_several_roles_give_the_union(
    council: Any, council_file: Any, fiona: Any, notes: dict[str, CaseNote]
) -> None:
    directory.add_membership(user=fiona, agency=council, role=Role.CARE_MANAGER)
    assert _sees(council, CLINICAL, council_file, fiona)
    assert set(CaseNote.objects.visible_to(council, fiona)) == set(notes.values())


def test_roles_at_another_agency_count_for_nothing(
    council: Any, hospital: Any, council_file: Any, carol: Any
) -> None:
    """tom.rehab's case: a physio at one agency and a finance officer at another reads, for
    each, what that agency's role needs."""
    tom = staff(hospital, Role.NURSE, "tom")
    directory.add_membership(user=tom, agency=council, role=Role.FINANCE_OFFICER)
    share(council_file.person, holder=council, recipient=hospital, by=carol, classes=[CLINICAL])
    assert _sees(hospital, CLINICAL, council_file, tom)
    assert not _sees(council, CLINICAL, council_file, tom)
    assert _sees(council, FINANCE, council_file, tom)
    assert not _sees(hospital, FINANCE, council_file, tom)  # nor is it shared


def test_a_shared_class_reaches_only_the_roles_that_need_it(
    council: Any, hospital: Any, council_file: Any, carol: Any, nina: Any
) -> None:
    finance_at_hospital = staff(hospital, Role.FINANCE_OFFICER, "hfinance")
    share(council_file.person, holder=council, recipient=hospital, by=carol, classes=[CLINICAL])
    assert _sees(hospital, CLINICAL, council_file, nina)
    assert not _sees(hospital, CLINICAL, council_file, finance_at_hospital)
    assert _sees(hospital, CLINICAL, council_file, None)


def test_a_change_to_the_table_counts_on_the_next_query(
    council: Any, council_file: Any, fiona: Any, notes: dict[str, CaseNote]
) -> None:
    NeedToKnow.objects.create(
        agency=council, role=Role.FINANCE_OFFICER, data_class=CLINICAL, restricted_items=False
    )
    assert _sees(council, CLINICAL, council_file, fiona)
    assert set(CaseNote.objects.visible_to(council, fiona)) == {notes["finance"], notes["clinical"]}
    NeedToKnow.objects.filter(agency=council, role=Role.FINANCE_OFFICER, data_class=FINANCE).update(
        restricted_items=True
    )
    assert notes["finance_restricted"] in CaseNote.objects.visible_to(council, fiona)
    NeedToKnow.objects.filter(agency=council, role=Role.FINANCE_OFFICER).delete()
    assert not Person.objects.visible_to(council, fiona).exists()


def test_the_person_page_leaves_out_what_the_role_does_not_need_and_says_so(
    council: Any, council_file: Any, fiona: Any, notes: dict[str, CaseNote]
) -> None:
    page = signed_in(fiona).get(reverse("person_detail", args=[council_file.person.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert council_file.person.nhs_number_display in text  # demographics: the header
    assert "Assessed charge agreed." in text
    for hidden in ("Falls at night", "domestic abuse", "loan shark"):
        assert hidden not in text
    assert (
        "Your role does not give you access to assessments, care plans, referrals, "
        "clinical notes." in text
    )
    assert "Your role does not give you access to notes marked restricted." in text
    assert "Charges for care" in text
    assert "Assessments and scales" not in text
    denial = events(Action.ACCESS_DENIED, person_id=council_file.person_id)[-1]
    assert denial.detail["reason"] == "role_need_to_know"
    assert denial.detail["data_classes"] == [
        DataClass.ASSESSMENTS,
        DataClass.CARE_PLANS,
        DataClass.REFERRALS,
        CLINICAL,
    ]
    assert denial.detail["restricted_notes"] is True


def test_a_note_the_role_may_not_read_is_not_found_and_the_refusal_audited(
    fiona: Any, carol: Any, notes: dict[str, CaseNote]
) -> None:
    fiona_client = signed_in(fiona)
    for name in ("clinical", "abuse", "finance_restricted"):
        response = fiona_client.get(reverse("note_detail", args=[notes[name].pk]))
        assert response.status_code == 404
        denial = events(Action.ACCESS_DENIED)[-1]
        assert denial.detail["reason"] == "not_permitted"
        assert denial.detail["id"] == str(notes[name].pk)
    assert fiona_client.get(reverse("note_detail", args=[notes["finance"].pk])).status_code == 200
    assert signed_in(carol).get(reverse("note_detail", args=[notes["abuse"].pk])).status_code == 200


def test_a_care_manager_sees_everything_and_is_told_nothing_is_withheld(
    council_file: Any, carol: Any, notes: dict[str, CaseNote]
) -> None:
    text = signed_in(carol).get(reverse("person_detail", args=[council_file.person.pk]))
    body = text.content.decode()
    assert "Discloses domestic abuse by son." in body
    assert "Your role does not give you access" not in body
    assert not events(Action.ACCESS_DENIED, person_id=council_file.person_id)
