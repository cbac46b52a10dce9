"""Every write to people and case files: transactional and audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Membership, Team
from caretrust.people.models import PERSON_FIELDS, CarerLink, CaseFile, CaseNote, Person
from caretrust.people.selectors import registered_person_visible_to
from caretrust.people.validators import today_in_london
from caretrust.sharing.visibility import visible_or_404


class DuplicateNhsNumber(ValidationError):
    """The NHS number is registered already. ``visible_person`` is that record only when the
    caller's agency may see it; otherwise the caller learns nothing more than the fact."""

    def __init__(self, visible_person: Person | None) -> None:
        self.visible_person = visible_person
        super().__init__({"nhs_number": "This NHS number is already registered."}, code="duplicate")


def register_person(
    *,
    agency: Agency,
    by: Any,
    lead_worker: Any | None = None,
    team: Team | None = None,
    opened_on: date | None = None,
    **fields: Any,
) -> Person:
    """Register a person and open the registering agency's case file on them, so the agency
    can see the person it has just registered (and nobody else can, until shared)."""
    unknown = set(fields) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown person fields: {', '.join(sorted(unknown))}.")
    person = Person(**fields)
    person.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            person.save(force_insert=True)
            audit.record(
                Action.PERSON_CREATED, actor=by, agency=agency, obj=person, person_id=person.pk
            )
            open_case_file(
                person=person,
                agency=agency,
                lead_worker=lead_worker or by,
                team=team,
                by=by,
                opened_on=opened_on,
            )
    except IntegrityError as exc:
        if "nhs_number" not in str(exc):
            raise
        raise DuplicateNhsNumber(
            registered_person_visible_to(user=by, agency=agency, nhs_number=person.nhs_number)
        ) from None
    return person


def open_case_file(
    *,
    person: Person,
    agency: Agency,
    lead_worker: Any,
    by: Any,
    team: Team | None = None,
    opened_on: date | None = None,
) -> CaseFile:
    """Open the agency's file on a person, led by one of the agency's current staff."""
    if not Membership.objects.current().filter(user=lead_worker, agency=agency).exists():
        raise ValidationError({"lead_worker": f"{lead_worker} does not work for {agency}."})
    if team is not None and team.agency_id != agency.pk:
        raise ValidationError({"team": f"{team.name} belongs to {team.agency}, not {agency}."})
    case_file = CaseFile(
        person=person,
        agency=agency,
        lead_worker=lead_worker,
        team=team,
        opened_on=opened_on or today_in_london(),
    )
    case_file.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            case_file.save(force_insert=True)
            audit.record(
                Action.CASEFILE_OPENED, actor=by, agency=agency, obj=case_file, person_id=person.pk
            )
    except IntegrityError:
        raise ValidationError(f"{agency} already has a case file on this person.") from None
    return case_file


def close_case_file(*, case_file: CaseFile, closed_on: date, reason: str, by: Any) -> CaseFile:
    """Close a file. Locks the row so two closures cannot both win."""
    with transaction.atomic():
        locked = CaseFile.objects.select_for_update().get(pk=case_file.pk)
        if locked.closed_on is not None:
            raise ValidationError("This case file is already closed.")
        if closed_on < locked.opened_on or closed_on > today_in_london():
            raise ValidationError(
                {"closed_on": "A file closes on or after the day it opened, and not in the future."}
            )
        locked.closed_on = closed_on
        locked.closure_reason = reason
        locked.version += 1
        locked.save(update_fields=["closed_on", "closure_reason", "version"])
        audit.record(
            Action.CASEFILE_CLOSED,
            actor=by,
            agency=locked.agency,
            obj=locked,
            person_id=locked.person_id,
            detail={"reason": reason},
        )
    return locked


