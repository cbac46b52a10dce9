"""Referrals: the service catalogue, routing rules, team queues, response clocks, and
hospital discharge to assess.

A referral belongs to the receiving agency's case file on the person (``case_file``), and,
when it came from another agency, names the referring agency's own file too
(``referrer_case_file``), so the referrer keeps sight of what it sent and of the outcome. Both
are read only through the one visibility rule (``case_file_visibility``), never a rule of
their own. A public self-referral waits ``unverified``, with no case file, until the receiving
agency has matched it to a person; until then only that agency sees it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from caretrust.directory.models import Agency, AgencyKind, Team
from caretrust.people.models import CaseFile, DataClass, case_file_visibility


class Action(models.TextChoices):
    """This app's audit actions (registered in ``ReferralsConfig.ready``)."""

    SERVICE_CREATED = "referral_service.created", "Added a service to the catalogue"
    SERVICE_UPDATED = "referral_service.updated", "Changed a service in the catalogue"
    REFERRAL_CREATED = "referral.created", "Made a referral"
    REFERRAL_SUBMITTED_PUBLIC = "referral.submitted_public", "Self or family referral received"
    REFERRAL_VERIFIED = "referral.verified", "Matched a self-referral to a person"
    REFERRAL_VIEWED = "referral.viewed", "Viewed a referral"
    REFERRAL_LISTED = "referral.listed", "Listed referrals"
    REFERRAL_CLAIMED = "referral.claimed", "Claimed a referral"
    REFERRAL_ASSIGNED = "referral.assigned", "Assigned a referral"
    REFERRAL_RELEASED = "referral.released", "Released a referral"
    REFERRAL_TRANSITION = "referral.transition", "Changed a referral's state"
    REFERRAL_REFUSED = "referral.refused", "Referral refused (no lawful basis)"
    REFERRAL_BREACHED = "referral.breached", "Referral response target missed"
    RULESET_DRAFTED = "routing.drafted", "Drafted routing rules"
    RULESET_PUBLISHED = "routing.published", "Published routing rules"
    RULESET_DRY_RUN = "routing.dry_run", "Dry-ran routing rules"
    DISCHARGE_RECORDED = "discharge.recorded", "Recorded a hospital admission"
    DISCHARGE_UPDATED = "discharge.updated", "Updated a hospital discharge"
    DISCHARGE_LISTED = "discharge.listed", "Listed the discharge worklist"
    DISCHARGE_NOTICE = "discharge.notice", "Gave a discharge notice (2003 Act)"
    DISCHARGE_CHARGED = "discharge.charged", "Charged delayed discharge days"
    OUTCOMES_VIEWED = "referral_outcomes.viewed", "Viewed service outcomes"
    OUTCOMES_EXPORTED = "referral_outcomes.exported", "Exported service outcomes"


# --- The service catalogue --------------------------------------------------------------------


class ServiceKind(models.TextChoices):
    RAPID_RESPONSE = "rapid_response", "Rapid response"
    CART = "cart", "Community assessment and rehabilitation team (CART)"
    EARLY_DISCHARGE = "early_discharge", "Early discharge / hospital at home"
    BEDS = "step_up_down_beds", "Step-up and step-down beds"
    CARE_MANAGEMENT = "care_management", "Care management"
    DISTRICT_NURSING = "district_nursing", "District nursing"
    EQUIPMENT = "equipment", "Equipment and adaptations"
    REABLEMENT = "reablement", "Reablement"


# Short-term (intermediate care) services: an episode may end with a handover to a mainstream
# service.
SHORT_TERM_KINDS = frozenset(
    {
        ServiceKind.RAPID_RESPONSE,
        ServiceKind.CART,
        ServiceKind.EARLY_DISCHARGE,
        ServiceKind.BEDS,
        ServiceKind.REABLEMENT,
    }
)


