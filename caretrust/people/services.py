"""Every write to people and case files: transactional and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Membership, Team
from caretrust.people.models import (
    PERSON_FIELDS,
    CarerLink,
    CaseFile,
    CaseNote,
    DataClass,
    Person,
)
from caretrust.people.selectors import registered_person_visible_to
from caretrust.people.validators import today_in_london
from caretrust.sharing.need_to_know import role_classes
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


@dataclass(frozen=True)
class TakeOn:
    """What taking a person on did: the person, the caller's own file on them, and (for the
    audit trail and the tests only, never for the caller's answer) whether the person was
    registered just now."""

    person: Person
    case_file: CaseFile
    registered: bool


def take_on_person(
    *,
    agency: Agency,
    by: Any,
    lead_worker: Any | None = None,
    team: Team | None = None,
    opened_on: date | None = None,
    **fields: Any,
) -> TakeOn:
    """Take a person on: register them if their NHS number is new, and in every case open
    (or reuse, reopening it if closed) the caller agency's own case file on them.

    The rule it keeps: registration is not an existence oracle. Whether the NHS number was
    unused, held by another agency (shared with the caller or not) or already on the caller's
    own caseload, the caller gets the same answer (the browser: the person page and the same
    message; the API: 201, the same headers and the same body shape) and nothing about other
    agencies' files. Which it was is written to the audit trail only (``person.taken_on_new``
    or ``person.taken_on_existing``), for the Caldicott guardians, who can see a partner
    probing NHS numbers there.

    What the caller is shown is the person as its new file sees it, the same as a read of the
    person straight afterwards would show (and what its ETag names). Demographics are one
    record per person, as on the NHS Spine's Personal Demographics Service, not a data class
    of any one agency's file: an agency that has taken the person on (a self-claimed
    legitimate relationship, as the Spine has, audited) sees them, and no agency's clinical,
    assessment, referral or finance data comes with it. Echoing the submitted values instead
    would be a lie the next read contradicts, and its ETag would name a version that is not
    the stored one.

    Submitted details that differ from the stored record never overwrite it (another agency
    may have recorded them, from PDS): the stored record stands, and the caller's own file
    gets a note of what it was told, asking for a reconciliation with PDS. Only an agency
    with its own file may then correct the record (``update_demographics``).

    Concurrency: the person is inserted with ``ON CONFLICT DO NOTHING`` and read back by NHS
    number, so two agencies registering one new number at the same moment both succeed: the
    second insert waits for the first transaction, then finds its row (one person, two
    files). Every person has an NHS number (the model requires one), so every take-on is
    matched on it.
    """
    unknown = set(fields) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown person fields: {', '.join(sorted(unknown))}.")
    lead = lead_worker or by
    candidate = Person(**fields)
    candidate.full_clean(validate_unique=False)  # an NHS number is required, so always matched
    with transaction.atomic():
        # The same two statements whichever way it goes: an insert that may do nothing, then
        # the row that holds the number (a new statement, so it sees a concurrent winner).
        Person.objects.bulk_create([candidate], ignore_conflicts=True)
        person = Person.objects.select_related("gp_practice").get(nhs_number=candidate.nhs_number)
        registered = person.pk == candidate.pk
        if registered:
            audit.record(
                Action.PERSON_CREATED, actor=by, agency=agency, obj=person, person_id=person.pk
            )
        case_file, opened = _own_case_file(
            person=person, agency=agency, lead_worker=lead, team=team, by=by, opened_on=opened_on
        )
        differ = [] if registered else _differing_fields(person, candidate)
        if differ:
            _note_differing_demographics(
                case_file=case_file, submitted=candidate, fields=differ, by=by
            )
        audit.record(
            Action.PERSON_TAKEN_ON_NEW if registered else Action.PERSON_TAKEN_ON_EXISTING,
            actor=by,
            agency=agency,
            obj=person,
            person_id=person.pk,
            detail={
                "case_file": str(case_file.pk),
                "case_file_opened": opened,
                "demographics_differ": differ,
            },
        )
    return TakeOn(person, case_file, registered=registered)


def _own_case_file(
    *,
    person: Person,
    agency: Agency,
    lead_worker: Any,
    team: Team | None,
    by: Any,
    opened_on: date | None,
) -> tuple[CaseFile, str]:
    """The agency's file on the person: opened now ("opened"), its open one ("existing"), or
    its closed one reopened ("reopened"). The existing file is locked first, so two take-ons
    by one agency at once cannot both reopen it or both open one (the second open would break
    the one-file-per-agency constraint: then it takes the file the first one opened)."""
    existing = CaseFile.objects.select_for_update().filter(person=person, agency=agency).first()
    if existing is None:
        try:
            with transaction.atomic():
                return (
                    open_case_file(
                        person=person,
                        agency=agency,
                        lead_worker=lead_worker,
                        team=team,
                        by=by,
                        opened_on=opened_on,
                    ),
                    "opened",
                )
        except ValidationError:
            existing = (
                CaseFile.objects.select_for_update().filter(person=person, agency=agency).first()
            )
            if existing is None:
                raise  # not the race: a bad lead worker or team
    if existing.closed_on is None:
        return existing, "existing"
    closed_on, reason = existing.closed_on, existing.closure_reason
    existing.closed_on, existing.closure_reason = None, ""
    existing.version += 1
    existing.save(update_fields=["closed_on", "closure_reason", "version"])
    audit.record(
        Action.CASEFILE_REOPENED,
        actor=by,
        agency=agency,
        obj=existing,
        person_id=person.pk,
        detail={"closed_on": closed_on.isoformat(), "closure_reason": reason},
    )
    return existing, "reopened"


def _comparable(person: Person, name: str) -> Any:
    if name == "gp_practice":
        return person.gp_practice_id
    value = getattr(person, name)
    return value.strip().casefold() if isinstance(value, str) else value


def _differing_fields(stored: Person, submitted: Person) -> list[str]:
    """The submitted fields (not the NHS number, which matched) that disagree with the stored
    record; a field the caller left blank disagrees with nothing."""
    return [
        name
        for name in PERSON_FIELDS
        if name != "nhs_number"
        and _comparable(submitted, name) not in ("", None)
        and _comparable(submitted, name) != _comparable(stored, name)
    ]


def _label(name: str) -> str:
    field = Person._meta.get_field(name)
    label = str(getattr(field, "verbose_name", name))
    return label[:1].upper() + label[1:]


def _note_differing_demographics(
    *, case_file: CaseFile, submitted: Person, fields: list[str], by: Any
) -> CaseNote:
    """A note in the caller's own file of what it was told, where that differs from the
    person's record: the stored record is kept, and the difference is for a person to settle
    against PDS. It names only the caller's own values, never the stored ones."""
    given = "; ".join(
        f"{_label(name)}: "
        + (str(submitted.gp_practice) if name == "gp_practice" else str(getattr(submitted, name)))
        for name in fields
    )
    note = CaseNote(
        case_file=case_file,
        data_class=DataClass.DEMOGRAPHICS,
        text=(
            "Demographics differ: when this person was registered here, these details were "
            "given that differ from the person's record, which was kept. Reconcile with PDS. "
            f"Details given: {given}."
        ),
        author=by,
    )
    note.full_clean()
    note.save(force_insert=True)
    audit.record(
        Action.NOTE_WRITTEN,
        actor=by,
        agency=case_file.agency,
        obj=note,
        person_id=case_file.person_id,
        detail={
            "data_class": DataClass.DEMOGRAPHICS,
            "restricted": False,
            "reason": "demographics_differ",
            "fields": fields,
        },
    )
    return note


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
    # Need to know holds for writing as for reading: a role may not write what it could not
    # read back (a finance officer's clinical note, a restricted note by a role that does not
    # read restricted items).
    needed, restricted_classes = role_classes(agency, by)
    if data_class not in needed or (restricted and data_class not in restricted_classes):
        audit.record_denial(
            actor=by,
            agency=agency,
            what="case_file",
            object_id=target.pk,
            obj=target,
            person_id=target.person_id,
            reason="role_need_to_know",
            purpose="write_note",
        )
        kind = DataClass(data_class).label.lower()
        raise PermissionDenied(
            "Your role does not give you access to "
            f"{'restricted items of ' if restricted else ''}{kind}, so you cannot write a note "
            "of that kind."
        )
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