def link_carer(
    *,
    person: Person,
    carer: Person,
    relationship: str,
    hours_per_week: int,
    by: Any,
    agency: Agency | None = None,
) -> CarerLink:
    link = CarerLink(
        person=person, carer=carer, relationship=relationship, hours_per_week=hours_per_week
    )
    if person.pk == carer.pk:
        raise ValidationError("A person cannot be their own carer.")
    link.full_clean(validate_unique=False, validate_constraints=False)
    if not 0 <= hours_per_week <= 168:
        raise ValidationError({"hours_per_week": "Enter hours of care from 0 to 168 a week."})
    try:
        with transaction.atomic():
            link.save(force_insert=True)
            audit.record(
                Action.CARER_LINKED,
                actor=by,
                agency=agency,
                obj=link,
                person_id=person.pk,
                detail={"carer": str(carer.pk)},
            )
    except IntegrityError:
        raise ValidationError("This carer is already linked to this person.") from None
    return link


def write_note(
    *,
    agency: Agency,
    by: Any,
    case_file: Any,
    data_class: str,
    text: str,
    restricted: bool = False,
) -> CaseNote:
    """Write a note in one of the agency's own case files. A file the agency cannot see
    answers 404 exactly like a missing one; a file it sees only because it was shared answers
    403: sharing lets an agency read another's file, never write in it."""
    target = visible_or_404(
        CaseFile.objects.visible_to(agency, user=by),
        case_file,
        user=by,
        agency=agency,
        what="case_file",
        purpose="write_note",
    )
    if target.agency_id != agency.pk:
        audit.record_denial(
            actor=by,
            agency=agency,
            what="case_file",
            object_id=target.pk,
            obj=target,
            person_id=target.person_id,
            reason="read_only_share",
            purpose="write_note",
        )
        raise PermissionDenied("Only the agency that holds this case file can write in it.")
    note = CaseNote(
        case_file=target, data_class=data_class, text=text.strip(), restricted=restricted, author=by
    )
    note.full_clean()
    with transaction.atomic():
        note.save(force_insert=True)
        audit.record(
            Action.NOTE_WRITTEN,
            actor=by,
            agency=agency,
            obj=note,
            person_id=target.person_id,
            detail={"data_class": data_class, "restricted": restricted},
        )
    return note


class StaleVersion(Exception):
    """The record changed since the caller read it; nothing was written."""


# The NHS number identifies the person; it is never changed.
UPDATABLE_DEMOGRAPHICS = tuple(f for f in PERSON_FIELDS if f != "nhs_number")


def update_demographics(
    *, person: Person, expected_version: int, changes: dict[str, Any], agency: Agency, by: Any
) -> Person:
    """Change a person's demographics, only if nobody else has since the caller read them.

    The check and the write are one statement (``UPDATE ... WHERE version = n``), so two
    concurrent edits cannot both succeed; the loser gets StaleVersion and nothing changes.
    Only an agency holding its own case file on the person may change them: a share lets an
    agency read, never write.
    """
    unknown = set(changes) - set(UPDATABLE_DEMOGRAPHICS)
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    if not CaseFile.objects.filter(person=person, agency=agency).exists():
        audit.record_denial(
            actor=by,
            agency=agency,
            what="person",
            object_id=person.pk,
            person_id=person.pk,
            reason="no_own_case_file",
            purpose="update_demographics",
        )
        raise PermissionDenied(
            "Only an agency with its own case file on this person can change their details."
        )
    candidate = Person.objects.get(pk=person.pk)
    for name, value in changes.items():
        setattr(candidate, name, value)
    candidate.full_clean(validate_unique=False)
    with transaction.atomic():
        updated = Person.objects.filter(pk=person.pk, version=expected_version).update(
            **changes, version=expected_version + 1, updated_at=timezone.now()
        )
        if updated != 1:
            raise StaleVersion()
        audit.record(
            Action.PERSON_UPDATED,
            actor=by,
            agency=agency,
            obj=person,
            person_id=person.pk,
            detail={"fields": sorted(changes), "version": expected_version + 1},
        )
    return Person.objects.get(pk=person.pk)
