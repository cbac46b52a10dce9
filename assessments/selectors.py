"""Every read of assessments, scales, meetings and care plans. Each starts from the one
visibility rule (``case_file_visibility`` for data class "assessments", or "care plans" for
care plans) and is audited; what is not visible answers 404 exactly like what does not exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from assessments.models import (
    Addendum,
    Adoption,
    AnswerChange,
    Assessment,
    AuditAction,
    CarePlan,
    CarePlanService,
    FormQuestion,
    HandoverOffer,
    JointMeeting,
    MeetingAttendee,
    Risk,
    Scale,
    ScaleResult,
    Section,
    SectionConflict,
)
from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency
from caretrust.people.models import DataClass, case_file_visibility
from caretrust.people.selectors import get_visible_person, parse_uuid


def assessment_rule(agency: Agency, user: Any, path: str = "case_file") -> Q:
    """The one rule, for rows of an assessment's case file, for data class "assessments"."""
    return case_file_visibility(agency, DataClass.ASSESSMENTS, user, path=path)


def visible_assessments(agency: Agency, user: Any) -> QuerySet[Assessment]:
    return Assessment.objects.filter(assessment_rule(agency, user))


def visible_sections(agency: Agency, user: Any) -> QuerySet[Section]:
    return Section.objects.filter(assessment_rule(agency, user, "assessment__case_file"))


def visible_scales(agency: Agency, user: Any) -> QuerySet[ScaleResult]:
    return ScaleResult.objects.filter(assessment_rule(agency, user))


def visible_care_plans(agency: Agency, user: Any) -> QuerySet[CarePlan]:
    return CarePlan.objects.filter(
        case_file_visibility(agency, DataClass.CARE_PLANS, user, path="assessment__case_file")
    )


def _denied(*, user: Any, agency: Agency, kind: str, raw_id: object, exists: bool) -> None:
    audit.record(
        Action.ACCESS_DENIED,
        actor=user,
        agency=agency,
        detail={
            "object": kind,
            "id": str(raw_id)[:64],
            "reason": "not_permitted" if exists else "not_found",
        },
    )


def _one(
    queryset: QuerySet[Any], model: Any, *, user: Any, agency: Agency, kind: str, raw_id: object
) -> Any:
    pk = parse_uuid(raw_id)
    found = queryset.filter(pk=pk).first() if pk else None
    if found is None:
        exists = pk is not None and model.objects.filter(pk=pk).exists()
        _denied(user=user, agency=agency, kind=kind, raw_id=raw_id, exists=exists)
        raise Http404(f"No such {kind.replace('_', ' ')}.")
    return found


def get_assessment(
    *, user: Any, agency: Agency, assessment_id: object, purpose: str = "view", audited: bool = True
) -> Assessment:
    """One assessment the agency may see (404 alike for missing and hidden), audited."""
    assessment: Assessment = _one(
        visible_assessments(agency, user).select_related(
            "case_file__person", "case_file__agency", "form", "lead"
        ),
        Assessment,
        user=user,
        agency=agency,
        kind="assessment",
        raw_id=assessment_id,
    )
    if audited:
        audit.record(
            AuditAction.ASSESSMENT_VIEWED,
            actor=user,
            agency=agency,
            obj=assessment,
            person_id=assessment.case_file.person_id,
            detail={"purpose": purpose},
        )
    return assessment


def get_section(*, user: Any, agency: Agency, section_id: object, purpose: str = "view") -> Section:
    section: Section = _one(
        visible_sections(agency, user).select_related(
            "assessment__case_file__person",
            "assessment__case_file__agency",
            "assessment__lead",
            "assessment__form",
            "domain",
            "author",
            "author_agency",
        ),
        Section,
        user=user,
        agency=agency,
        kind="section",
        raw_id=section_id,
    )
    audit.record(
        AuditAction.ASSESSMENT_VIEWED,
        actor=user,
        agency=agency,
        obj=section,
        person_id=section.assessment.case_file.person_id,
        detail={"purpose": purpose, "section": section.domain.key},
    )
    return section


def questions_of(section: Section) -> list[FormQuestion]:
    return list(FormQuestion.objects.filter(domain_id=section.domain_id).order_by("order"))


@dataclass
class AssessmentPage:
    assessment: Assessment
    sections: Sequence[Section]
    addenda: list[Addendum]
    scales: list[ScaleResult]
    risks: list[Risk]
    meeting: JointMeeting | None
    care_plans: list[CarePlan]
    adoptions: list[Adoption]
    contributors: list[Any] = field(default_factory=list)

    @property
    def required_unsigned(self) -> list[Section]:
        depth = self.assessment.depth
        return [s for s in self.sections if s.domain.required_for(depth) and s.status != "signed"]


