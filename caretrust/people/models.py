"""People, the carers who look after them, and each agency's case file on a person.

Who may see a case file is decided in one place, ``caretrust.sharing.visibility``, which
depends on these models. The ``visible_to`` methods here (and ``case_file_visibility``) stay
the names everyone calls; they import the rule's module when called, so neither module imports
the other at import time.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from caretrust.directory.models import Agency, AgencyKind, Team
from caretrust.people.validators import (
    format_nhs_number,
    validate_date_of_birth,
    validate_nhs_number,
    validate_nhs_number_for_birth_date,
    validate_not_in_future,
    validate_postcode,
)


class DataClass(models.TextChoices):
    """What a sharing basis covers: each is a separate object permission on a case file."""

    DEMOGRAPHICS = "demographics", "Demographics"
    ASSESSMENTS = "assessments", "Assessments"
    CARE_PLANS = "care_plans", "Care plans"
    REFERRALS = "referrals", "Referrals"
    CLINICAL_NOTES = "clinical_notes", "Clinical notes"
    FINANCE = "finance", "Finance and charging"


def view_codename(data_class: str) -> str:
    return f"view_{DataClass(data_class).value}"


def case_file_visibility(
    agency: Agency, data_class: str | None, user: Any = None, *, path: str = ""
) -> Q:
    """The visibility rule row by row, as a ``Q`` on case files (or, with ``path``, on rows
    that belong to one: ``path="case_file"``). The rule's home is
    ``caretrust.sharing.visibility``; see there."""
    from caretrust.sharing import visibility

    return visibility.case_file_visibility(agency, data_class, user, path=path)


class CaseFileQuerySet(models.QuerySet["CaseFile"]):
    def visible_to(
        self,
        agency: Agency,
        data_class: str | None = DataClass.DEMOGRAPHICS,
        user: Any = None,
        *,
        listing: bool = False,
    ) -> CaseFileQuerySet:
        """Case files the agency (and, for break-glass, this user) may see for a data class
        (None: for at least one): row by row, or with ``listing=True`` as a set of ids, for a
        whole caseload (``caretrust.sharing.visibility``)."""
        from caretrust.sharing import visibility

        return visibility.case_files(self, agency, data_class, user, listing=listing)  # type: ignore[return-value]

    def open(self) -> CaseFileQuerySet:
        return self.filter(closed_on__isnull=True)


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(
        self, agency: Agency, user: Any = None, *, listing: bool = False
    ) -> PersonQuerySet:
        """People whose demographics the agency may see in at least one case file (the case
        file rule; ``listing`` as there)."""
        from caretrust.sharing import visibility

        return visibility.persons(self, agency, user, listing=listing)  # type: ignore[return-value]


# What a person's record holds, as registered and as shown: the registration form, the API's
# serializer and the services all use this one list.
PERSON_FIELDS = (
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "gp_practice",
)


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

    def clean(self) -> None:
        # A Scottish CHI number encodes its holder's date of birth: one rule for the browser,
        # the API and imports, all of which register through full_clean().
        if self.nhs_number and isinstance(self.date_of_birth, date):
            validate_nhs_number_for_birth_date(self.nhs_number, self.date_of_birth)

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
        # Object permissions only: no agency group is ever given these on the model.
        permissions = [
            (view_codename(dc), f"View {dc.label.lower()} in a case file") for dc in DataClass
        ]
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


class CaseFileGroupObjectPermission(GroupObjectPermissionBase):
    """django-guardian's direct-foreign-key table for case files: one row per (case file,
    recipient agency's group, data-class permission). A projection of the effective sharing
    bases, written only by ``caretrust.sharing.projection.apply_projection``."""

    content_object = models.ForeignKey(CaseFile, on_delete=models.CASCADE)
    valid_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the bases behind this row stop permitting it (empty: open-ended).",
    )

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False


class CaseFileUserObjectPermission(UserObjectPermissionBase):
    """Break-glass access: one named user, acting for one agency, until a fixed expiry."""

    content_object = models.ForeignKey(CaseFile, on_delete=models.CASCADE)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    valid_until = models.DateTimeField()

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False
        # Per agency too: someone working for two agencies may break the glass on the same
        # file for each, and each row counts only while they act for its agency.
        unique_together = [["user", "permission", "content_object", "agency"]]


class CaseNoteQuerySet(models.QuerySet["CaseNote"]):
    def visible_to(self, agency: Agency, user: Any = None) -> CaseNoteQuerySet:
        """Notes in the holding agency's own files, or unrestricted notes whose data class the
        agency may see in that file. Restricted notes never leave the holding agency."""
        from caretrust.sharing import visibility

        return visibility.notes(self, agency, user)  # type: ignore[return-value]


class CaseNote(models.Model):
    """A note in a case file, in one data class. A restricted note is for the holding agency
    only, whatever has been shared."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case_file = models.ForeignKey(CaseFile, on_delete=models.PROTECT, related_name="notes")
    data_class = models.CharField(
        max_length=20, choices=DataClass.choices, default=DataClass.CLINICAL_NOTES
    )
    text = models.TextField(max_length=10_000)
    restricted = models.BooleanField(
        default=False, help_text="Visible to the holding agency only, even when shared."
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(auto_now_add=True)

    objects = CaseNoteQuerySet.as_manager()

    class Meta:
        ordering = ["-written_at"]

    def __str__(self) -> str:
        return f"Note on {self.case_file_id} ({self.get_data_class_display()})"
