"""Sharing bases: the lawful reasons one agency's case file on a person may be seen by another.

Shaped after the FHIR R4 Consent resource: a person (patient), the holding agency (whose file
is shared; FHIR's custodian/data), the recipient (actor), data classes (provision.class), a
purpose, a period, a provision that permits or denies (a deny always wins), and a status with
an append-only history. Permission rows on case files are a projection of these, kept by
``caretrust.sharing.services``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from caretrust.directory.models import Agency, Role
from caretrust.people.models import DataClass, Person

BREAK_GLASS_DURATION = timedelta(hours=4)


class BasisKind(models.TextChoices):
    CONSENT = "consent", "Consent"
    BEST_INTERESTS = "best_interests", "Best interests decision"
    LEGAL_DUTY = "legal_duty", "Legal duty"
    BREAK_GLASS = "break_glass", "Break-glass (emergency access)"


class Provision(models.TextChoices):
    PERMIT = "permit", "Permit"
    DENY = "deny", "Deny (refusal)"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class Purpose(models.TextChoices):
    DIRECT_CARE = "direct_care", "Direct care and support"
    SAFEGUARDING = "safeguarding", "Safeguarding"
    DISCHARGE = "discharge", "Hospital discharge planning"
    ASSESSMENT = "assessment", "Single assessment"
    EMERGENCY = "emergency", "Emergency care"


class Evidence(models.TextChoices):
    VERBAL = "verbal", "Verbal"
    WRITTEN = "written", "Written"
    ELECTRONIC = "electronic", "Electronic"


class Grantor(models.TextChoices):
    PERSON = "person", "The person"
    ATTORNEY = "attorney", "Attorney (health and welfare lasting power of attorney)"
    DEPUTY = "deputy", "Court-appointed deputy"


class SharingBasis(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="sharing_bases")
    holding_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    recipient_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    data_classes = ArrayField(models.CharField(max_length=20, choices=DataClass.choices))
    kind = models.CharField(max_length=20, choices=BasisKind.choices)
    provision = models.CharField(max_length=10, choices=Provision.choices, default=Provision.PERMIT)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)
    review_on = models.DateField(null=True, blank=True)
    # Consent
    grantor = models.CharField(max_length=20, choices=Grantor.choices, blank=True)
    grantor_name = models.CharField(max_length=200, blank=True)
    evidence = models.CharField(max_length=20, choices=Evidence.choices, blank=True)
    # Best interests (Mental Capacity Act 2005)
    capacity_assessed_by = models.CharField(max_length=200, blank=True)
    capacity_assessed_on = models.DateField(null=True, blank=True)
    # Legal duty (e.g. Care Act 2014 s.42 safeguarding enquiry)
    statutory_reason = models.CharField(max_length=300, blank=True)
    # Break-glass
    break_glass_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(max_length=2000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-period_start"]
        verbose_name_plural = "sharing bases"
        indexes = [
            models.Index(
                fields=["person", "holding_agency", "recipient_agency"], name="basis_pair"
            ),
            models.Index(fields=["status", "period_end"], name="basis_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(holding_agency=models.F("recipient_agency")),
                name="basis_between_two_agencies",
            ),
            models.CheckConstraint(
                condition=Q(period_end__isnull=True) | Q(period_end__gt=models.F("period_start")),
                name="basis_period_ends_after_start",
            ),
            models.CheckConstraint(condition=~Q(data_classes=[]), name="basis_names_data"),
            models.CheckConstraint(
                condition=~Q(kind=BasisKind.CONSENT) | (~Q(grantor="") & ~Q(evidence="")),
                name="consent_has_grantor_and_evidence",
            ),
            models.CheckConstraint(
                condition=~Q(kind=BasisKind.BEST_INTERESTS)
                | (
                    Q(review_on__isnull=False)
                    & ~Q(capacity_assessed_by="")
                    & Q(capacity_assessed_on__isnull=False)
                ),
                name="best_interests_has_capacity_and_review",
            ),
            models.CheckConstraint(
                condition=~Q(kind=BasisKind.LEGAL_DUTY) | ~Q(statutory_reason=""),
                name="legal_duty_has_statute",
            ),
            models.CheckConstraint(
                condition=~Q(kind=BasisKind.BREAK_GLASS)
                | (
                    Q(break_glass_user__isnull=False)
                    & ~Q(reason="")
                    & Q(period_end__isnull=False)
                    & Q(provision=Provision.PERMIT)
                ),
                name="break_glass_is_named_reasoned_and_short",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} ({self.get_provision_display().lower()}): "
            f"{self.holding_agency} to {self.recipient_agency}"
        )

    @property
    def is_refusal(self) -> bool:
        return self.provision == Provision.DENY

    @property
    def grantor_or_none(self) -> str | None:
        return self.grantor or None

    @property
    def evidence_or_none(self) -> str | None:
        return self.evidence or None

    @property
    def ends_at(self) -> dt.datetime | None:
        """When the basis stops counting: its period's end or, for a best-interests decision,
        the end of its review date, whichever is first (None: until withdrawn)."""
        ends = [self.period_end] if self.period_end else []
        if self.kind == BasisKind.BEST_INTERESTS and self.review_on:
            ends.append(lapse_at(self.review_on))
        return min(ends) if ends else None

    def status_at(self, now: dt.datetime | None = None) -> str:
        """The status the visibility rule applies at ``now``: an active basis whose period or
        review date has passed is expired, whether or not the sweeper
        (``sweeps.expire_lapsed_bases``) has recorded that yet."""
        ends = self.ends_at
        if self.status == Status.ACTIVE and ends is not None and ends <= (now or timezone.now()):
            return Status.EXPIRED
        return self.status

    @property
    def status_now(self) -> str:
        return self.status_at()

    @property
    def status_now_display(self) -> str:
        """What a screen shows: "Lapsed: review was due 3 Nov 2026" for a best-interests
        decision past its review date, "Expired" for a period that has ended."""
        status = self.status_now
        if status == Status.EXPIRED and self.status == Status.ACTIVE:
            ends = self.ends_at
            if (
                self.kind == BasisKind.BEST_INTERESTS
                and self.review_on
                and ends == lapse_at(self.review_on)
            ):
                return f"Lapsed: review was due {self.review_on:%-d %b %Y}"
        return str(Status(status).label)


def lapse_at(review_on: dt.date) -> dt.datetime:
    """A best-interests decision lapses at the end of its review date, in Europe/London
    (Mental Capacity Act 2005: a decision is for a time and must be revisited)."""
    next_day = review_on + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(next_day, dt.time.min))


class StatusChange(models.Model):
    """Append-only history of a basis's status: who changed it, when and why."""

    basis = models.ForeignKey(SharingBasis, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class ReviewOutcome(models.TextChoices):
    APPROPRIATE = "appropriate", "Appropriate"
    INAPPROPRIATE = "inappropriate", "Not appropriate: referred for investigation"


class BreakGlassReview(models.Model):
    """An entry on the holding agency's Caldicott guardian's review queue."""

    basis = models.OneToOneField(SharingBasis, on_delete=models.PROTECT, related_name="review")
    guardian_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    alerted_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=ReviewOutcome.choices, blank=True)
    notes = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["alerted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True, outcome="")
                | (Q(reviewed_at__isnull=False) & ~Q(outcome="")),
                name="review_complete_or_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.basis}"


class NeedToKnow(models.Model):
    """Inside an agency, which data classes a role's work needs: one row per (agency, role,
    data class), and with ``restricted_items`` the role also reads the agency's restricted
    items (notes marked restricted) of that class. A user sees a class of a file only when
    their agency may see it (its own file, or a grant) AND one of their current roles at that
    agency has a row for it; several roles give the union. No row, no sight: the visibility
    rule (``caretrust.sharing.visibility``) reads this table in the same query.

    Every agency is seeded with ``caretrust.sharing.need_to_know.DEFAULT_NEED_TO_KNOW`` when
    it is created (and by migration for those that already were); an administrator changes
    an agency's rows in the admin, and the next request counts the change."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="need_to_know")
    role = models.CharField(max_length=30, choices=Role.choices)
    data_class = models.CharField(max_length=20, choices=DataClass.choices)
    restricted_items = models.BooleanField(
        default=False,
        help_text="Also reads this agency's restricted items (restricted notes) of this class.",
    )

    class Meta:
        ordering = ["agency__name", "role", "data_class"]
        verbose_name = "need to know"
        verbose_name_plural = "need to know"
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "role", "data_class"], name="need_to_know_unique"
            ),
        ]

    def __str__(self) -> str:
        restricted = ", restricted items too" if self.restricted_items else ""
        return (
            f"{self.get_role_display()} at {self.agency}: "
            f"{self.get_data_class_display()}{restricted}"
        )
