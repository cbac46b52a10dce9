"""The generated permission matrix of the browser pages: every caretrust page that names an
object in its path, asked by the council's Caldicott guardian (who holds every role the pages
need) for the council's own object, one shared with the council by the hospital (visible, not
changeable), an outsider's, and one that does not exist.

Own -> 200; shared -> 200 on a page that only reads, 403 on one that changes (GET and POST);
outsider and nonexistent -> 404, alike. The pages are found from the URL configuration, so a
new page that names an object fails ``test_every_page_that_names_an_object_is_in_the_matrix``
until it is given its row here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from caretrust.people.models import DataClass
from caretrust.sharing import services as sharing
from caretrust.sharing.models import BreakGlassReview
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory, share
from tests.sharing.conftest import note_in, staff

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    kind: str  # which object its path names: person, basis, note, review, user
    changes: bool  # a page that changes its object (or how it is shared)
    extra: tuple[Any, ...] = ()  # further path arguments after the object's id


PAGES = {
    "person_detail": Page("person", changes=False),
    "record_basis": Page("person", changes=True, extra=("consent",)),
    "access_report": Page("person", changes=True),  # the holder's governance only
    "withdraw_basis": Page("basis", changes=True),
    "note_detail": Page("note", changes=False),
    "break_glass_review": Page("review", changes=True),
    "user_activity": Page("user", changes=False),
}


def _object_pages(patterns: list[Any], prefix: str = "") -> dict[str, list[str]]:
    """Every named caretrust page whose path takes arguments: its name and their names."""
    found: dict[str, list[str]] = {}
    for p in patterns:
        if isinstance(p, URLResolver):
            found |= _object_pages(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern) and p.name and p.pattern.converters:
            module = getattr(p.callback, "__module__", "")
            if module.startswith("caretrust.") and not (prefix + str(p.pattern)).startswith(
                ("api/", "admin/", "o/")
            ):
                found[p.name] = list(p.pattern.converters)
    return found


def test_every_page_that_names_an_object_is_in_the_matrix():
    assert set(_object_pages(get_resolver().url_patterns)) == set(PAGES)


@pytest.fixture
def world(council, hospital, outsider_agency, carol, nina, oscar):
    """The council's, a shared, and an outsider's object of each kind."""
    grace = staff(council, "caldicott_guardian", "grace")
    own_file = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    hospital_file = CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())
    outsider_file = CaseFileFactory(agency=outsider_agency, lead_worker=oscar)
    classes = (DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES)
    shared = share(
        hospital_file.person, holder=hospital, recipient=council, by=nina, classes=classes
    )
    sharing.break_glass(
        person=own_file.person, user=nina, acting_agency=hospital, reason="Collapsed on the ward."
    )
    sharing.break_glass(
        person=outsider_file.person, user=nina, acting_agency=hospital, reason="Collapsed again."
    )
    objects = {
        "person": (own_file.person.pk, hospital_file.person.pk, outsider_file.person.pk),
        "basis": (
            share(own_file.person, holder=council, recipient=hospital, by=carol).pk,
            shared.pk,
            share(outsider_file.person, holder=outsider_agency, recipient=hospital, by=oscar).pk,
        ),
        "note": (
            note_in(own_file, by=carol, text="Seen at home.").pk,
            note_in(hospital_file, by=nina, text="Seen on the ward.").pk,
            note_in(outsider_file, by=oscar, text="Seen in clinic.").pk,
        ),
        "review": (
            BreakGlassReview.objects.get(guardian_agency=council).pk,
            None,
            BreakGlassReview.objects.get(guardian_agency=outsider_agency).pk,
        ),
        "user": (carol.pk, None, oscar.pk),
    }
    missing = {"person": uuid.uuid4(), "basis": uuid.uuid4(), "note": uuid.uuid4()}
    missing |= {"review": 999_999, "user": 999_999}
    return signed_in(grace), objects, missing


# A break-glass review or a member of staff is never shared between agencies.
SHAREABLE = {"person", "basis", "note"}
CASES = [
    (name, whose, method)
    for name, page in PAGES.items()
    for whose in ("own", "shared", "outsider", "missing")
    if whose != "shared" or page.kind in SHAREABLE
    for method in (("get", "post") if page.changes and whose != "own" else ("get",))
]


@pytest.mark.parametrize(("name", "whose", "method"), CASES)
def test_a_page_answers_as_the_matrix_says(world, name, whose, method):
    client, objects, missing = world
    page = PAGES[name]
    own, shared, outsider = objects[page.kind]
    target = {"own": own, "shared": shared, "outsider": outsider, "missing": missing[page.kind]}
    expected = {
        "own": 200,
        "shared": 403 if page.changes else 200,
        "outsider": 404,
        "missing": 404,
    }[whose]

    url = reverse(name, args=[target[whose], *page.extra])
    response = getattr(client, method)(url)

    assert response.status_code == expected, f"{method.upper()} {url}"
