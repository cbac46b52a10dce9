"""Lists, searches, counts and pages show only what is shared: 40 council files, 30 of them
shared with the hospital, and nothing of the other 10 leaks into a count, a page or a result."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from caretrust.audit.models import Action
from caretrust.people.models import CaseFile, DataClass, Person
from caretrust.people.selectors import PAGE_SIZE
from tests.factories import CaseFileFactory, PersonFactory
from tests.sharing.conftest import events, share

DOB = dt.date(1940, 2, 29)
FAMILY = "Illingworth"


def _council_people(count, *, council, carol, prefix="Person"):
    return [
        CaseFileFactory(
            agency=council,
            lead_worker=carol,
            person=PersonFactory(
                given_name=f"{prefix}{n:02d}", family_name=FAMILY, date_of_birth=DOB
            ),
        ).person
        for n in range(count)
    ]


@pytest.fixture
def forty_council_people(council, carol):
    return _council_people(40, council=council, carol=carol)


@pytest.fixture
def thirty_shared(forty_council_people, council, hospital, carol):
    """Every fourth person is not shared: the unshared are spread through the name order."""
    shared = [p for n, p in enumerate(forty_council_people) if n % 4 != 3]
    for person in shared:
        share(person, holder=council, recipient=hospital, by=carol)
    return shared


def _search(client, **params):
    return client.get(reverse("person_search"), params)


def _name_search(client, page=None):
    params = {"family_name": FAMILY, "date_of_birth": DOB.isoformat()}
    if page is not None:
        params["page"] = page
    return _search(client, **params)


def _linked_people(response, people):
    page = response.content.decode()
    return {p.pk for p in people if reverse("person_detail", args=[p.pk]) in page}


def test_the_hospital_sees_exactly_the_shared_people(
    forty_council_people, thirty_shared, hospital, nina
):
    visible = Person.objects.visible_to(hospital)

    assert visible.count() == 30
    assert set(visible.values_list("pk", flat=True)) == {p.pk for p in thirty_shared}
    assert Person.objects.visible_to(hospital, nina).count() == 30
    assert CaseFile.objects.visible_to(hospital).count() == 30
    # Demographics were shared, nothing else.
    assert CaseFile.objects.visible_to(hospital, DataClass.CLINICAL_NOTES).count() == 0


def test_a_name_search_counts_and_pages_only_the_shared_people(
    nina_client, forty_council_people, thirty_shared
):
    unshared = [p for p in forty_council_people if p not in thirty_shared]

    first = _name_search(nina_client)
    second = _name_search(nina_client, page=2)

    for response in (first, second):
        assert response.status_code == 200
        assert "30 people found" in response.content.decode()
        assert "of 2" in response.content.decode()
        assert _linked_people(response, unshared) == set()
    assert first.context["page"].paginator.count == 30
    assert first.context["page"].paginator.num_pages == 2
    assert len(_linked_people(first, thirty_shared)) == PAGE_SIZE
    assert len(_linked_people(second, thirty_shared)) == 30 - PAGE_SIZE
    assert _linked_people(first, thirty_shared) | _linked_people(second, thirty_shared) == {
        p.pk for p in thirty_shared
    }


def test_a_page_past_the_end_shows_the_last_shared_page_not_the_unshared(
    nina_client, forty_council_people, thirty_shared
):
    unshared = [p for p in forty_council_people if p not in thirty_shared]

    response = _name_search(nina_client, page=3)

    assert response.context["page"].number == 2
    assert _linked_people(response, unshared) == set()


def test_the_holding_agency_still_finds_all_forty(
    carol_client, forty_council_people, thirty_shared
):
    response = _name_search(carol_client)

    assert "40 people found" in response.content.decode()


def test_an_unshared_person_is_not_found_by_nhs_number(
    nina_client, forty_council_people, thirty_shared
):
    unshared = next(p for p in forty_council_people if p not in thirty_shared)
    shared = thirty_shared[0]

    missing = _search(nina_client, nhs_number=unshared.nhs_number_display)
    found = _search(nina_client, nhs_number=shared.nhs_number)

    assert "0 people found" in missing.content.decode()
    assert unshared.given_name not in missing.content.decode()
    assert str(unshared.pk) not in missing.content.decode()
    assert "1 person found" in found.content.decode()
    assert reverse("person_detail", args=[shared.pk]) in found.content.decode()


def test_the_audit_of_a_search_lists_only_the_shared_people_returned(
    nina_client, nina, forty_council_people, thirty_shared
):
    _name_search(nina_client)
    _name_search(nina_client, page=2)

    first, second = events(Action.PERSON_SEARCHED, actor_id=nina.pk)
    returned = set(first.detail["persons"]) | set(second.detail["persons"])
    assert returned == {str(p.pk) for p in thirty_shared}
    assert (first.detail["page"], second.detail["page"]) == (1, 2)


def test_the_search_page_takes_the_same_number_of_queries_for_3_or_25_shared_people(
    nina_client, council, hospital, carol
):
    people = _council_people(25, council=council, carol=carol)
    for person in people[:3]:
        share(person, holder=council, recipient=hospital, by=carol)
    _name_search(nina_client)  # settle the session's active agency first
    with CaptureQueriesContext(connection) as with_three:
        response = _name_search(nina_client)
    assert "3 people found" in response.content.decode()

    for person in people[3:]:
        share(person, holder=council, recipient=hospital, by=carol)
    with CaptureQueriesContext(connection) as with_twenty_five:
        response = _name_search(nina_client)

    assert "25 people found" in response.content.decode()
    assert len(with_twenty_five) == len(with_three)