class Setting(models.TextChoices):
    """Where the person is when referred."""

    HOME = "home", "At home"
    EMERGENCY_DEPARTMENT = "emergency_department", "A&E"
    HOSPITAL_WARD = "hospital_ward", "Hospital ward"
    CARE_HOME = "care_home", "Care home"


class Service(models.Model):
    """A service people can be referred to, run by one team of one agency. Eligibility,
    response target and episode length are data, edited by the agency's administrator."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="referral_services")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=30, choices=ServiceKind.choices)
    description = models.TextField(max_length=2000, blank=True)
    # Eligibility
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    settings = ArrayField(
        models.CharField(max_length=30, choices=Setting.choices),
        default=list,
        blank=True,
        help_text="Where the person may be when referred; empty: anywhere.",
    )
    medically_stable_required = models.BooleanField(default=False)
    gp_practices = models.ManyToManyField(
        Agency,
        blank=True,
        related_name="+",
        limit_choices_to={"kind": AgencyKind.GP_PRACTICE},
        help_text="People registered with these practices; with the districts, empty: anyone.",
    )
    postcode_districts = ArrayField(
        models.CharField(max_length=4),
        default=list,
        blank=True,
        help_text="Outward codes such as HX1; with the practices, empty: anyone.",
    )
    # Response target: hours (round the clock) or working days (England's bank holidays).
    response_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    response_working_days = models.PositiveSmallIntegerField(null=True, blank=True)
    max_episode_days = models.PositiveSmallIntegerField(null=True, blank=True)
    bed_capacity = models.PositiveSmallIntegerField(null=True, blank=True)
    admission_criteria = models.TextField(max_length=4000, blank=True)
    discharge_criteria = models.TextField(max_length=4000, blank=True)
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(response_hours__isnull=False) & Q(response_working_days__isnull=True))
                | (Q(response_hours__isnull=True) & Q(response_working_days__isnull=False)),
                name="service_one_response_target",
            ),
            models.CheckConstraint(
                condition=Q(response_hours__gt=0) | Q(response_working_days__gt=0),
                name="service_response_target_positive",
            ),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True)
                | Q(max_age__isnull=True)
                | Q(min_age__lte=models.F("max_age")),
                name="service_age_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(bed_capacity__isnull=True) | Q(kind=ServiceKind.BEDS),
                name="service_beds_only_for_bed_services",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def agency(self) -> Agency:
        return self.team.agency

    @property
    def response_target_display(self) -> str:
        if self.response_hours is not None:
            return f"{self.response_hours} hour{'s' if self.response_hours != 1 else ''}"
        days = self.response_working_days or 0
        return f"{days} working day{'s' if days != 1 else ''}"

    @property
    def is_short_term(self) -> bool:
        return self.kind in SHORT_TERM_KINDS


# --- Referrals --------------------------------------------------------------------------------


class Source(models.TextChoices):
    GP = "gp", "GP"
    EMERGENCY_DEPARTMENT = "emergency_department", "A&E"
    WARD = "ward", "Hospital ward"
    DISTRICT_NURSE = "district_nurse", "District nurse"
    OTHER_AGENCY = "other_agency", "Another agency"
    SELF = "self", "Self-referral"
    FAMILY_CARER = "family_carer", "Family member or carer"


PUBLIC_SOURCES = frozenset({Source.SELF, Source.FAMILY_CARER})


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", "Emergency"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


class Need(models.TextChoices):
    FALL = "fall", "Fall or risk of falls"
    MOBILITY = "mobility", "Mobility"
    PERSONAL_CARE = "personal_care", "Personal care"
    MEDICATION = "medication", "Medication"
    WOUND_CARE = "wound_care", "Wound or pressure care"
    CONTINENCE = "continence", "Continence"
    MEMORY = "memory", "Memory or confusion"
    CARER_BREAKDOWN = "carer_breakdown", "Carer unable to continue"
    EQUIPMENT = "equipment", "Equipment or adaptations"
    HOUSING = "housing", "Housing"
    NUTRITION = "nutrition", "Eating and drinking"
    REHABILITATION = "rehabilitation", "Rehabilitation"
    END_OF_LIFE = "end_of_life", "End of life care"
    INFECTION = "infection", "Infection or acute illness"


class Status(models.TextChoices):
    RECEIVED = "received", "Received"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REDIRECTED = "redirected", "Redirected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EPISODE_ACTIVE = "episode_active", "Episode active"
    EPISODE_ENDED = "episode_ended", "Episode ended"


# The triage state machine: from each state, the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.RECEIVED: frozenset(
        {Status.ACCEPTED, Status.DECLINED, Status.REDIRECTED, Status.WITHDRAWN}
    ),
    Status.ACCEPTED: frozenset({Status.EPISODE_ACTIVE}),
    Status.EPISODE_ACTIVE: frozenset({Status.EPISODE_ENDED}),
    Status.DECLINED: frozenset(),
    Status.REDIRECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.EPISODE_ENDED: frozenset(),
}
OPEN_STATUSES = frozenset({Status.RECEIVED, Status.ACCEPTED, Status.EPISODE_ACTIVE})


class Outcome(models.TextChoices):
    HOME_INDEPENDENT = "home_independent", "Home, independent"
    HOME_WITH_PACKAGE = "home_with_package", "Home with a care package"
    RESIDENTIAL_OR_NURSING = "residential_or_nursing", "Residential or nursing care"
    ADMITTED_TO_HOSPITAL = "admitted_to_hospital", "Admitted to hospital"
    DIED = "died", "Died"
    OTHER = "other", "Other"


class DeclineReason(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", "Does not meet the service's criteria"
    NO_CAPACITY = "no_capacity", "No capacity in the service"
    NEEDS_MET_ELSEWHERE = "needs_met_elsewhere", "Needs are being met elsewhere"
    PERSON_DECLINED = "person_declined", "The person does not want the service"
    INSUFFICIENT_INFORMATION = "insufficient_information", "Not enough information to act"
    OTHER = "other", "Other"


class ReferralQuerySet(models.QuerySet["Referral"]):
    def visible_to(self, agency: Agency, user: Any = None) -> ReferralQuerySet:
        """Referrals in case files the agency may see for "referrals": the receiving file, or
        the referrer's own file (so the referrer sees what it sent and its outcome). An
        unverified public referral has no file yet: only the receiving agency sees it."""
        return self.filter(
            case_file_visibility(agency, DataClass.REFERRALS, user, path="case_file")
            | case_file_visibility(agency, DataClass.REFERRALS, user, path="referrer_case_file")
            | Q(case_file__isnull=True, agency=agency)
        )

    def open(self) -> ReferralQuerySet:
        return self.filter(status__in=OPEN_STATUSES)


class Referral(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=12, unique=True, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="referrals")
    case_file = models.ForeignKey(
        CaseFile, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    # Where it came from
    source = models.CharField(max_length=30, choices=Source.choices)
    referring_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    referrer_case_file = models.ForeignKey(
        CaseFile, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    referrer_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    referrer_name = models.CharField(max_length=200, blank=True)
    referrer_phone = models.CharField(max_length=40, blank=True)
    referrer_email = models.EmailField(blank=True)
    referrer_relationship = models.CharField(max_length=100, blank=True)
    # What for
    reason = models.TextField(max_length=4000)
    needs = ArrayField(
        models.CharField(max_length=30, choices=Need.choices), default=list, blank=True
    )
    urgency = models.CharField(max_length=20, choices=Urgency.choices)
    setting = models.CharField(max_length=30, choices=Setting.choices, default=Setting.HOME)
    medically_stable = models.BooleanField(default=True)
    # The routing facts as they stood at referral (no one's name): what a dry run re-routes.
    age_at_referral = models.PositiveSmallIntegerField(null=True, blank=True)
    postcode_district = models.CharField(max_length=4, blank=True)
    requested_service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # How it was routed
    routed_by_rule = models.ForeignKey(
        "RoutingRule", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    routing_explanation = models.TextField(blank=True)
    # A public self/family referral, before it is matched to a person
    unverified = models.BooleanField(default=False)
    submitted_person = models.JSONField(default=dict, blank=True)
    # The triage state machine
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    status_reason = models.TextField(max_length=2000, blank=True)
    decline_reason = models.CharField(max_length=30, choices=DeclineReason.choices, blank=True)
    redirected_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="redirected_from"
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The response clock
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The episode
    lead_professional = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    episode_started_on = models.DateField(null=True, blank=True)
    episode_ends_by = models.DateField(null=True, blank=True)
    episode_ended_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)
    # Handover from a short-term service: the signed assessment the receiver may adopt.
    handed_over_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="handed_over_to"
    )
    assessment_id = models.UUIDField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["service", "status", "due_at"], name="referral_queue"),
            models.Index(
                fields=["due_at"],
                condition=Q(status="received", breached_at__isnull=True),
                name="referral_breach_watch",
            ),
            models.Index(fields=["received_at"], name="referral_received"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(case_file__isnull=False) | Q(unverified=True),
                name="referral_has_file_unless_unverified",
            ),
            models.CheckConstraint(
                condition=Q(unverified=False) | Q(status__in=["received", "declined", "withdrawn"]),
                name="referral_unverified_not_accepted",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="referral_decline_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="redirected") | Q(redirected_to__isnull=False),
                name="referral_redirect_names_service",
            ),
            models.CheckConstraint(
                condition=~Q(status="episode_ended") | ~Q(outcome=""),
                name="referral_episode_has_outcome",
            ),
            models.CheckConstraint(
                condition=Q(due_at__gt=models.F("received_at")),
                name="referral_due_after_received",
            ),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True) | Q(claimed_at__isnull=False),
                name="referral_claim_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.reference} to {self.service}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def allowed_transitions(self) -> frozenset[str]:
        return TRANSITIONS[self.status]


class Transition(models.Model):
    """Append-only history of a referral's state: who moved it, when, why."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.TextField(max_length=2000, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class Notification(models.Model):
    """An in-app notice to one user (a breach escalated to a team manager)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referral_notifications"
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A breach is escalated once, whoever sweeps: at most one notice per referral.
            models.UniqueConstraint(
                fields=["referral", "user"], name="notification_once_per_referral"
            ),
        ]

    def __str__(self) -> str:
        return self.text


# --- Routing rules ----------------------------------------------------------------------------


class RuleSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class RuleSet(models.Model):
    """A numbered version of the area's routing rules. One is published at a time; a
    published set is never edited (a change is a new draft, published in its turn)."""

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(
        max_length=10, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT
    )
    fallback_service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="published"),
                name="ruleset_one_published",
            ),
        ]

    def __str__(self) -> str:
        return f"Routing rules v{self.version} ({self.get_status_display()})"


class RoutingRule(models.Model):
    """One rule: every condition given must hold (an empty one holds for anyone); the rules
    are tried in ``position`` order and the first that matches routes the referral."""

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    sources = ArrayField(
        models.CharField(max_length=30, choices=Source.choices), default=list, blank=True
    )
    urgencies = ArrayField(
        models.CharField(max_length=20, choices=Urgency.choices), default=list, blank=True
    )
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)
    settings = ArrayField(
        models.CharField(max_length=30, choices=Setting.choices), default=list, blank=True
    )
    postcode_districts = ArrayField(models.CharField(max_length=4), default=list, blank=True)
    needs_any = ArrayField(
        models.CharField(max_length=30, choices=Need.choices), default=list, blank=True
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["ruleset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "position"], name="rule_position_unique"),
        ]

    def __str__(self) -> str:
        return f"rule {self.position}: {self.name}"


# --- Hospital discharge (discharge to assess) -------------------------------------------------


class Pathway(models.IntegerChoices):
    HOME_NO_NEW_SUPPORT = 0, "Pathway 0: home with no new support"
    HOME_WITH_SUPPORT = 1, "Pathway 1: home with support"
    BED_BASED = 2, "Pathway 2: rehabilitation or short-term care in a bed"
    CARE_HOME = 3, "Pathway 3: long-term care home placement"


class DelayReason(models.Model):
    """A reason a person is still in hospital after their discharge ready date: a vocabulary
    kept as data, seeded with NHS England's acute discharge situation report reasons."""

    code = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=300)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    social_care_delay = models.BooleanField(
        default=False,
        help_text="A delay for the council to resolve: under an area's 2003 Act agreement, "
        "days delayed for this reason are charged.",
    )

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.label


