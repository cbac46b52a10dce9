"""People, the carers who look after them, and each agency's case file on a person."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from caretrust.directory.models import Agency, AgencyKind, Team
from caretrust.people.validators import (
    format_nhs_number,
    validate_date_of_birth,
    validate_nhs_number,
    validate_not_in_future,
    validate_postcode,
)


class CaseFileQuerySet(models.QuerySet["CaseFile"]):
    def visible_to(self, agency: Agency) -> CaseFileQuerySet:
        """The one visibility rule for case files. Until sharing arrives, an agency sees
        exactly its own files."""
        return self.filter(agency=agency)

    def open(self) -> CaseFileQuerySet:
        return self.filter(closed_on__isnull=True)


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(self, agency: Agency) -> PersonQuerySet:
        """People on whom the agency may see at least one case file."""
        files = CaseFile.objects.visible_to(agency).filter(person_id=OuterRef("pk"))
        return self.filter(Exists(files))


class Person(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nhs_number = models.CharField(
        "NHS number",
        max_length=10,
        unique=True,
        validators=[validate_nhs_number],
        error_messages={"unique": "This NHS number is already registered."},
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    address_line_1 = models.CharField("Address line 1", max_length=200)
    address_line_2 = models.CharField("Address line 2", max_length=200, blank=True)
    town = models.CharField("Town or city", max_length=100)
    postcode = models.CharField(max_length=8, validators=[validate_postcode])
    gp_practice = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registered_persons",
        limit_choices_to={"kind": AgencyKind.GP_PRACTICE},
        verbose_name="registered GP practice",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "date_of_birth"]
        indexes = [
            models.Index(
                models.functions.Upper("family_name"), "date_of_birth", name="person_name_dob"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(nhs_number__regex=r"^[0-9]{10}$"), name="person_nhs_number_ten_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.nhs_number_display})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def nhs_number_display(self) -> str:
        return format_nhs_number(self.nhs_number)


class CarerRelationship(models.TextChoices):
    SPOUSE_OR_PARTNER = "spouse_partner", "Spouse or partner"
    SON = "son", "Son"
    DAUGHTER = "daughter", "Daughter"
    OTHER_FAMILY = "other_family", "Other family member"
    FRIEND = "friend", "Friend"
    NEIGHBOUR = "neighbour", "Neighbour"


# Carer's Allowance needs at least 35 hours of care a week.
CARERS_ALLOWANCE_HOURS = 35


class CarerLink(models.Model):
    """An informal carer (family, friend) looking after a person. The carer is a person in
    their own right, with needs of their own."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="carer_links")
    carer = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="caring_for")
    relationship = models.CharField(max_length=20, choices=CarerRelationship.choices)
    hours_per_week = models.PositiveSmallIntegerField(
        help_text="Hours of care given in a typical week (0-168)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "carer"], name="carer_link_unique"),
            models.CheckConstraint(
                condition=~Q(person=models.F("carer")), name="carer_is_someone_else"
            ),
            models.CheckConstraint(
                condition=Q(hours_per_week__lte=168), name="carer_hours_within_a_week"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carer.full_name} cares for {self.person.full_name}"

    @property
    def may_be_entitled_to_carers_allowance(self) -> bool:
        return self.hours_per_week >= CARERS_ALLOWANCE_HOURS


class CaseFile(models.Model):
    """One agency's file on one person: opened when the agency first works with them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="case_files")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="case_files")
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="case_files"
    )
    lead_worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_case_files"
    )
    opened_on = models.DateField(validators=[validate_not_in_future])
    closed_on = models.DateField(null=True, blank=True, validators=[validate_not_in_future])
    closure_reason = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CaseFileQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on"]
        constraints = [
            models.UniqueConstraint(fields=["person", "agency"], name="case_file_one_per_agency"),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=models.F("opened_on")),
                name="case_file_closes_after_opening",
            ),
        ]
        indexes = [
            models.Index(
                fields=["agency", "lead_worker"],
                condition=Q(closed_on__isnull=True),
                name="case_file_open_caseload",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} file on {self.person.full_name}"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None