def assessment_page(*, user: Any, agency: Agency, assessment_id: object) -> AssessmentPage:
    """The assessment with its sections, addenda, scales, risks, meeting, care plans and
    adoptions, in a fixed number of queries whatever their number (and however many versions
    the sections have been through: the history is not read here)."""
    assessment = get_assessment(user=user, agency=agency, assessment_id=assessment_id)
    sections = list(
        Section.objects.filter(assessment=assessment)
        .select_related("domain", "author", "author_agency")
        .annotate(conflict_count=Count("conflicts"))
        .order_by("domain__order")
    )
    addenda = list(
        Addendum.objects.filter(assessment=assessment).select_related(
            "author", "author_agency", "section__domain"
        )
    )
    scales = list(ScaleResult.objects.filter(assessment=assessment).select_related("recorded_by"))
    risks = list(Risk.objects.filter(assessment=assessment).select_related("risk_type"))
    meeting = (
        JointMeeting.objects.filter(assessment=assessment)
        .prefetch_related(Prefetch("attendees", MeetingAttendee.objects.select_related("agency")))
        .first()
    )
    plans: list[CarePlan] = []
    if (
        assessment.case_file.agency_id == agency.pk
        or visible_care_plans(agency, user).filter(assessment=assessment).exists()
    ):
        plans = list(
            CarePlan.objects.filter(assessment=assessment).prefetch_related(
                Prefetch("services", CarePlanService.objects.select_related("provider_agency"))
            )
        )
    adoptions = list(
        Adoption.objects.filter(assessment=assessment).select_related("agency", "team")
    )
    contributors = {s.author_id: s.author for s in sections if s.author_id}
    return AssessmentPage(
        assessment=assessment,
        sections=sections,
        addenda=addenda,
        scales=scales,
        risks=risks,
        meeting=meeting,
        care_plans=plans,
        adoptions=adoptions,
        contributors=list(contributors.values()),
    )


def assessments_for(*, user: Any, agency: Agency) -> list[Assessment]:
    """The agency's own assessments led by the user, and every visible assessment with a
    section delegated to the user at this agency: a worker's assessment list."""
    rows = list(
        visible_assessments(agency, user)
        .filter(
            Q(case_file__agency=agency, lead=user)
            | Q(sections__author=user, sections__author_agency=agency)
        )
        .distinct()
        .select_related("case_file__person", "case_file__agency", "lead")
        .order_by("-created_at")[:100]
    )
    audit.record(
        AuditAction.ASSESSMENT_LISTED,
        actor=user,
        agency=agency,
        detail={"assessments": [str(a.pk) for a in rows]},
    )
    return rows


def section_history(*, user: Any, agency: Agency, assessment: Assessment) -> list[AnswerChange]:
    """Every change to every answer of the assessment (the caller has read the assessment
    through the rule): who, when, from what to what."""
    changes = list(
        AnswerChange.objects.filter(section__assessment=assessment)
        .select_related("changed_by", "changed_by_agency", "section__domain")
        .order_by("-id")
    )
    audit.record(
        AuditAction.HISTORY_VIEWED,
        actor=user,
        agency=agency,
        obj=assessment,
        person_id=assessment.case_file.person_id,
        detail={"changes": len(changes)},
    )
    return changes


def get_conflict(*, user: Any, agency: Agency, conflict_id: object) -> SectionConflict:
    conflict: SectionConflict = _one(
        SectionConflict.objects.filter(
            assessment_rule(agency, user, "section__assessment__case_file"), author=user
        ).select_related("section__domain", "section__assessment__case_file__person"),
        SectionConflict,
        user=user,
        agency=agency,
        kind="section_conflict",
        raw_id=conflict_id,
    )
    audit.record(
        AuditAction.ASSESSMENT_VIEWED,
        actor=user,
        agency=agency,
        obj=conflict.section,
        person_id=conflict.section.assessment.case_file.person_id,
        detail={"purpose": "conflict", "conflict": str(conflict.pk)},
    )
    return conflict


def get_care_plan(*, user: Any, agency: Agency, care_plan_id: object) -> CarePlan:
    plan: CarePlan = _one(
        visible_care_plans(agency, user).select_related(
            "assessment__case_file__person", "assessment__case_file__agency", "authorised_by"
        ),
        CarePlan,
        user=user,
        agency=agency,
        kind="care_plan",
        raw_id=care_plan_id,
    )
    audit.record(
        AuditAction.CARE_PLAN_VIEWED,
        actor=user,
        agency=agency,
        obj=plan,
        person_id=plan.assessment.case_file.person_id,
    )
    return plan