class HospitalStay(models.Model):
    """A hospital admission, held on the hospital's case file, tracked to discharge."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_file = models.ForeignKey(CaseFile, on_delete=models.PROTECT, related_name="hospital_stays")
    ward = models.CharField(max_length=100)
    admitted_on = models.DateField()
    discharge_ready_on = models.DateField(null=True, blank=True)
    pathway = models.PositiveSmallIntegerField(choices=Pathway.choices, null=True, blank=True)
    delay_reason = models.ForeignKey(
        DelayReason, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    council_agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    discharged_on = models.DateField(null=True, blank=True)
    early_discharge_reason = models.CharField(max_length=300, blank=True)
    # The 2003 Act regime, where an area's agreement switches it on
    assessment_notice_on = models.DateField(null=True, blank=True)
    discharge_notice_on = models.DateField(null=True, blank=True)
    proposed_discharge_on = models.DateField(null=True, blank=True)
    charged_through = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["discharge_ready_on"]
        indexes = [
            models.Index(
                fields=["discharge_ready_on"],
                condition=Q(discharged_on__isnull=True),
                name="stay_still_in_hospital",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pathway__isnull=True) | Q(pathway__gte=0, pathway__lte=3),
                name="stay_pathway_0_to_3",
            ),
            models.CheckConstraint(
                condition=Q(discharge_ready_on__isnull=True)
                | Q(discharge_ready_on__gte=models.F("admitted_on")),
                name="stay_ready_after_admission",
            ),
            models.CheckConstraint(
                condition=Q(discharged_on__isnull=True)
                | Q(discharged_on__gte=models.F("admitted_on")),
                name="stay_discharged_after_admission",
            ),
            models.CheckConstraint(
                condition=Q(discharged_on__isnull=True)
                | Q(
                    discharge_ready_on__isnull=False,
                    discharged_on__gte=models.F("discharge_ready_on"),
                )
                | ~Q(early_discharge_reason=""),
                name="stay_early_discharge_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Stay on {self.ward} from {self.admitted_on}"


class ReadyDateReview(models.Model):
    """Each board round's review of the discharge ready date: the history is kept."""

    stay = models.ForeignKey(HospitalStay, on_delete=models.CASCADE, related_name="reviews")
    discharge_ready_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Ready date {self.discharge_ready_on} ({self.note})"


class DischargeAgreement(models.Model):
    """An area's local agreement to run the repealed Community Care (Delayed Discharges) Act
    2003 regime between one hospital trust and one council: notices and a per-day charge."""

    hospital_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    council_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    enabled = models.BooleanField(default=True)
    # £100 a day, or £120 in London and the South East (the 2003 Act regulations' rates).
    rate_pence = models.PositiveIntegerField(default=10_000)
    london_or_south_east = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hospital_agency", "council_agency"], name="agreement_one_per_pair"
            ),
            models.CheckConstraint(condition=Q(rate_pence__gt=0), name="agreement_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"2003 Act agreement: {self.hospital_agency} and {self.council_agency}"
