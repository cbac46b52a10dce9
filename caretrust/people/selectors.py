"""Every read of people's data. Each starts from the visibility rule and is audited; the
browser's views and the API's viewsets both call these (``parse_uuid`` and the denial helper
``visible_or_404`` come from the rule's module, ``caretrust.sharing.visibility``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency
from caretrust.people.models import CarerLink, CaseFile, CaseNote, DataClass, Person
from caretrust.sharing.need_to_know import role_classes
from caretrust.sharing.visibility import mark_visible_classes, parse_uuid, visible_or_404

T = TypeVar("T")
# What a list endpoint does to the rule's queryset: its filters, then its page.
Paging = Callable[[QuerySet[T]], Sequence[T]]

PAGE_SIZE = 25


def caseload(*, user: Any, agency: Agency, page: int | str | None = 1) -> Page[CaseFile]:
    """The worker's open case files at their active agency, oldest first so nobody waits."""
    files = (
        CaseFile.objects.visible_to(agency, user=user)
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
    people: QuerySet[Person] = Person.objects.visible_to(agency, user)
    if query.nhs_number:
        people = people.filter(nhs_number=query.nhs_number)
    elif query.date_of_birth is None:
        people = people.none()  # the form requires a date of birth with a name
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


def first_by_uuid(queryset: QuerySet[Any], value: object) -> Any:
    """The row whose (UUID) primary key is ``value``, or None for a missing row or an id that
    is not a UUID at all: the two look the same to the caller."""
    pk = parse_uuid(value)
    return queryset.filter(pk=pk).first() if pk is not None else None


def get_visible_person(
    *,
    user: Any,
    agency: Agency,
    person_id: object,
    purpose: str = "view",
    audit_view: bool = True,
) -> Person:
    """A person the agency may see, with their GP practice, or Http404, whether the person is
    missing or hidden: the two answers are identical to the caller and told apart only in the
    audit trail. The sight is audited unless ``audit_view`` is false (then the caller's own
    ``record_person_viewed`` says more)."""
    person = visible_or_404(
        Person.objects.visible_to(agency, user).select_related("gp_practice"),
        person_id,
        user=user,
        agency=agency,
        what="person",
        purpose=purpose,
    )
    if audit_view:
        record_person_viewed(user=user, agency=agency, person=person, purpose=purpose)
    return person


def record_person_viewed(
    *, user: Any, agency: Agency, person: Person, purpose: str, **detail: Any
) -> None:
    """The audit row for a read of ``person``, with why and anything more the read showed.

    ``get_visible_person(..., audit_view=False)`` leaves it to its caller, whose row says
    more than that the person was seen (the integrated view lists the files and notes shown)."""
    audit.record(
        Action.PERSON_VIEWED,
        actor=user,
        agency=agency,
        obj=person,
        person_id=person.pk,
        detail={"purpose": purpose, **detail},
    )


def list_persons(
    *, user: Any, agency: Agency, page: Paging[Person], query: dict[str, str]
) -> Sequence[Person]:
    """One page of the people the agency may see, newest first, narrowed and cut by ``page``
    (the API's filters and cursor); the query and the ids returned are audited."""
    people = page(
        Person.objects.visible_to(agency, user)
        .select_related("gp_practice")  # serialized as its slug: one query, not one a row
        .order_by("-created_at", "id")
    )
    audit.record(
        Action.PERSON_SEARCHED,
        actor=user,
        agency=agency,
        detail={
            "query": {k: v[:100] for k, v in query.items()},
            "persons": [str(p.pk) for p in people],
            "via": "api",
        },
    )
    return people


def list_case_files(*, user: Any, agency: Agency, page: Paging[CaseFile]) -> Sequence[CaseFile]:
    """One page of the case files the agency may see for at least one data class (its whole
    caseload: the id-set shape of the rule), each with the data classes it may see
    (``can_<class>``); the files and people returned are audited."""
    files = mark_visible_classes(
        page(
            CaseFile.objects.visible_to(agency, None, user, listing=True)
            .select_related("agency", "lead_worker")
            .order_by("-created_at", "id")
        ),
        agency,
        user,
    )
    audit.record(
        Action.CASELOAD_LISTED,
        actor=user,
        agency=agency,
        detail={
            "case_files": [str(f.pk) for f in files],
            "persons": sorted({str(f.person_id) for f in files}),
            "via": "api",
        },
    )
    return files


def get_visible_case_file(
    *, user: Any, agency: Agency, case_file_id: object, purpose: str = "case_file", **detail: Any
) -> CaseFile:
    """A case file the agency may see for at least one data class, with the classes it may
    see (``can_<class>``), or Http404; the sight is audited under the person."""
    case_file = visible_or_404(
        CaseFile.objects.visible_to(agency, None, user).select_related("agency", "lead_worker"),
        case_file_id,
        user=user,
        agency=agency,
        what="case_file",
        purpose=purpose,
        **detail,
    )
    mark_visible_classes([case_file], agency, user)
    audit.record(
        Action.PERSON_VIEWED,
        actor=user,
        agency=agency,
        obj=case_file,
        person_id=case_file.person_id,
        detail={"purpose": purpose, **detail},
    )
    return case_file


@dataclass(frozen=True)
class SharedFile:
    """One case file as the active agency sees it: which data classes, and the notes."""

    case_file: CaseFile
    data_classes: list[str]
    notes: list[CaseNote]

    @property
    def is_own(self) -> bool:
        return bool(getattr(self.case_file, "is_own", False))


@dataclass(frozen=True)
class PersonRecord:
    person: Person
    files: list[SharedFile]
    carers: list[CarerLink]
    cared_for: list[CarerLink]
    visible_person_ids: set[UUID]
    # Need to know: the data classes the user's role(s) at the agency do not need, and
    # whether restricted notes are beyond them too. Said on the page whatever the file holds,
    # so the words reveal neither content nor counts.
    withheld: list[str] = field(default_factory=list)
    restricted_withheld: bool = False
    # The same as ``role_classes`` gave: what the roles read, and read restricted items of.
    needed: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))

    @property
    def case_files(self) -> list[CaseFile]:
        return [f.case_file for f in self.files]