def get_scale(*, user: Any, agency: Agency, scale_id: object) -> ScaleResult:
    result: ScaleResult = _one(
        visible_scales(agency, user).select_related("case_file"),
        ScaleResult,
        user=user,
        agency=agency,
        kind="scale_result",
        raw_id=scale_id,
    )
    audit.record(
        AuditAction.SCALES_VIEWED,
        actor=user,
        agency=agency,
        obj=result,
        person_id=result.case_file.person_id,
    )
    return result


@dataclass(frozen=True)
class Trend:
    scale: str
    label: str
    maximum: int
    results: list[ScaleResult]
    cutoff: int | None

    @property
    def first_total(self) -> int:
        return self.results[0].total

    @property
    def last_total(self) -> int:
        return self.results[-1].total

    @property
    def cutoff_y(self) -> float | None:
        return None if self.cutoff is None else round(80 - self.cutoff * 80 / self.maximum, 1)

    def points(self, width: int = 240, height: int = 80) -> str:
        """SVG polyline points, oldest on the left, 0 at the bottom."""
        n = len(self.results)
        if n == 0:
            return ""
        step = width / max(n - 1, 1)
        return " ".join(
            f"{round(i * step, 1)},{round(height - r.total * height / self.maximum, 1)}"
            for i, r in enumerate(self.results)
        )


@dataclass
class PersonAssessments:
    person: Any
    assessments: list[Assessment]
    trends: list[Trend]
    own_file: Any


def person_assessments(*, user: Any, agency: Agency, person_id: object) -> PersonAssessments:
    """For the person page's panel: the assessments and scale trends the agency may see."""
    from caretrust.people.models import CaseFile

    person = get_visible_person(
        user=user, agency=agency, person_id=person_id, purpose="assessments_panel"
    )
    assessments = list(
        visible_assessments(agency, user)
        .filter(case_file__person=person)
        .select_related("case_file__agency", "lead")
        .order_by("-created_at")
    )
    results = list(
        visible_scales(agency, user).filter(case_file__person=person).order_by("assessed_on")
    )
    by_scale: dict[str, list[ScaleResult]] = defaultdict(list)
    for r in results:
        by_scale[r.scale].append(r)
    trends = [
        Trend(
            scale=scale,
            label=str(Scale(scale).label),
            maximum=20 if scale == Scale.BARTHEL else 10,
            results=by_scale[scale],
            cutoff=by_scale[scale][-1].cutoff if by_scale[scale] else None,
        )
        for scale in Scale.values
        if by_scale[scale]
    ]
    audit.record(
        AuditAction.SCALES_VIEWED,
        actor=user,
        agency=agency,
        person_id=person.pk,
        detail={
            "assessments": [str(a.pk) for a in assessments],
            "scales": [str(r.pk) for r in results],
        },
    )
    own = CaseFile.objects.filter(person=person, agency=agency).first()
    return PersonAssessments(person, assessments, trends, own)


@dataclass(frozen=True)
class ServiceCount:
    agency: str
    team: str
    avoided: int


def reassessments_avoided(*, agency: Agency | None = None) -> list[ServiceCount]:
    """Re-assessments avoided, per receiving service (agency and team): each adoption of a
    signed assessment is one assessment not done again. Counts only, no people's data."""
    rows = Adoption.objects.all()
    if agency is not None:
        rows = rows.filter(agency=agency)
    counted = (
        rows.values("agency__name", "team__name")
        .annotate(n=Count("id"))
        .order_by("agency__name", "team__name")
    )
    return [ServiceCount(r["agency__name"], r["team__name"] or "", r["n"]) for r in counted]


def handover_offers(*, user: Any, agency: Agency) -> list[HandoverOffer]:
    """Signed assessments offered to the agency at handover that it may still see and has not
    adopted."""
    offers = list(
        HandoverOffer.objects.filter(receiving_agency=agency)
        .filter(assessment_rule(agency, user, "assessment__case_file"))
        .exclude(assessment__adoptions__agency=agency)
        .select_related("assessment__case_file__person", "assessment__case_file__agency")
        .order_by("-offered_at")
    )
    audit.record(
        AuditAction.ASSESSMENT_LISTED,
        actor=user,
        agency=agency,
        detail={"handover_offers": [str(o.assessment_id) for o in offers]},
    )
    return offers


def is_uuid(value: object) -> UUID | None:
    return parse_uuid(value)
