"""The Django admin is no way round the visibility rule: it lists no people, case files or
carers, and its sharing-governance pages never say whom a basis is about."""

from __future__ import annotations

from typing import Any

import pytest

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.models import DataClass
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, Purpose
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory, UserFactory

PEOPLE_PAGES = [
    "/admin/people/person/",
    "/admin/people/casefile/",
    "/admin/people/carerlink/",
    "/admin/people/",
]


@pytest.fixture
def root(db: Any) -> Any:
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def withdrawn(council: Any, hospital: Any, carol: Any) -> Any:
    person = PersonFactory(given_name="Zebedee", family_name="Quixotic", nhs_number="9990001155")
    CaseFileFactory(person=person, agency=council, lead_worker=carol)
    basis = sharing.record_consent(
        person=person,
        holding_agency=council,
        recipient_agency=hospital,
        data_classes=[DataClass.DEMOGRAPHICS],
        purpose=Purpose.DIRECT_CARE,
        grantor=Grantor.PERSON,
        grantor_name="Zebedee Quixotic",
        evidence=Evidence.VERBAL,
        by=carol,
    )
    return sharing.withdraw_basis(
        basis=basis, reason="Zebedee asked us to stop", by=carol, acting_agency=council
    )


@pytest.mark.parametrize("path", PEOPLE_PAGES)
def test_people_are_not_in_the_admin_even_for_a_superuser(root: Any, path: str) -> None:
    assert signed_in(root).get(path).status_code == 404


def test_the_admin_index_offers_no_people_pages(root: Any) -> None:
    page = signed_in(root).get("/admin/").content.decode()

    assert "/admin/directory/agency/" in page  # the index itself is there
    assert "/admin/people/" not in page


def test_the_sharing_pages_never_say_whom_a_basis_is_about(root: Any, withdrawn: Any) -> None:
    client = signed_in(root)
    pages = [
        client.get("/admin/sharing/sharingbasis/"),
        client.get(f"/admin/sharing/sharingbasis/{withdrawn.pk}/change/"),
    ]

    for response in pages:
        assert response.status_code == 200
        body = response.content.decode()
        assert "Withdrawn" in body or "withdrawn" in body  # the basis is shown...
        for revealing in ("Zebedee", "Quixotic", "999 000 1155", "9990001155", "asked us"):
            assert revealing not in body  # ...but not whom it is about, nor the reason given


def test_what_the_admin_shows_is_audited(root: Any, withdrawn: Any) -> None:
    signed_in(root).get(f"/admin/sharing/sharingbasis/{withdrawn.pk}/change/")

    event = AuditEvent.objects.filter(action=Action.ADMIN_VIEW).latest("id")
    assert event.actor_id == root.pk
    assert event.detail == {"model": "sharing.SharingBasis", "id": str(withdrawn.pk)}


@pytest.mark.parametrize(
    "query",
    [
        "person={person}",
        "grantor_name__istartswith=Zeb",
        "reason__icontains=asked",
        "person__family_name=Quixotic",
    ],
)
def test_the_sharing_list_cannot_be_filtered_on_what_it_does_not_show(
    root: Any, withdrawn: Any, query: str
) -> None:
    """A filter on the person or on free text would be an oracle: the count of the answer
    would say whom a basis is about. Only the sidebar's filters are accepted."""
    url = "/admin/sharing/sharingbasis/?" + query.format(person=withdrawn.person_id)

    assert signed_in(root).get(url).status_code == 400


def test_the_sidebar_filters_still_work(root: Any, withdrawn: Any) -> None:
    response = signed_in(root).get("/admin/sharing/sharingbasis/?status__exact=withdrawn")

    assert response.status_code == 200
    assert str(withdrawn.pk) in response.content.decode()