def person_record(*, user: Any, agency: Agency, person_id: object) -> PersonRecord:
    """The integrated view: every case file on the person the active agency may see, each with
    the data classes it may see and the notes in them, in a fixed number of queries."""
    person = get_visible_person(user=user, agency=agency, person_id=person_id, audit_view=False)
    files = mark_visible_classes(
        CaseFile.objects.filter(person=person)
        .visible_to(agency, None, user)
        .select_related("agency", "team", "lead_worker")
        .order_by("agency__name"),
        agency,
        user,
    )
    notes_by_file: dict[UUID, list[CaseNote]] = {}
    for note in (
        CaseNote.objects.visible_to(agency, user)
        .filter(case_file__person=person)
        .select_related("author")
    ):
        notes_by_file.setdefault(note.case_file_id, []).append(note)
    shared = []
    for f in files:
        f.is_own = f.agency_id == agency.pk  # type: ignore[attr-defined]
        classes = [dc for dc in DataClass.values if getattr(f, f"can_{dc}")]
        shown = [n for n in notes_by_file.get(f.pk, []) if n.data_class in classes]
        shared.append(SharedFile(f, classes, shown))
    carers = list(person.carer_links.select_related("carer").order_by("-hours_per_week"))
    cared_for = list(person.caring_for.select_related("person"))
    linked = {link.carer_id for link in carers} | {link.person_id for link in cared_for}
    visible = (
        set(
            Person.objects.visible_to(agency, user)
            .filter(pk__in=linked)
            .values_list("pk", flat=True)
        )
        if linked
        else set()
    )
    # A carer is a person in their own right: the page names a linked person only where the
    # one rule lets the agency see them (otherwise it says there is a carer, and how much care,
    # which is the viewed person's own record). A name shown is a sight of that person's record
    # too: account for it under them, so their own "who has seen my record" report includes it.
    hidden = linked - visible
    if hidden:
        audit.record_denial(
            actor=user,
            agency=agency,
            what="linked_person",
            object_id=person.pk,
            reason="not_shared",
            person_id=person.pk,
            withheld=sorted(str(pk) for pk in hidden),
        )
    for other in sorted(visible, key=str):
        audit.record(
            Action.PERSON_VIEWED,
            actor=user,
            agency=agency,
            person_id=other,
            detail={"purpose": "named_as_carer_link", "on_record_of": str(person.pk)},
        )
    record_person_viewed(
        user=user,
        agency=agency,
        person=person,
        purpose="integrated_view",
        case_files={str(f.case_file.pk): f.data_classes for f in shared},
        notes=[str(n.pk) for f in shared for n in f.notes],
    )
    needed, restricted = role_classes(agency, user)
    withheld = [dc for dc in DataClass.values if dc not in needed]
    restricted_withheld = not needed <= restricted
    if withheld or restricted_withheld:
        # The sections left out for the role are a refusal like any other: audited.
        audit.record_denial(
            actor=user,
            agency=agency,
            what="person",
            object_id=person.pk,
            reason="role_need_to_know",
            person_id=person.pk,
            data_classes=withheld,
            restricted_notes=restricted_withheld,
        )
    return PersonRecord(
        person,
        shared,
        carers,
        cared_for,
        visible,
        withheld,
        restricted_withheld,
        needed=(needed, restricted),
    )


def visible_carer_links(*, agency: Agency, user: Any, person_id: UUID | str) -> list[CarerLink]:
    """The person's carers whom the agency may see (the one rule): the only carers a form may
    offer by name, or a meeting record as present."""
    return list(
        CarerLink.objects.filter(
            person_id=person_id,
            carer_id__in=Person.objects.visible_to(agency, user).values("pk"),
        )
        .select_related("carer")
        .order_by("-hours_per_week", "pk")
    )


def get_visible_note(*, user: Any, agency: Agency, note_id: object) -> CaseNote:
    """One note by id: 404 alike whether it does not exist, its file is not shared, its data
    class is not shared, or it is restricted to its holding agency."""
    note = visible_or_404(
        CaseNote.objects.visible_to(agency, user).select_related(
            "case_file__agency", "case_file__person", "author"
        ),
        note_id,
        user=user,
        agency=agency,
        what="note",
    )
    audit.record(
        Action.NOTE_VIEWED, actor=user, agency=agency, obj=note, person_id=note.case_file.person_id
    )
    return note


def registered_person_visible_to(*, user: Any, agency: Agency, nhs_number: str) -> Person | None:
    """For a duplicate NHS number: the existing record, only if the agency may see it (and
    then the sight of it is audited like any other read)."""
    person = Person.objects.visible_to(agency).filter(nhs_number=nhs_number).first()
    if person is not None:
        record_person_viewed(
            user=user, agency=agency, person=person, purpose="duplicate_nhs_number"
        )
    return person
