"""Every role x every data class, generated from the vocabularies, not hand-listed: what a
member of staff in that role reads of their own agency's file, through the API (the case
file's ``visible_data_classes``, by session) and the browser (a note of each class, plain and
restricted), must be what the agency's need-to-know table says; and a partner client, which
acts for its agency rather than a role, reads every class its scopes reach.

The agency is a care trust, which may have every role. A new role or data class joins the
matrix by itself, and fails it until the defaults say what it needs.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from caretrust.api.services import create_partner_client
from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from caretrust.people.models import CaseNote, DataClass
from caretrust.sharing.need_to_know import DEFAULT_NEED_TO_KNOW
from tests.api.conftest import bearer, obtain_token
from tests.conftest import signed_in
from tests.factories import AgencyFactory, CaseFileFactory, PersonFactory, UserFactory

STAFF_ROLES = [r for r in Role.values if r != Role.PARTNER_SYSTEM]


def test_the_defaults_name_every_role_and_only_known_classes() -> None:
    assert set(DEFAULT_NEED_TO_KNOW) == set(Role.values)
    for classes, _restricted in DEFAULT_NEED_TO_KNOW.values():
        assert classes <= set(DataClass.values)
        assert DataClass.DEMOGRAPHICS in classes  # else the role could not open a person
    finance, restricted = DEFAULT_NEED_TO_KNOW[Role.FINANCE_OFFICER]
    assert finance == {DataClass.DEMOGRAPHICS, DataClass.FINANCE} and not restricted


@pytest.fixture
def trust_file(db: Any) -> Any:
    trust = AgencyFactory(kind=AgencyKind.CARE_TRUST)
    lead = UserFactory()
    directory.add_membership(user=lead, agency=trust, role=Role.CARE_MANAGER)
    case_file = CaseFileFactory(agency=trust, lead_worker=lead, person=PersonFactory())
    case_file.notes_by = {  # type: ignore[attr-defined]
        (dc, restricted): CaseNote.objects.create(
            case_file=case_file,
            data_class=dc,
            text=f"{dc} note",
            restricted=restricted,
            author=lead,
        )
        for dc in DataClass.values
        for restricted in (False, True)
    }
    return case_file


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_role_reads_the_classes_its_work_needs(role: str, trust_file: Any) -> None:
    user = UserFactory()
    directory.add_membership(user=user, agency=trust_file.agency, role=role)
    needed, restricted = DEFAULT_NEED_TO_KNOW[role]

    api = APIClient()
    api.force_login(user)
    response = api.get(f"/api/v1/case-files/{trust_file.pk}/")
    assert response.status_code == 200
    assert set(response.json()["visible_data_classes"]) == needed

    browser = signed_in(user)
    for (dc, is_restricted), note in trust_file.notes_by.items():
        status = browser.get(reverse("note_detail", args=[note.pk])).status_code
        readable = dc in needed and (restricted or not is_restricted)
        assert status == (200 if readable else 404), (role, dc, is_restricted)


def test_a_partner_client_acts_for_its_agency_not_a_role(trust_file: Any) -> None:
    """Its scopes decide which resource groups it reads; the partner-system role's row
    covers every class, so the client reads every class of its agency's file."""
    new = create_partner_client(
        agency=trust_file.agency, name="Trust EPR", scopes=["casefiles:read"]
    )
    api = bearer(obtain_token(new.client_id, new.client_secret, "casefiles:read"))
    response = api.get(f"/api/v1/case-files/{trust_file.pk}/")
    assert response.status_code == 200
    assert set(response.json()["visible_data_classes"]) == set(DataClass.values)
