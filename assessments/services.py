"""Every write of the Single Assessment Process: transactional, validated before anything is
written, audited, and re-checked against the one visibility rule inside the transaction.

Locks, and why:
- a section save or sign takes a SHARE lock on its assessment's row (many sections may be
  saved at once) and writes the section with ``UPDATE ... WHERE version = n``: two saves of
  one section never both win, and the loser's draft is kept (``SectionConflict``);
- the lead's sign-off takes FOR UPDATE on the assessment row, so it waits for any section
  save in flight and no save can start until it has committed; once signed off, the database
  itself refuses any UPDATE of the assessment or its sections (migration 0002).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Max
from django.http import Http404
from django.utils import timezone

from assessments import scales as scale_tables
from assessments.formdata import CALDERBRIDGE_V1
from assessments.models import (
    OUTCOME_KEYS,
    Addendum,
    Adoption,
    AnswerChange,
    Assessment,
    AssessmentStatus,
    AttendeeRole,
    AuditAction,
    CarePlan,
    CarePlanService,
    CarePlanStatus,
    Depth,
    FormDefinition,
    FormDomain,
    FormQuestion,
    Funding,
    HandoverOffer,
    Impact,
    JointMeeting,
    Likelihood,
    MeetingAttendee,
    Place,
    QuestionKind,
    Risk,
    RiskType,
    Scale,
    ScaleResult,
    Section,
    SectionConflict,
    SectionStatus,
    ServiceKind,
)
from assessments.selectors import (
    visible_assessments,
    visible_care_plans,
    visible_sections,
)
from caretrust.audit import services as audit
from caretrust.directory.models import Agency, Membership, Role, Team
from caretrust.directory.selectors import roles_at
from caretrust.events.contracts import (
    CARE_PACKAGE_AUTHORISED,
    CARE_PACKAGE_CHANGED,
    CARE_PACKAGE_ENDED,
)
from caretrust.events.services import emit
from caretrust.people.models import CaseFile
from caretrust.people.selectors import visible_carer_links
from caretrust.people.validators import NUL_MESSAGE, today_in_london, whole_number

# Roles that may lead an assessment, write a section, record a meeting or agree a plan.
PROFESSIONAL_ROLES = frozenset(
    {
        Role.CARE_MANAGER,
        Role.SOCIAL_WORKER,
        Role.NURSE,
        Role.DISTRICT_NURSE,
        Role.OCCUPATIONAL_THERAPIST,
        Role.PHYSIOTHERAPIST,
        Role.GP,
        Role.TEAM_MANAGER,
        Role.TRANSFER_HUB_COORDINATOR,
        Role.PARTNER_SYSTEM,
    }
)


class AssessmentSignedOff(ValidationError):
    """The assessment is signed off: nothing in it changes in place; write an addendum."""

    def __init__(self) -> None:
        super().__init__(
            "This assessment has been signed off, so it cannot be changed. "
            "Write an addendum instead, with your reason.",
            code="signed_off",
        )


class StaleVersion(ValidationError):
    def __init__(self, what: str = "This record") -> None:
        super().__init__(
            f"{what} has changed since you read it. Read it again and reapply your change.",
            code="stale",
        )


def _professional(user: Any, agency: Agency, action: str) -> None:
    if not roles_at(user, agency) & PROFESSIONAL_ROLES:
        raise PermissionDenied(f"Your role at {agency} does not allow you to {action}.")


def _holding_lead(assessment: Assessment, user: Any, agency: Agency, action: str) -> None:
    """Only the lead professional, acting for the holding agency."""
    if assessment.case_file.agency_id != agency.pk or assessment.lead_id != user.pk:
        raise PermissionDenied(f"Only the lead professional of this assessment can {action}.")


def _lock_assessment_shared(assessment_id: Any, *, exclusive: bool = False) -> str:
    """SHARE-lock the assessment row (sections may be saved side by side; a sign-off waits)
    and return its status as of now. ``exclusive`` (FOR NO KEY UPDATE) for a save that will
    move a draft assessment on: it must hold the row's own lock before it locks its section,
    never upgrade a shared lock later (two savers doing that deadlock)."""
    mode = "FOR NO KEY UPDATE" if exclusive else "FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM assessments_assessment WHERE id = %s {mode}",  # noqa: S608
            [assessment_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such assessment.")
    return str(row[0])


# --- Forms -----------------------------------------------------------------------------------


def _check_depths(depths: Iterable[str], where: str) -> list[str]:
    chosen = list(depths)
    bad = [d for d in chosen if d not in Depth.values]
    if bad:
        raise ValidationError(f"{where}: unknown depth {bad[0]!r}; use {', '.join(Depth.values)}.")
    return chosen


def publish_form(*, definition: Mapping[str, Any]) -> FormDefinition:
    """Publish the next version of an area's form from data (no migration). Existing
    assessments keep the version they were started on; new ones take the newest."""
    slug = str(definition.get("slug", "")).strip()
    domains = list(definition.get("domains", []))
    if not slug or not domains:
        raise ValidationError("A form needs a slug and at least one domain.")
    with transaction.atomic():
        # One publisher at a time per form slug: the version number is max + 1.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"form:{slug}"])
        latest = FormDefinition.objects.filter(slug=slug).aggregate(v=Max("version"))["v"] or 0
        form = FormDefinition.objects.create(
            slug=slug,
            name=str(definition.get("name", slug)),
            version=latest + 1,
            amts_cutoff=int(definition.get("amts_cutoff", 8)),
        )
        for order, d in enumerate(domains, start=1):
            domain = FormDomain.objects.create(
                form=form,
                key=d["key"],
                title=d["title"],
                order=order,
                required_at=_check_depths(d.get("required_at", []), d["key"]),
            )
            for q_order, q in enumerate(d.get("questions", []), start=1):
                if q["kind"] not in QuestionKind.values:
                    raise ValidationError(f"{q['key']}: unknown question kind {q['kind']!r}.")
                FormQuestion.objects.create(
                    domain=domain,
                    key=q["key"],
                    text=q["text"],
                    kind=q["kind"],
                    choices=q.get("choices", []),
                    minimum=q.get("minimum"),
                    maximum=q.get("maximum"),
                    past_only=bool(q.get("past_only", False)),
                    required_at=_check_depths(q.get("required_at", []), q["key"]),
                    order=q_order,
                )
    return form


def current_form(slug: str = CALDERBRIDGE_V1["slug"]) -> FormDefinition:
    """The newest published version of the form (publishing v1 on first use)."""
    form = FormDefinition.objects.filter(slug=slug).order_by("-version").first()
    if form is None:
        if slug != CALDERBRIDGE_V1["slug"]:
            raise ValidationError(f"No form {slug!r} has been published.")
        form = publish_form(definition=CALDERBRIDGE_V1)
    return form


def ensure_risk_types() -> int:
    """The shared risk vocabulary (idempotent)."""
    from assessments.formdata import RISK_TYPES

    made = 0
    for key, label, description in RISK_TYPES:
        _, created = RiskType.objects.get_or_create(
            key=key, defaults={"label": label, "description": description}
        )
        made += created
    return made


# --- Answers ---------------------------------------------------------------------------------


def validate_answers(
    *, questions: Sequence[FormQuestion], answers: Mapping[str, Any], form_label: str
) -> dict[str, Any]:
    """Answers checked against the form version's questions: no question the version does
    not have, each answer of its question's type (a choice among its options, a whole number
    within its bounds, an ISO date not in the future where it records a past event, text up
    to 2,000 characters). Blank answers are dropped. Raises a ValidationError naming each
    bad answer and what is expected."""
    by_key = {q.key: q for q in questions}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, raw in answers.items():
        q = by_key.get(key)
        if q is None:
            errors[str(key)[:60]] = (
                f"{form_label} has no question {str(key)[:60]!r} in this section; "
                f"its questions are: {', '.join(by_key) or 'none'}."
            )
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            clean[key] = _clean_answer(q, raw)
        except ValidationError as exc:
            errors[key] = exc.messages[0]
    if errors:
        raise ValidationError(errors)
    return clean


def _clean_answer(q: FormQuestion, raw: Any) -> Any:
    if q.kind == QuestionKind.CHOICE:
        values = [c[0] for c in q.choices]
        if raw not in values:
            raise ValidationError(f"{q.text}: choose one of {', '.join(values)}.")
        return raw
    if q.kind == QuestionKind.NUMBER:
        parsed = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if parsed is None:
            parsed = whole_number(raw, negative=True)
        if parsed is None:
            raise ValidationError(f"{q.text}: give a whole number.")
        value = parsed
        if (q.minimum is not None and value < q.minimum) or (
            q.maximum is not None and value > q.maximum
        ):
            raise ValidationError(f"{q.text}: give a number from {q.minimum} to {q.maximum}.")
        return value
    if q.kind == QuestionKind.DATE:
        try:
            day = dt.date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValidationError(f"{q.text}: give a date as YYYY-MM-DD.") from None
        if q.past_only and day > today_in_london():
            raise ValidationError(
                f"{q.text}: this records a past event, so the date cannot be in the future."
            )
        return day.isoformat()
    text = str(raw).strip()
    if len(text) > 2000:
        raise ValidationError(f"{q.text}: keep the answer to 2,000 characters.")
    if "\x00" in text:
        raise ValidationError(f"{q.text}: the answer {NUL_MESSAGE}")
    return text


# --- Starting, delegating --------------------------------------------------------------------


def start_assessment(
    *,
    case_file: CaseFile,
    depth: str,
    reason: str,
    episode: str,
    by: Any,
    agency: Agency,
    form: FormDefinition | None = None,
) -> Assessment:
    """Start an assessment in the lead professional's agency's own case file, with one
    section per domain of the newest form version (kept for the assessment's life). The
    lead starts as the author of the person's-perspective section."""
    if case_file.agency_id != agency.pk:
        raise PermissionDenied("An assessment is held in your own agency's case file.")
    _professional(by, agency, "lead an assessment")
    if depth not in Depth.values:
        raise ValidationError({"depth": f"Choose a depth: {', '.join(Depth.values)}."})
    errors = {}
    if not reason.strip():
        errors["reason"] = "Say why the person is being assessed."
    if not episode.strip():
        errors["episode"] = "Name the episode (for example, discharge from ward 7)."
    if len(reason) > 500 or len(episode) > 200:
        errors["reason"] = "Keep the reason to 500 and the episode to 200 characters."
    if errors:
        raise ValidationError(errors)
    form = form or current_form()
    with transaction.atomic():
        assessment = Assessment.objects.create(
            case_file=case_file,
            form=form,
            depth=depth,
            reason=reason.strip(),
            episode=episode.strip(),
            lead=by,
        )
        domains = list(FormDomain.objects.filter(form=form).order_by("order"))
        Section.objects.bulk_create(
            Section(
                assessment=assessment,
                domain=d,
                author=by if d.order == 1 else None,
                author_agency=agency if d.order == 1 else None,
            )
            for d in domains
        )
        audit.record(
            AuditAction.ASSESSMENT_STARTED,
            actor=by,
            agency=agency,
            obj=assessment,
            person_id=case_file.person_id,
            detail={"depth": depth, "form": f"{form.slug} v{form.version}"},
        )
    return assessment


def delegate_section(
    *, section: Section, author: Any, author_agency: Agency, by: Any, agency: Agency
) -> Section:
    """The lead assigns a section to a named professional, who may work for another agency:
    only if that agency may see the holding agency's file for assessments now (the one
    visibility rule; nothing else opens it to them)."""
    _holding_lead(section.assessment, by, agency, "delegate a section")  # before any state
    with transaction.atomic():
        # The assessment's lock before the section's, in the order every save takes them.
        if _lock_assessment_shared(section.assessment_id) == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        locked = (
            Section.objects.select_for_update(of=("self",))
            .select_related("assessment__case_file", "domain")
            .get(pk=section.pk)
        )
        assessment = locked.assessment
        _holding_lead(assessment, by, agency, "delegate a section")
        if locked.status == SectionStatus.SIGNED:
            raise ValidationError("This section is signed by its author; it cannot be reassigned.")
        member = Membership.objects.current().filter(
            user=author, agency=author_agency, role__in=PROFESSIONAL_ROLES
        )
        if not member.exists():
            raise ValidationError(
                {"author": f"{author} does not work for {author_agency} in a professional role."}
            )
        if not visible_assessments(author_agency, None).filter(pk=assessment.pk).exists():
            raise ValidationError(
                {
                    "author_agency": f"{author_agency} may not see {assessment.case_file.agency}'s "
                    "assessments on this person. Record the person's consent to share "
                    "assessments first."
                }
            )
        before = locked.author_id
        locked.author = author
        locked.author_agency = author_agency
        locked.version += 1
        locked.save(update_fields=["author", "author_agency", "version"])
        audit.record(
            AuditAction.SECTION_DELEGATED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=assessment.case_file.person_id,
            detail={
                "section": locked.domain.key,
                "author_id": author.pk,
                "author_agency": author_agency.slug,
                "previous_author_id": before,
            },
        )
    return locked


# --- Saving a section ------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveOutcome:
    """A section save: ``saved`` with the section as it now stands, or the conflict kept."""

    section: Section
    conflict: SectionConflict | None = None

    @property
    def saved(self) -> bool:
        return self.conflict is None


def _section_for_write(section_id: Any, by: Any, agency: Agency) -> Section:
    """The section, read afresh through the rule (a withdrawn consent counts now: 404)."""
    section = (
        visible_sections(agency, by)
        .select_related("assessment__case_file", "assessment__form", "domain")
        .filter(pk=section_id)
        .first()
    )
    if section is None:
        raise Http404("No such section.")
    return section


def _require_author(section: Section, by: Any, agency: Agency) -> None:
    if section.author_id != by.pk or section.author_agency_id != agency.pk:
        raise PermissionDenied(
            "This section is assigned to someone else: only its author can change or sign it."
        )


def save_section(
    *,
    section_id: Any,
    answers: Mapping[str, Any],
    narrative: str,
    based_on_version: int,
    by: Any,
    agency: Agency,
) -> SaveOutcome:
    """Save the author's answers and narrative over the version they started from. If
    someone saved the section since (``based_on_version`` is not current), nothing is
    overwritten: the draft is kept as a ``SectionConflict`` beside the newer version, and
    the outcome says so. Each changed answer is recorded (who, when, from what, to what)."""
    with transaction.atomic():
        section = _section_for_write(section_id, by, agency)
        assessment = section.assessment
        _require_author(section, by, agency)
        status = _lock_assessment_shared(
            assessment.pk, exclusive=assessment.status == AssessmentStatus.DRAFT
        )
        if status == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        if section.status == SectionStatus.SIGNED:
            raise ValidationError(
                "You have signed this section. Reopen it before changing it.", code="signed"
            )
        questions = list(section.domain.questions.all())
        clean = validate_answers(
            questions=questions, answers=answers, form_label=str(assessment.form)
        )
        narrative = narrative.strip()
        if len(narrative) > 20_000:
            raise ValidationError({"narrative": "Keep the narrative to 20,000 characters."})
        if "\x00" in narrative:
            raise ValidationError({"narrative": f"The narrative {NUL_MESSAGE}"})
        now = timezone.now()
        won = (
            based_on_version == section.version
            and Section.objects.filter(pk=section.pk, version=based_on_version).update(
                answers=clean,
                narrative=narrative,
                status=SectionStatus.DRAFTED,
                version=F("version") + 1,
                updated_at=now,
                updated_by=by,
            )
            == 1
        )
        if not won:
            current = Section.objects.only("version").get(pk=section.pk).version
            conflict = SectionConflict.objects.create(
                section=section,
                author=by,
                based_on_version=based_on_version,
                current_version=current,
                answers=clean,
                narrative=narrative,
            )
            audit.record(
                AuditAction.SECTION_CONFLICT,
                actor=by,
                agency=agency,
                obj=section,
                person_id=assessment.case_file.person_id,
                detail={
                    "conflict": str(conflict.pk),
                    "based_on": based_on_version,
                    "current": current,
                },
            )
            section.refresh_from_db()
            return SaveOutcome(section, conflict)
        new_version = based_on_version + 1
        changes = [
            AnswerChange(
                section=section,
                question=key,
                old=section.answers.get(key),
                new=clean.get(key),
                section_version=new_version,
                changed_by=by,
                changed_by_agency=agency,
            )
            for key in sorted(set(section.answers) | set(clean))
            if section.answers.get(key) != clean.get(key)
        ]
        if section.narrative != narrative:
            changes.append(
                AnswerChange(
                    section=section,
                    question="narrative",
                    old=section.narrative,
                    new=narrative,
                    section_version=new_version,
                    changed_by=by,
                    changed_by_agency=agency,
                )
            )
        AnswerChange.objects.bulk_create(changes)
        if status == AssessmentStatus.DRAFT:
            _start_progress(assessment.pk)  # under the row's own lock, taken above
        audit.record(
            AuditAction.SECTION_SAVED,
            actor=by,
            agency=agency,
            obj=section,
            person_id=assessment.case_file.person_id,
            detail={
                "section": section.domain.key,
                "version": new_version,
                "changed": [c.question for c in changes],
            },
        )
        section.answers = clean
        section.narrative = narrative
        section.status = SectionStatus.DRAFTED
        section.version = new_version
        section.updated_at = now
        section.updated_by = by
    return SaveOutcome(section)


def _start_progress(assessment_id: Any) -> None:
    """draft -> in progress, on the first save of any section (idempotent)."""
    Assessment.objects.filter(pk=assessment_id, status=AssessmentStatus.DRAFT).update(
        status=AssessmentStatus.IN_PROGRESS
    )


def sign_section(*, section_id: Any, by: Any, agency: Agency, based_on_version: int) -> Section:
    """The author signs their section once every question the depth requires is answered."""
    with transaction.atomic():
        section = _section_for_write(section_id, by, agency)
        _require_author(section, by, agency)
        if _lock_assessment_shared(section.assessment_id) == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        if section.status == SectionStatus.SIGNED:
            raise ValidationError("You have signed this section already.")
        depth = section.assessment.depth
        missing = [
            q.text
            for q in section.domain.questions.all()
            if q.required_for(depth) and q.key not in section.answers
        ]
        if missing:
            raise ValidationError(
                f"Answer every question this {depth} assessment needs before signing: "
                + "; ".join(missing)
                + "."
            )
        now = timezone.now()
        updated = Section.objects.filter(pk=section.pk, version=based_on_version).update(
            status=SectionStatus.SIGNED, signed_at=now, version=F("version") + 1
        )
        if updated != 1:
            raise StaleVersion("This section")
        audit.record(
            AuditAction.SECTION_SIGNED,
            actor=by,
            agency=agency,
            obj=section,
            person_id=section.assessment.case_file.person_id,
            detail={"section": section.domain.key, "version": based_on_version + 1},
        )
        section.refresh_from_db()
    return section


def reopen_section(*, section_id: Any, by: Any, agency: Agency) -> Section:
    """The author takes back their signature to change the section, before sign-off."""
    with transaction.atomic():
        section = _section_for_write(section_id, by, agency)
        _require_author(section, by, agency)
        if _lock_assessment_shared(section.assessment_id) == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        if section.status != SectionStatus.SIGNED:
            raise ValidationError("This section is not signed.")
        Section.objects.filter(pk=section.pk).update(
            status=SectionStatus.DRAFTED, signed_at=None, version=F("version") + 1
        )
        audit.record(
            AuditAction.SECTION_REOPENED,
            actor=by,
            agency=agency,
            obj=section,
            person_id=section.assessment.case_file.person_id,
            detail={"section": section.domain.key},
        )
        section.refresh_from_db()
    return section


def sign_off_assessment(*, assessment: Assessment, by: Any, agency: Agency) -> Assessment:
    """The lead signs the whole once every section its depth requires is signed by its
    author. Locks the assessment FOR UPDATE: a section save in flight finishes first, and
    none starts until this commits; from then on the database refuses any edit in place."""
    with transaction.atomic():
        locked = (
            visible_assessments(agency, by)
            .select_for_update(of=("self",))
            .select_related("case_file")
            .filter(pk=assessment.pk)
            .first()
        )
        if locked is None:
            raise Http404("No such assessment.")
        _holding_lead(locked, by, agency, "sign off the assessment")
        if locked.status == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        unsigned = [
            s.domain.title
            for s in Section.objects.filter(assessment=locked).select_related("domain")
            if s.domain.required_for(locked.depth) and s.status != SectionStatus.SIGNED
        ]
        if unsigned:
            raise ValidationError(
                f"A {locked.depth} assessment needs these sections signed by their authors "
                "first: " + "; ".join(unsigned) + "."
            )
        locked.status = AssessmentStatus.SIGNED_OFF
        locked.signed_off_at = timezone.now()
        locked.signed_off_by = by
        locked.version += 1
        locked.save(update_fields=["status", "signed_off_at", "signed_off_by", "version"])
        audit.record(
            AuditAction.SIGNED_OFF,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=locked.case_file.person_id,
            detail={"version": locked.version},
        )
    return locked


def write_addendum(
    *,
    assessment: Assessment,
    reason: str,
    text: str,
    by: Any,
    agency: Agency,
    section: Section | None = None,
) -> Addendum:
    """After sign-off a change is a dated addendum with its author and reason, written by the
    lead, a section author or a professional of the holding agency."""
    with transaction.atomic():
        fresh = (
            visible_assessments(agency, by)
            .select_related("case_file")
            .filter(pk=assessment.pk)
            .first()
        )
        if fresh is None:
            raise Http404("No such assessment.")
        if fresh.status != AssessmentStatus.SIGNED_OFF:
            raise ValidationError(
                "Addenda are for signed-off assessments; change the section itself instead."
            )
        is_author = Section.objects.filter(
            assessment=fresh, author=by, author_agency=agency
        ).exists()
        if not is_author and fresh.case_file.agency_id != agency.pk:
            raise PermissionDenied(
                "Only the holding agency or a section's author can add to this assessment."
            )
        _professional(by, agency, "write an addendum")
        errors = {}
        if not reason.strip():
            errors["reason"] = "Say why the assessment needs this addendum."
        if not text.strip():
            errors["text"] = "Write the addendum."
        if len(reason) > 500:
            errors["reason"] = "Keep the reason to 500 characters."
        if len(text) > 10_000:
            errors["text"] = "Keep the addendum to 10,000 characters."
        if section is not None and section.assessment_id != fresh.pk:
            errors["section"] = "That section belongs to another assessment."
        if errors:
            raise ValidationError(errors)
        addendum = Addendum.objects.create(
            assessment=fresh,
            section=section,
            author=by,
            author_agency=agency,
            reason=reason.strip(),
            text=text.strip(),
        )
        audit.record(
            AuditAction.ADDENDUM_WRITTEN,
            actor=by,
            agency=agency,
            obj=addendum,
            person_id=fresh.case_file.person_id,
            detail={"assessment": str(fresh.pk)},
        )
    return addendum


# --- Scales and risks ------------------------------------------------------------------------


def _contributor(assessment: Assessment, by: Any, agency: Agency) -> None:
    """The lead (at the holding agency) or an author of one of its sections."""
    if assessment.case_file.agency_id == agency.pk and assessment.lead_id == by.pk:
        return
    if Section.objects.filter(assessment=assessment, author=by, author_agency=agency).exists():
        return
    raise PermissionDenied("Only the lead or a section's author can add to this assessment.")


def _fresh_assessment(assessment: Assessment, by: Any, agency: Agency) -> Assessment:
    fresh = (
        visible_assessments(agency, by)
        .select_related("case_file", "form")
        .filter(pk=assessment.pk)
        .first()
    )
    if fresh is None:
        raise Http404("No such assessment.")
    return fresh


def record_scale(
    *,
    assessment: Assessment,
    scale: str,
    items: Mapping[str, Any],
    assessed_on: dt.date,
    by: Any,
    agency: Agency,
) -> ScaleResult:
    """Score a scale on the server (every item against its allowed scores) and store it with
    its items, total and date; the AMTS keeps the area's cut-off of the assessment's form."""
    if scale not in Scale.values:
        raise ValidationError({"scale": f"Choose a scale from: {', '.join(Scale.values)}."})
    clean, total = scale_tables.score(scale, items)
    if assessed_on > today_in_london():
        raise ValidationError({"assessed_on": "The date assessed cannot be in the future."})
    with transaction.atomic():
        fresh = _fresh_assessment(assessment, by, agency)
        _contributor(fresh, by, agency)
        if _lock_assessment_shared(fresh.pk) == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        result = ScaleResult.objects.create(
            case_file=fresh.case_file,
            assessment=fresh,
            scale=scale,
            items=clean,
            total=total,
            cutoff=fresh.form.amts_cutoff if scale == Scale.AMTS else None,
            assessed_on=assessed_on,
            recorded_by=by,
            recorded_by_agency=agency,
        )
        audit.record(
            AuditAction.SCALE_RECORDED,
            actor=by,
            agency=agency,
            obj=result,
            person_id=fresh.case_file.person_id,
            detail={"scale": scale, "total": total},
        )
    return result


def record_risk(
    *,
    assessment: Assessment,
    risk_type: str,
    likelihood: int,
    impact: int,
    note: str,
    by: Any,
    agency: Agency,
) -> Risk:
    """A risk in the shared vocabulary, with likelihood and impact on the 1-5 scales."""
    kind = RiskType.objects.filter(key=risk_type).first()
    errors = {}
    if kind is None:
        keys = ", ".join(RiskType.objects.values_list("key", flat=True))
        errors["risk_type"] = f"Choose a risk from the shared list: {keys}."
    if likelihood not in Likelihood.values:
        errors["likelihood"] = "Give a likelihood from 1 (rare) to 5 (almost certain)."
    if impact not in Impact.values:
        errors["impact"] = "Give an impact from 1 (negligible) to 5 (severe)."
    if errors or kind is None:
        raise ValidationError(errors)
    with transaction.atomic():
        fresh = _fresh_assessment(assessment, by, agency)
        _contributor(fresh, by, agency)
        if _lock_assessment_shared(fresh.pk) == AssessmentStatus.SIGNED_OFF:
            raise AssessmentSignedOff()
        risk = Risk.objects.create(
            assessment=fresh,
            risk_type=kind,
            likelihood=likelihood,
            impact=impact,
            note=note.strip()[:500],
            recorded_by=by,
        )
        audit.record(
            AuditAction.RISK_RECORDED,
            actor=by,
            agency=agency,
            obj=fresh,
            person_id=fresh.case_file.person_id,
            detail={"risk": risk_type, "likelihood": likelihood, "impact": impact},
        )
    return risk


# --- Joint assessment meeting ----------------------------------------------------------------


def eligible_under_care_act(
    *,
    from_impairment_or_illness: bool,
    outcomes_not_achieved: Iterable[str],
    significant_impact_on_wellbeing: bool,
) -> bool:
    """Care and Support (Eligibility Criteria) Regulations 2015, reg. 2(1): an adult's needs
    are eligible when they arise from a physical or mental impairment or illness, as a result
    the adult cannot achieve two or more of the specified outcomes, and as a consequence there
    is, or is likely to be, a significant impact on their wellbeing."""
    return (
        bool(from_impairment_or_illness)
        and len(set(outcomes_not_achieved)) >= 2
        and bool(significant_impact_on_wellbeing)
    )


NURSE_ROLES = {AttendeeRole.NURSE}
CARE_MANAGER_ROLES = {AttendeeRole.CARE_MANAGER, AttendeeRole.SOCIAL_WORKER}
THERAPY_ROLES = {AttendeeRole.OCCUPATIONAL_THERAPIST, AttendeeRole.PHYSIOTHERAPIST}


def record_meeting(
    *,
    assessment: Assessment,
    held_on: dt.date,
    place: str,
    attendees: Sequence[Mapping[str, Any]],
    wishes: str,
    from_impairment_or_illness: bool,
    outcomes_not_achieved: Iterable[str],
    significant_impact_on_wellbeing: bool,
    eligibility_confirmed: bool,
    by: Any,
    agency: Agency,
    place_detail: str = "",
    views: str = "",
    decisions: str = "",
    carer_assessment_requested: bool = False,
    carer_assessment_notes: str = "",
    agreed_package: str = "",
) -> JointMeeting:
    """The joint assessment meeting, recorded by the lead: a qualified nurse, a care manager
    and an OT or physiotherapist at least; the person; carers only from the person's carer
    links; the person's wishes in their own words (required). The Care Act 2014 eligibility
    decision is computed here (``eligible_under_care_act``) and must be confirmed by the
    professional recording it."""
    outcomes = list(dict.fromkeys(outcomes_not_achieved))
    errors: dict[str, str] = {}
    if held_on > today_in_london():
        errors["held_on"] = "The meeting date cannot be in the future: record a meeting held."
    if place not in Place.values:
        errors["place"] = f"Choose where it was held: {', '.join(Place.values)}."
    if not wishes.strip():
        errors["wishes"] = "Write the person's wishes, in their own words."
    bad = [o for o in outcomes if o not in OUTCOME_KEYS]
    if bad:
        errors["outcomes_not_achieved"] = (
            f"Unknown outcome {bad[0]!r}; the ten outcomes are: {', '.join(OUTCOME_KEYS)}."
        )
    if not eligibility_confirmed:
        errors["eligibility_confirmed"] = "Confirm the eligibility decision shown."
    roles = [str(a.get("role", "")) for a in attendees]
    unknown_roles = [r for r in roles if r not in AttendeeRole.values]
    if unknown_roles:
        errors["attendees"] = f"Unknown role {unknown_roles[0]!r}."
    elif not (
        set(roles) & NURSE_ROLES and set(roles) & CARE_MANAGER_ROLES and set(roles) & THERAPY_ROLES
    ):
        errors["attendees"] = (
            "A joint assessment meeting needs at least a qualified nurse, a care manager (or "
            "social worker) and an occupational therapist or physiotherapist."
        )
    if errors:
        raise ValidationError(errors)
    user_model = get_user_model()
    with transaction.atomic():
        fresh = _fresh_assessment(assessment, by, agency)
        _holding_lead(fresh, by, agency, "record the joint assessment meeting")
        if JointMeeting.objects.filter(assessment=fresh).exists():
            raise ValidationError("This assessment's meeting is recorded already.")
        # Only carers the agency may see (the one rule): the meeting records the carer's name,
        # which everyone who reads the assessment then sees. A carer whose record is not shared
        # is refused in the same words as one who is not the person's carer at all.
        carer_links = {
            str(link.pk): link
            for link in visible_carer_links(
                agency=agency, user=by, person_id=fresh.case_file.person_id
            )
        }
        rows: list[MeetingAttendee] = []
        for a in attendees:
            role = str(a["role"])
            if role == AttendeeRole.CARER:
                link = carer_links.get(str(a.get("carer_link", "")))
                if link is None:
                    raise ValidationError(
                        {"attendees": "A carer at the meeting must be one of the person's carers."}
                    )
                rows.append(MeetingAttendee(role=role, carer_link=link, name=link.carer.full_name))
                continue
            if role == AttendeeRole.PERSON:
                rows.append(MeetingAttendee(role=role, name=str(fresh.case_file.person)))
                continue
            user_id, agency_id = a.get("user"), a.get("agency")
            user = user_model.objects.filter(pk=user_id).first() if user_id else None
            att_agency = Agency.objects.filter(pk=agency_id).first() if agency_id else None
            name = str(a.get("name", "")).strip() or (user.get_full_name() if user else "")
            if not name:
                raise ValidationError({"attendees": f"Name the {role.replace('_', ' ')}."})
            rows.append(MeetingAttendee(role=role, user=user, agency=att_agency, name=name[:200]))
        eligible = eligible_under_care_act(
            from_impairment_or_illness=from_impairment_or_illness,
            outcomes_not_achieved=outcomes,
            significant_impact_on_wellbeing=significant_impact_on_wellbeing,
        )
        meeting = JointMeeting.objects.create(
            assessment=fresh,
            held_on=held_on,
            place=place,
            place_detail=place_detail.strip()[:200],
            wishes=wishes.strip(),
            views=views.strip(),
            decisions=decisions.strip(),
            from_impairment_or_illness=from_impairment_or_illness,
            outcomes_not_achieved=outcomes,
            significant_impact_on_wellbeing=significant_impact_on_wellbeing,
            eligible_computed=eligible,
            eligibility_confirmed=True,
            eligibility_confirmed_by=by,
            carer_assessment_requested=carer_assessment_requested,
            carer_assessment_notes=carer_assessment_notes.strip(),
            agreed_package=agreed_package.strip(),
            recorded_by=by,
        )
        for row in rows:
            row.meeting = meeting
        MeetingAttendee.objects.bulk_create(rows)
        audit.record(
            AuditAction.MEETING_RECORDED,
            actor=by,
            agency=agency,
            obj=meeting,
            person_id=fresh.case_file.person_id,
            detail={"attendees": roles, "eligible": eligible, "outcomes": outcomes},
        )
    return meeting


# --- Care plan -------------------------------------------------------------------------------


def _clean_services(
    services: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each service: kind, funding, provider, hours a week (0-168), cost an hour (integer
    pence, not negative), start, review and end dates (end not before start)."""
    out = []
    errors: dict[str, str] = {}
    for i, s in enumerate(services):
        where = f"services[{i}]"
        kind = s.get("kind")
        funding = s.get("funding")
        if kind not in ServiceKind.values:
            errors[f"{where}.kind"] = f"Choose a kind of service: {', '.join(ServiceKind.values)}."
        if funding not in Funding.values:
            errors[f"{where}.funding"] = "Choose nhs (free NHS care) or social_care (means-tested)."
        hours = s.get("hours_per_week")
        hours_d: Decimal | None = None
        if hours not in (None, ""):
            try:
                hours_d = Decimal(str(hours))
            except InvalidOperation:
                hours_d = None
                errors[f"{where}.hours_per_week"] = "Give hours a week as a number, e.g. 7.5."
            else:
                if not (0 <= hours_d <= 168) or hours_d != hours_d.quantize(Decimal("0.01")):
                    errors[f"{where}.hours_per_week"] = (
                        "Hours a week must be from 0 to 168 (there are 168 hours in a week), "
                        "to two decimal places."
                    )
        cost = s.get("cost_per_hour_pence")
        if cost not in (None, "") and (
            isinstance(cost, bool) or not isinstance(cost, int) or cost < 0
        ):
            errors[f"{where}.cost_per_hour_pence"] = (
                "Give the cost an hour in whole pence, 0 or more (e.g. 2150 for £21.50)."
            )
        dates: dict[str, dt.date | None] = {}
        for name in ("start_date", "review_date", "end_date"):
            raw = s.get(name)
            if raw in (None, ""):
                dates[name] = None
                continue
            try:
                dates[name] = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
            except ValueError:
                errors[f"{where}.{name}"] = "Give a date as YYYY-MM-DD."
        if dates.get("start_date") is None and f"{where}.start_date" not in errors:
            errors[f"{where}.start_date"] = "Give the date the service starts."
        start, end = dates.get("start_date"), dates.get("end_date")
        if start and end and end < start:
            errors[f"{where}.end_date"] = "The end date cannot be before the start date."
        provider = s.get("provider_agency")
        provider_agency = None
        if provider not in (None, ""):
            provider_agency = (
                provider
                if isinstance(provider, Agency)
                else Agency.objects.filter(slug=str(provider)).first()
            )
            if provider_agency is None:
                errors[f"{where}.provider_agency"] = f"No agency {provider!r}."
        out.append(
            {
                "kind": kind,
                "funding": funding,
                "provider_agency": provider_agency,
                "hours_per_week": hours_d,
                "cost_per_hour_pence": cost if cost not in (None, "") else None,
                **dates,
            }
        )
    if errors:
        raise ValidationError(errors)
    return out


def save_care_plan(
    *,
    assessment: Assessment,
    goals: str,
    review_on: dt.date,
    services: Sequence[Mapping[str, Any]],
    by: Any,
    agency: Agency,
    care_plan: CarePlan | None = None,
    expected_version: int | None = None,
) -> CarePlan:
    """Write (or rewrite) the care plan of a signed-off assessment: goals in the person's own
    words, the services and the review date. A change to an authorised plan returns it to
    draft until it is authorised again (which announces ``care_package.changed``)."""
    errors = {}
    if not goals.strip():
        errors["goals"] = "Write the person's goals, in their own words."
    if review_on < today_in_london():
        errors["review_on"] = "The review date cannot be in the past."
    if errors:
        raise ValidationError(errors)
    clean = _clean_services(services)
    with transaction.atomic():
        fresh = _fresh_assessment(assessment, by, agency)
        if fresh.case_file.agency_id != agency.pk:
            raise PermissionDenied("Only the holding agency can agree this care plan.")
        _professional(by, agency, "agree a care plan")
        if fresh.status != AssessmentStatus.SIGNED_OFF:
            raise ValidationError("Sign off the assessment before agreeing its care plan.")
        if care_plan is None:
            plan = CarePlan.objects.create(
                assessment=fresh, goals=goals.strip(), review_on=review_on, created_by=by
            )
        else:
            plan = CarePlan.objects.select_for_update().get(pk=care_plan.pk)
            if plan.assessment_id != fresh.pk:
                raise ValidationError("That care plan belongs to another assessment.")
            if expected_version is not None and plan.version != expected_version:
                raise StaleVersion("This care plan")
            if plan.status == CarePlanStatus.ENDED:
                raise ValidationError("This care plan has ended; agree a new one.")
            plan.goals = goals.strip()
            plan.review_on = review_on
            plan.status = CarePlanStatus.DRAFT
            plan.version += 1
            plan.save(update_fields=["goals", "review_on", "status", "version"])
            plan.services.all().delete()
        CarePlanService.objects.bulk_create(CarePlanService(care_plan=plan, **s) for s in clean)
        audit.record(
            AuditAction.CARE_PLAN_SAVED,
            actor=by,
            agency=agency,
            obj=plan,
            person_id=fresh.case_file.person_id,
            detail={"version": plan.version, "services": len(clean)},
        )
    return plan


def package_payload(plan: CarePlan) -> dict[str, Any]:
    """The payload of care_package.authorised / changed (caretrust/events/contracts.py):
    ids, dates and amounts only."""
    services = list(plan.services.order_by("start_date", "kind", "id"))
    case_file = plan.assessment.case_file
    return {
        "care_plan_id": str(plan.pk),
        "version": plan.version,
        "case_file_id": str(case_file.pk),
        "person_id": str(case_file.person_id),
        "agency_id": case_file.agency_id,
        "authorised_by": plan.authorised_by_id,
        "authorised_on": plan.authorised_on.isoformat() if plan.authorised_on else None,
        "weekly_cost_pence": sum(s.weekly_cost_pence for s in services),
        "services": [
            {
                "service_id": str(s.pk),
                "kind": s.kind,
                "funding": s.funding,
                "provider_agency_id": s.provider_agency_id,
                "hours_per_week": str(s.hours_per_week) if s.hours_per_week is not None else None,
                "cost_per_hour_pence": s.cost_per_hour_pence,
                "weekly_cost_pence": s.weekly_cost_pence,
                "start_date": s.start_date.isoformat(),
                "end_date": s.end_date.isoformat() if s.end_date else None,
            }
            for s in services
        ],
    }


def _plan_for_write(care_plan: CarePlan, by: Any, agency: Agency) -> CarePlan:
    plan = (
        visible_care_plans(agency, by)
        .select_for_update(of=("self",))
        .select_related("assessment__case_file")
        .filter(pk=care_plan.pk)
        .first()
    )
    if plan is None:
        raise Http404("No such care plan.")
    if plan.assessment.case_file.agency_id != agency.pk:
        raise PermissionDenied("Only the holding agency can change this care plan.")
    _professional(by, agency, "authorise a care plan")
    return plan


def authorise_care_plan(
    *, care_plan: CarePlan, by: Any, agency: Agency, expected_version: int | None = None
) -> CarePlan:
    """Authorise the package: announces ``care_package.authorised`` (the first time) or
    ``care_package.changed`` (after a change) through the outbox, in this transaction, so it
    is delivered once, after commit, and never if this rolls back. Locks the plan."""
    with transaction.atomic():
        plan = _plan_for_write(care_plan, by, agency)
        if expected_version is not None and plan.version != expected_version:
            raise StaleVersion("This care plan")
        if plan.status != CarePlanStatus.DRAFT:
            raise ValidationError(f"This care plan is {plan.get_status_display().lower()}.")
        if not plan.services.exists():
            raise ValidationError("Add at least one service before authorising the plan.")
        first = plan.authorised_version is None
        plan.status = CarePlanStatus.AUTHORISED
        plan.authorised_by = by
        plan.authorised_on = today_in_london()
        plan.authorised_version = plan.version
        plan.save(update_fields=["status", "authorised_by", "authorised_on", "authorised_version"])
        payload = package_payload(plan)
        emit(
            CARE_PACKAGE_AUTHORISED if first else CARE_PACKAGE_CHANGED,
            aggregate_type="care_plan",
            aggregate_id=plan.pk,
            payload=payload,
        )
        audit.record(
            AuditAction.CARE_PLAN_AUTHORISED,
            actor=by,
            agency=agency,
            obj=plan,
            person_id=plan.assessment.case_file.person_id,
            detail={"version": plan.version, "weekly_cost_pence": payload["weekly_cost_pence"]},
        )
    return plan


def end_care_plan(*, care_plan: CarePlan, ended_on: dt.date, by: Any, agency: Agency) -> CarePlan:
    """End an authorised package: announces ``care_package.ended``."""
    with transaction.atomic():
        plan = _plan_for_write(care_plan, by, agency)
        if plan.status != CarePlanStatus.AUTHORISED:
            raise ValidationError("Only an authorised care plan can be ended.")
        if ended_on > today_in_london() + dt.timedelta(days=365):
            raise ValidationError({"ended_on": "Give an end date within the next year."})
        plan.status = CarePlanStatus.ENDED
        plan.ended_on = ended_on
        plan.version += 1
        plan.save(update_fields=["status", "ended_on", "version"])
        emit(
            CARE_PACKAGE_ENDED,
            aggregate_type="care_plan",
            aggregate_id=plan.pk,
            payload={
                "care_plan_id": str(plan.pk),
                "version": plan.version,
                "ended_on": ended_on.isoformat(),
            },
        )
        audit.record(
            AuditAction.CARE_PLAN_ENDED,
            actor=by,
            agency=agency,
            obj=plan,
            person_id=plan.assessment.case_file.person_id,
            detail={"ended_on": ended_on.isoformat()},
        )
    return plan


def record_letter_sent(*, care_plan: CarePlan, by: Any, agency: Agency, form: str) -> CarePlan:
    """The plan was copied to the person (SAP: the care plan is copied to the person)."""
    with transaction.atomic():
        plan = _plan_for_write(care_plan, by, agency)
        if plan.status == CarePlanStatus.DRAFT and plan.authorised_version is None:
            raise ValidationError("Authorise the care plan before sending it to the person.")
        plan.letter_sent_at = timezone.now()
        plan.save(update_fields=["letter_sent_at"])
        audit.record(
            AuditAction.LETTER_SENT,
            actor=by,
            agency=agency,
            obj=plan,
            person_id=plan.assessment.case_file.person_id,
            detail={"format": form, "version": plan.version},
        )
    return plan


# --- Handover --------------------------------------------------------------------------------


def offer_handover(
    *,
    assessment_id: Any,
    receiving_agency_id: int,
    receiving_service_id: str = "",
    referral_id: str = "",
) -> HandoverOffer | None:
    """Offer a signed assessment to the receiving service of another agency at handover
    (idempotent). Nothing is offered that the receiving agency may not see."""
    assessment = Assessment.objects.filter(
        pk=assessment_id, status=AssessmentStatus.SIGNED_OFF
    ).first()
    agency = Agency.objects.filter(pk=receiving_agency_id).first()
    if assessment is None or agency is None:
        return None
    if not visible_assessments(agency, None).filter(pk=assessment.pk).exists():
        return None
    offer, created = HandoverOffer.objects.get_or_create(
        assessment=assessment,
        receiving_agency=agency,
        referral_id=referral_id[:64],
        defaults={"receiving_service_id": receiving_service_id[:64]},
    )
    if created:
        audit.record(
            AuditAction.HANDOVER_OFFERED,
            agency=agency,
            obj=assessment,
            person_id=None,
            detail={"assessment": str(assessment.pk), "referral": referral_id[:64]},
        )
    return offer


def adopt_assessment(
    *,
    assessment: Assessment,
    by: Any,
    agency: Agency,
    team: Team | None = None,
    referral_id: str = "",
) -> Adoption:
    """A receiving service of another agency adopts the signed assessment instead of assessing
    again (with consent: only through the rule). One re-assessment avoided for that service."""
    with transaction.atomic():
        fresh = _fresh_assessment(assessment, by, agency)
        if fresh.case_file.agency_id == agency.pk:
            raise ValidationError("Your agency holds this assessment already.")
        if fresh.status != AssessmentStatus.SIGNED_OFF:
            raise ValidationError("Only a signed-off assessment can be adopted.")
        _professional(by, agency, "adopt an assessment")
        if team is not None and team.agency_id != agency.pk:
            raise ValidationError({"team": f"That team is not part of {agency}."})
        if Adoption.objects.filter(assessment=fresh, agency=agency, team=team).exists():
            raise ValidationError("Your service has adopted this assessment already.")
        adoption = Adoption.objects.create(
            assessment=fresh, agency=agency, team=team, adopted_by=by, referral_id=referral_id
        )
        audit.record(
            AuditAction.ADOPTED,
            actor=by,
            agency=agency,
            obj=fresh,
            person_id=fresh.case_file.person_id,
            detail={"team": team.slug if team else "", "referral": referral_id},
        )
    return adoption
