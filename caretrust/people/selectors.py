"""Every read of people's data. Each starts from the visibility rule and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency
from caretrust.people.models import CarerLink, CaseFile, Person

PAGE_SIZE = 25


def caseload(*, user: Any, agency: Agency, page: int | str | None = 1) -> Page[CaseFile]:
    """The worker's open case files at their active agency, oldest first so nobody waits."""
    files = (
        CaseFile.objects.visible_to(agency)
        .open()
        .filter(lead_worker=user)
        .select_related("person", "team")
        .order_by("opened_on", "id")
    )
    result = Paginator(files, PAGE_SIZE).get_page(page)
    audit.record(
        Action.CASELOAD_LISTED,
        actor=user,
        agency=agency,
        detail={"page": result.number, "case_files": [str(f.pk) for f in result]},
    )
    return result


@dataclass(frozen=True)
class PersonQuery:
    nhs_number: str = ""
    family_name: str = ""
    given_name: str = ""
    date_of_birth: date | None = None

    def as_audit(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v}


def search_persons(
    *, user: Any, agency: Agency, query: PersonQuery, page: int | str | None = 1
) -> Page[Person]:
    """Find people by NHS number, or by family name (and optionally given name) with date of
    birth, among those the agency may see. The query and the ids returned are audited."""
    people: QuerySet[Person] = Person.objects.visible_to(agency)
    if query.nhs_number:
        people = people.filter(nhs_number=query.nhs_number)
    else:
        people = people.filter(
            family_name__iexact=query.family_name, date_of_birth=query.date_of_birth
        )
        if query.given_name:
            people = people.filter(given_name__istartswith=query.given_name)
    result = Paginator(people.order_by("family_name", "given_name", "id"), PAGE_SIZE).get_page(page)
    audit.record(
        Action.PERSON_SEARCHED,
        actor=user,
        agency=agency,
        detail={
            "query": query.as_audit(),
            "page": result.number,
            "persons": [str(p.pk) for p in result],
        },
    )
    return result


def _parse_uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def get_visible_person(
    *, user: Any, agency: Agency, person_id: object, purpose: str = "view"
) -> Person:
    """A person the agency may see, or Http404, whether the person is missing or hidden: the
    two answers are identical to the caller and told apart only in the audit trail."""
    pk = _parse_uuid(person_id)
    person = Person.objects.visible_to(agency).filter(pk=pk).first() if pk else None
    if person is None:
        exists = pk is not None and Person.objects.filter(pk=pk).exists()
        audit.record(
            Action.ACCESS_DENIED,
            actor=user,
            agency=agency,
            person_id=pk if exists else None,
            detail={
                "object": "person",
                "id": str(person_id)[:64],
                "purpose": purpose,
                "reason": "not_permitted" if exists else "not_found",
            },
        )
        raise Http404("No such person.")
    audit.record(
        Action.PERSON_VIEWED,
        actor=user,
        agency=agency,
        obj=person,
        person_id=person.pk,
        detail={"purpose": purpose},
    )
    return person


@dataclass(frozen=True)
class PersonRecord:
    person: Person
    case_files: list[CaseFile]
    carers: list[CarerLink]
    cared_for: list[CarerLink]
    visible_person_ids: set[UUID]


def person_record(*, user: Any, agency: Agency, person_id: object) -> PersonRecord:
    """Everything on one person the active agency may see, in a fixed number of queries."""
    person = get_visible_person(user=user, agency=agency, person_id=person_id)
    files = list(
        CaseFile.objects.visible_to(agency)
        .filter(person=person)
        .select_related("agency", "team", "lead_worker")
    )
    carers = list(person.carer_links.select_related("carer").order_by("-hours_per_week"))
    cared_for = list(person.caring_for.select_related("person"))
    linked = {link.carer_id for link in carers} | {link.person_id for link in cared_for}
    visible = (
        set(Person.objects.visible_to(agency).filter(pk__in=linked).values_list("pk", flat=True))
        if linked
        else set()
    )
    # A carer's name on this page is a sight of the carer's record too: account for it under
    # the carer, so their own "who has seen my record" report includes it.
    for other in sorted(linked, key=str):
        audit.record(
            Action.PERSON_VIEWED,
            actor=user,
            agency=agency,
            person_id=other,
            detail={"purpose": "named_as_carer_link", "on_record_of": str(person.pk)},
        )
    return PersonRecord(person, files, carers, cared_for, visible)


def registered_person_visible_to(*, user: Any, agency: Agency, nhs_number: str) -> Person | None:
    """For a duplicate NHS number: the existing record, only if the agency may see it (and
    then the sight of it is audited like any other read)."""
    person = Person.objects.visible_to(agency).filter(nhs_number=nhs_number).first()
    if person is not None:
        audit.record(
            Action.PERSON_VIEWED,
            actor=user,
            agency=agency,
            obj=person,
            person_id=person.pk,
            detail={"purpose": "duplicate_nhs_number"},
        )
    return person
