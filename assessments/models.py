"""The Single Assessment Process: versioned assessment forms, jointly written assessments,
scales, joint assessment meetings and care plans copied to the person.

Every row that holds a person's data hangs off a ``CaseFile`` (through its assessment), so it
is reached only through the one visibility rule (``case_file_visibility``). Forms, the risk
vocabulary and the Care Act outcomes are data, not people's data.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from caretrust.directory.models import Agency, Team
from caretrust.people.models import CarerLink, CaseFile


class AuditAction(models.TextChoices):
    ASSESSMENT_STARTED = "assessment.started", "Started an assessment"
    ASSESSMENT_VIEWED = "assessment.viewed", "Viewed an assessment"
    ASSESSMENT_LISTED = "assessment.listed", "Listed assessments"
    SECTION_DELEGATED = "assessment.section_delegated", "Delegated an assessment section"
    SECTION_SAVED = "assessment.section_saved", "Saved an assessment section"
    SECTION_CONFLICT = "assessment.section_conflict", "Kept a conflicting section draft"
    SECTION_SIGNED = "assessment.section_signed", "Signed an assessment section"
    SECTION_REOPENED = "assessment.section_reopened", "Reopened an assessment section"
    SIGNED_OFF = "assessment.signed_off", "Signed off an assessment"
    ADDENDUM_WRITTEN = "assessment.addendum_written", "Wrote an addendum"
    HISTORY_VIEWED = "assessment.history_viewed", "Viewed an assessment's history"
    SCALE_RECORDED = "assessment.scale_recorded", "Recorded a scale"
    SCALES_VIEWED = "assessment.scales_viewed", "Viewed scale results"
    RISK_RECORDED = "assessment.risk_recorded", "Recorded a risk"
    MEETING_RECORDED = "assessment.meeting_recorded", "Recorded a joint assessment meeting"
    ELIGIBILITY_CONFIRMED = "assessment.eligibility_confirmed", "Confirmed Care Act eligibility"
    CARE_PLAN_SAVED = "care_plan.saved", "Saved a care plan"
    CARE_PLAN_VIEWED = "care_plan.viewed", "Viewed a care plan"
    CARE_PLAN_AUTHORISED = "care_plan.authorised", "Authorised a care plan"
    CARE_PLAN_ENDED = "care_plan.ended", "Ended a care plan"
    LETTER_SENT = "care_plan.letter_sent", "Sent the care plan letter to the person"
    ADOPTED = "assessment.adopted", "Adopted an assessment instead of re-assessing"
    HANDOVER_OFFERED = "assessment.handover_offered", "Was offered an assessment at handover"


# --- Forms as data ---------------------------------------------------------------------------


class Depth(models.TextChoices):
    CONTACT = "contact", "Contact"
    OVERVIEW = "overview", "Overview"
    SPECIALIST = "specialist", "Specialist"
    COMPREHENSIVE = "comprehensive", "Comprehensive"


class QuestionKind(models.TextChoices):
    CHOICE = "choice", "Choice"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    TEXT = "text", "Text"


class FormDefinition(models.Model):
    """One published version of an area's assessment form (e.g. "Calderbridge single
    assessment", v1). Publishing v2 adds rows, never a migration; an assessment keeps the
    version it was started on."""

    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    # The area's locally agreed AMTS cut-off: a total below it suggests cognitive impairment.
    amts_cutoff = models.PositiveSmallIntegerField(default=8)
    published_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["slug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="form_version_unique"),
            models.CheckConstraint(condition=Q(amts_cutoff__lte=10), name="form_amts_cutoff_0_10"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class FormDomain(models.Model):
    """One of the nine SAP domains as a form version lays it out."""

    form = models.ForeignKey(FormDefinition, on_delete=models.PROTECT, related_name="domains")
    key = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField()
    required_at = models.JSONField(default=list, help_text="Depths that require this section.")

    class Meta:
        ordering = ["form", "order"]
        constraints = [
            models.UniqueConstraint(fields=["form", "key"], name="form_domain_unique"),
        ]

    def __str__(self) -> str:
        return self.title

    def required_for(self, depth: str) -> bool:
        return depth in self.required_at


class FormQuestion(models.Model):
    domain = models.ForeignKey(FormDomain, on_delete=models.PROTECT, related_name="questions")
    key = models.SlugField(max_length=60)
    text = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=QuestionKind.choices)
    choices = models.JSONField(default=list, blank=True, help_text="[[value, label], ...]")
    minimum = models.IntegerField(null=True, blank=True)
    maximum = models.IntegerField(null=True, blank=True)
    past_only = models.BooleanField(default=False, help_text="A date that cannot be in future.")
    required_at = models.JSONField(default=list, help_text="Depths that require an answer.")
    order = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["domain", "order"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "key"], name="form_question_unique"),
        ]

    def __str__(self) -> str:
        return self.text

    def required_for(self, depth: str) -> bool:
        return depth in self.required_at


# --- Assessments -----------------------------------------------------------------------------


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In progress"
    SIGNED_OFF = "signed_off", "Signed off"


class Assessment(models.Model):
    """One assessment per episode, held in the lead professional's agency's case file."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_file = models.ForeignKey(CaseFile, on_delete=models.PROTECT, related_name="assessments")
    form = models.ForeignKey(FormDefinition, on_delete=models.PROTECT, related_name="+")
    depth = models.CharField(max_length=20, choices=Depth.choices)
    reason = models.CharField(max_length=500)
    episode = models.CharField(max_length=200, help_text="e.g. Discharge from ward 7, May 2026")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="signed_off", signed_off_at__isnull=False)
                | (~Q(status="signed_off") & Q(signed_off_at__isnull=True)),
                name="assessment_signed_off_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_depth_display()} assessment {self.id}"

    @property
    def is_signed_off(self) -> bool:
        return self.status == AssessmentStatus.SIGNED_OFF


class SectionStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    DRAFTED = "drafted", "Drafted"
    SIGNED = "signed", "Signed by its author"


class Section(models.Model):
    """One SAP domain of an assessment: its assigned author (perhaps of another agency),
    structured answers (validated against the form version) and a narrative. Its own
    ``version`` lets two sections be edited at once while one section never loses a save."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="sections")
    domain = models.ForeignKey(FormDomain, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    author_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answers = models.JSONField(default=dict, blank=True)
    narrative = models.TextField(blank=True, max_length=20_000)
    status = models.CharField(
        max_length=20, choices=SectionStatus.choices, default=SectionStatus.NOT_STARTED
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["domain__order"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "domain"], name="section_one_per_domain"),
            models.CheckConstraint(
                condition=Q(author__isnull=True) | Q(author_agency__isnull=False),
                name="section_author_has_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain.title} ({self.get_status_display()})"


class AnswerChange(models.Model):
    """Who changed which answer of a section when, from what to what. Append-only (the
    database refuses UPDATE and DELETE: migration 0002)."""

    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="changes")
    question = models.CharField(max_length=60, help_text="A question key, or 'narrative'.")
    old = models.JSONField(null=True)
    new = models.JSONField(null=True)
    section_version = models.PositiveIntegerField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_by_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["section", "id"], name="answer_change_by_section")]

    def __str__(self) -> str:
        return f"{self.question} v{self.section_version}"


class SectionConflict(models.Model):
    """A save that lost the race: its draft, kept so nothing is lost, beside the version
    that won (``current_version``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="conflicts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    based_on_version = models.PositiveIntegerField()
    current_version = models.PositiveIntegerField()
    answers = models.JSONField(default=dict)
    narrative = models.TextField(blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Conflict on section {self.section_id}"


class Addendum(models.Model):
    """A dated change to a signed-off assessment, with its author and reason: after sign-off
    nothing is edited in place."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="addenda")
    section = models.ForeignKey(
        Section, on_delete=models.PROTECT, null=True, blank=True, related_name="addenda"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    text = models.TextField(max_length=10_000)
    written_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["written_at", "id"]

    def __str__(self) -> str:
        return f"Addendum {self.pk}"


# --- Scales and risk -------------------------------------------------------------------------


class Scale(models.TextChoices):
    BARTHEL = "barthel", "Barthel index (0-20)"
    AMTS = "amts", "Abbreviated Mental Test Score"


class ScaleResult(models.Model):
    """A scale scored on the server from its items: items, total and the date assessed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_file = models.ForeignKey(CaseFile, on_delete=models.PROTECT, related_name="+")
    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="scales"
    )
    scale = models.CharField(max_length=20, choices=Scale.choices)
    items = models.JSONField()
    total = models.PositiveSmallIntegerField()
    cutoff = models.PositiveSmallIntegerField(null=True, blank=True)
    assessed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assessed_on", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scale="barthel") & Q(total__lte=20))
                | (Q(scale="amts") & Q(total__lte=10)),
                name="scale_total_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scale} {self.total} on {self.assessed_on}"

    @property
    def below_cutoff(self) -> bool:
        return self.cutoff is not None and self.total < self.cutoff


class RiskType(models.Model):
    """The shared risk vocabulary (data), so every profession records risk the same way."""

    key = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    description = models.CharField(max_length=300)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Likelihood(models.IntegerChoices):
    RARE = 1, "Rare"
    UNLIKELY = 2, "Unlikely"
    POSSIBLE = 3, "Possible"
    LIKELY = 4, "Likely"
    ALMOST_CERTAIN = 5, "Almost certain"


class Impact(models.IntegerChoices):
    NEGLIGIBLE = 1, "Negligible"
    MINOR = 2, "Minor"
    MODERATE = 3, "Moderate"
    MAJOR = 4, "Major"
    SEVERE = 5, "Severe"


class Risk(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="risks")
    risk_type = models.ForeignKey(RiskType, on_delete=models.PROTECT, related_name="+")
    likelihood = models.PositiveSmallIntegerField(choices=Likelihood.choices)
    impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-likelihood", "-impact"]
        constraints = [
            models.CheckConstraint(
                condition=Q(likelihood__gte=1, likelihood__lte=5, impact__gte=1, impact__lte=5),
                name="risk_scores_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.risk_type_id} L{self.likelihood} I{self.impact}"

    @property
    def score(self) -> int:
        return int(self.likelihood) * int(self.impact)


# --- Joint assessment meeting ----------------------------------------------------------------


class Place(models.TextChoices):
    WARD = "ward", "Hospital ward"
    HOME = "home", "The person's home"
    OTHER = "other", "Somewhere else"


# The Care and Support (Eligibility Criteria) Regulations 2015, reg. 2(2): the specified
# outcomes an adult may be unable to achieve.
ELIGIBILITY_OUTCOMES: list[tuple[str, str]] = [
    ("nutrition", "Managing and maintaining nutrition"),
    ("hygiene", "Maintaining personal hygiene"),
    ("toilet", "Managing toilet needs"),
    ("clothing", "Being appropriately clothed"),
    ("home_safety", "Being able to make use of the home safely"),
    ("habitable_home", "Maintaining a habitable home environment"),
    ("relationships", "Developing and maintaining family or other personal relationships"),
    ("work_education", "Accessing and engaging in work, training, education or volunteering"),
    (
        "community",
        "Making use of necessary facilities or services in the local community, "
        "including public transport and recreational facilities or services",
    ),
    ("caring_for_child", "Carrying out any caring responsibilities for a child"),
]
OUTCOME_KEYS = [key for key, _ in ELIGIBILITY_OUTCOMES]


class JointMeeting(models.Model):
    """The joint assessment meeting: who was there, the person's wishes in their own words,
    the professionals' views, the decisions and the Care Act 2014 eligibility outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="meeting")
    held_on = models.DateField()
    place = models.CharField(max_length=10, choices=Place.choices)
    place_detail = models.CharField(max_length=200, blank=True)
    wishes = models.TextField(max_length=5_000, help_text="The person's wishes, in their words.")
    views = models.TextField(max_length=10_000, blank=True)
    decisions = models.TextField(max_length=10_000, blank=True)
    # Care Act 2014 s.13 and the 2015 Regulations, reg. 2.
    from_impairment_or_illness = models.BooleanField()
    outcomes_not_achieved = models.JSONField(default=list)
    significant_impact_on_wellbeing = models.BooleanField()
    eligible_computed = models.BooleanField()
    eligibility_confirmed = models.BooleanField(help_text="The professional confirmed it.")
    eligibility_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    carer_assessment_requested = models.BooleanField(default=False)
    carer_assessment_notes = models.TextField(max_length=5_000, blank=True)
    agreed_package = models.TextField(max_length=10_000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(wishes=""), name="meeting_wishes_required"),
        ]

    def __str__(self) -> str:
        return f"Meeting on {self.held_on}"


class AttendeeRole(models.TextChoices):
    NURSE = "nurse", "Qualified nurse"
    CARE_MANAGER = "care_manager", "Care manager"
    OCCUPATIONAL_THERAPIST = "occupational_therapist", "Occupational therapist"
    PHYSIOTHERAPIST = "physiotherapist", "Physiotherapist"
    SOCIAL_WORKER = "social_worker", "Social worker"
    GP = "gp", "GP"
    PERSON = "person", "The person"
    CARER = "carer", "Carer"
    OTHER = "other", "Other"


class MeetingAttendee(models.Model):
    meeting = models.ForeignKey(JointMeeting, on_delete=models.PROTECT, related_name="attendees")
    role = models.CharField(max_length=30, choices=AttendeeRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    carer_link = models.ForeignKey(
        CarerLink, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})"


# --- Care plan -------------------------------------------------------------------------------


class CarePlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AUTHORISED = "authorised", "Authorised"
    ENDED = "ended", "Ended"


class CarePlan(models.Model):
    """The care plan agreed from a signed-off assessment: the person's goals in their own
    words, the services that deliver it, and its review date."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="care_plans")
    goals = models.TextField(max_length=5_000, help_text="In the person's own words.")
    review_on = models.DateField()
    status = models.CharField(
        max_length=20, choices=CarePlanStatus.choices, default=CarePlanStatus.DRAFT
    )
    version = models.PositiveIntegerField(default=1)
    # The version last announced (care_package.authorised / changed); None until authorised.
    authorised_version = models.PositiveIntegerField(null=True, blank=True)
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    authorised_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    letter_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Care plan {self.pk} v{self.version}"

    @property
    def weekly_cost_pence(self) -> int:
        return sum(s.weekly_cost_pence for s in self.services.all())


class ServiceKind(models.TextChoices):
    DISTRICT_NURSING = "district_nursing", "District nursing"
    HOME_CARE = "home_care", "Home care"
    DAY_CARE = "day_care", "Day care"
    EQUIPMENT = "equipment", "Equipment"
    ADAPTATION = "adaptation", "Adaptation to the home"
    REABLEMENT = "reablement", "Reablement"
    RESIDENTIAL = "residential", "Residential care placement"
    NURSING_PLACEMENT = "nursing_placement", "Nursing home placement"
    MEALS = "meals", "Meals"
    OTHER = "other", "Other"


class Funding(models.TextChoices):
    NHS = "nhs", "Free NHS care"
    SOCIAL_CARE = "social_care", "Means-tested social care"


class CarePlanService(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    care_plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="services")
    provider_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=ServiceKind.choices)
    funding = models.CharField(max_length=20, choices=Funding.choices)
    hours_per_week = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    cost_per_hour_pence = models.PositiveIntegerField(null=True, blank=True)
    start_date = models.DateField()
    review_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["start_date", "kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours_per_week__isnull=True)
                | Q(hours_per_week__gte=0, hours_per_week__lte=168),
                name="service_hours_within_a_week",
            ),
            models.CheckConstraint(
                condition=Q(cost_per_hour_pence__isnull=True) | Q(cost_per_hour_pence__gte=0),
                name="service_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="service_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.funding})"

    @property
    def weekly_cost_pence(self) -> int:
        """Hours a week x cost an hour, to the nearest penny (half up)."""
        if self.hours_per_week is None or self.cost_per_hour_pence is None:
            return 0
        cost = Decimal(self.hours_per_week) * self.cost_per_hour_pence
        return int(cost.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- Handover --------------------------------------------------------------------------------


class HandoverOffer(models.Model):
    """A signed assessment offered to a receiving service at handover (from the referrals
    app's ``referral.handed_over`` event, or by the holding agency directly)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="offers")
    receiving_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    receiving_service_id = models.CharField(max_length=64, blank=True)
    referral_id = models.CharField(max_length=64, blank=True)
    offered_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "receiving_agency", "referral_id"], name="handover_offer_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Offer of {self.assessment_id} to {self.receiving_agency_id}"


class Adoption(models.Model):
    """A receiving service took on a signed assessment instead of assessing again: one
    re-assessment avoided, counted per service (agency and team)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="adoptions")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    adopted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    adopted_at = models.DateTimeField(db_default=Now())
    referral_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-adopted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "agency"],
                condition=Q(team__isnull=True),
                name="adoption_once_per_agency",
            ),
            models.UniqueConstraint(
                fields=["assessment", "agency", "team"], name="adoption_once_per_service"
            ),
        ]

    def __str__(self) -> str:
        return f"Adoption of {self.assessment_id} by {self.agency_id}"


def label_of(choices: Any, value: str) -> str:
    return str(dict(choices).get(value, value))
