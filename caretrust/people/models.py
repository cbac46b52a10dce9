"""People, the carers who look after them, and each agency's case file on a person."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from caretrust.directory.models import Agency, AgencyKind, Team
from caretrust.fixed_select import FixedSelect, Join
from caretrust.people.validators import (
    format_nhs_number,
    validate_date_of_birth,
    validate_nhs_number,
    validate_nhs_number_for_birth_date,
    validate_not_in_future,
    validate_postcode,
)

if TYPE_CHECKING:
    from caretrust.audit.services import Pending


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


def _grants(agency: Agency, data_class: str | None, user: Any) -> list[models.QuerySet[Any]]:
    """The permission rows that let ``agency`` (and, for break-glass, ``user`` acting for it)
    see a case file for ``data_class`` (None: for any data class), as of the database's clock.
    Rows past ``valid_until`` count for nothing whether or not a sweeper has removed them."""
    codenames = [view_codename(dc) for dc in ([data_class] if data_class else DataClass.values)]
    current = Q(valid_until__isnull=True) | Q(valid_until__gt=Now())
    grants: list[models.QuerySet[Any]] = [
        CaseFileGroupObjectPermission.objects.filter(
            current, group_id=agency.group_id, permission__codename__in=codenames
        )
    ]
    if user is not None and getattr(user, "is_authenticated", False):
        grants.append(
            CaseFileUserObjectPermission.objects.filter(
                current, user_id=user.pk, agency=agency, permission__codename__in=codenames
            )
        )
    return grants


def visible_case_file_ids(agency: Agency, data_class: str | None, user: Any = None) -> Any:
    """The one visibility rule as a set of ids: the agency's own files and the files its
    grants name, each part from its own index. UNION ALL: the set is only ever the right side
    of an IN, which ignores repeats, so removing them first (a file granted for several data
    classes, or by group and break-glass) is work for nothing; measured, it halved a count."""
    own = CaseFile.objects.filter(agency=agency).order_by().values("pk")
    grants = (g.values("content_object_id") for g in _grants(agency, data_class, user))
    return own.union(*grants, all=True)


def case_file_visibility(
    agency: Agency, data_class: str | None, user: Any = None, *, path: str = ""
) -> Q:
    """The same rule row by row, for annotating or filtering rows that belong to a case file
    (``path="case_file"`` for notes): own file, or an EXISTS on a grant for it.

    An agency sees its own files; another agency's file only through a permission row
    projected from an effective sharing basis: a group row for the agency's group, or a
    break-glass row for this user acting for this agency. Model-level permissions and
    superuser flags play no part.
    """
    prefix = f"{path}__" if path else ""
    file_ref = OuterRef(path or "pk")
    rule = Q(**{f"{prefix}agency": agency})
    for grant in _grants(agency, data_class, user):
        rule |= Q(Exists(grant.filter(content_object=file_ref)))
    return rule


# The same rule for one person, as one fixed statement: a detail read (every API GET of a
# person) spends no time building and compiling the ORM tree of the rule, which costs ten
# times the query itself. It states exactly what ``case_file_visibility`` states; the tests
# hold the two to the same answers (the state machine in tests/sharing/test_property.py).
_GRANT_SQL = """EXISTS (SELECT 1 FROM {table} g JOIN auth_permission p ON p.id = g.permission_id
        WHERE g.content_object_id = f.id AND {holder} AND p.codename = %s
        AND (g.valid_until IS NULL OR g.valid_until > STATEMENT_TIMESTAMP()))"""
_PERSON_POINT_SQL = """SELECT f.person_id FROM people_casefile f
    WHERE f.person_id = %s AND (f.agency_id = %s OR {group}{user})"""


def _person_point_sql(with_user: bool) -> str:
    group = _GRANT_SQL.format(
        table="people_casefilegroupobjectpermission", holder="g.group_id = %s"
    )
    user = _GRANT_SQL.format(
        table="people_casefileuserobjectpermission", holder="g.user_id = %s AND g.agency_id = %s"
    )
    return _PERSON_POINT_SQL.format(group=group, user=f" OR {user}" if with_user else "")


_PERSON_POINT = {with_user: _person_point_sql(with_user) for with_user in (False, True)}


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
        (None: for at least one data class).

        One rule, two SQL shapes with the same answer: row by row (an EXISTS per file, fast
        for one file or a narrow filter) by default, or with ``listing=True`` as a set of ids
        (own UNION granted, fast for listing or counting an agency's whole caseload, where
        the row-by-row form would test every file).
        """
        if listing:
            return self.filter(pk__in=visible_case_file_ids(agency, data_class, user))
        return self.filter(case_file_visibility(agency, data_class, user))

    def open(self) -> CaseFileQuerySet:
        return self.filter(closed_on__isnull=True)


def mark_visible_classes(
    files: Iterable[CaseFile], agency: Agency, user: Any = None
) -> list[CaseFile]:
    """Set ``can_<data class>`` on each of ``files`` (fetched through the rule already): every
    class of the agency's own files; of another agency's file, the classes its current grants
    name (the rule of ``case_file_visibility``, per class). One query for the lot, whatever
    their number, instead of an EXISTS per class per row that costs more to build than to run.
    """
    files = list(files)
    others = [f.pk for f in files if f.agency_id != agency.pk]
    granted: dict[Any, set[str]] = defaultdict(set)
    if others:
        arms = [
            g.filter(content_object_id__in=others)
            .order_by()
            .values_list("content_object_id", "permission__codename")
            for g in _grants(agency, None, user)
        ]
        for pk, codename in arms[0].union(*arms[1:], all=True):
            granted[pk].add(codename.removeprefix("view_"))
    for f in files:
        own = f.agency_id == agency.pk
        for dc in DataClass.values:
            setattr(f, f"can_{dc}", own or dc in granted[f.pk])
    return files


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(
        self, agency: Agency, user: Any = None, *, listing: bool = False
    ) -> PersonQuerySet:
        """People whose demographics the agency may see in at least one case file (the case
        file rule; ``listing`` as there)."""
        if listing:
            files = CaseFile.objects.visible_to(agency, DataClass.DEMOGRAPHICS, user, listing=True)
            return self.filter(pk__in=files.values("person_id"))
        files = CaseFile.objects.filter(person_id=OuterRef("pk")).filter(
            case_file_visibility(agency, DataClass.DEMOGRAPHICS, user)
        )
        return self.filter(Exists(files))


_PersonManagerBase = models.Manager.from_queryset(PersonQuerySet)


class PersonManager(_PersonManagerBase):
    """``Person.objects``: the queryset's methods, and the point check, which is on the manager
    only because it reads the table afresh: on a filtered queryset it would ignore the filter."""

    def visible_by_pk(
        self, agency: Agency, pk: uuid.UUID, user: Any = None, *, audited: Pending | None = None
    ) -> Person | None:
        """The person ``pk`` with their GP practice, if the agency (or, for break-glass, this
        user acting for it) may see their demographics in at least one case file, else None:
        ``visible_to`` for one person, as one fixed statement (``_PERSON_POINT``). With
        ``audited``, the statement writes that audit row too, if the person is visible."""
        select, params = person_point_check(agency, pk, user)
        return next(iter(select.fetch(params, audited=audited)), None)


def person_point_check(
    agency: Agency, pk: uuid.UUID, user: Any = None
) -> tuple[FixedSelect, list[Any]]:
    """The statement behind ``visible_by_pk`` and its parameters (``.sql`` is its text)."""
    codename = view_codename(DataClass.DEMOGRAPHICS)
    params: list[Any] = [pk, pk, agency.pk, agency.group_id, codename]
    with_user = user is not None and getattr(user, "is_authenticated", False)
    if with_user:
        params += [user.pk, agency.pk, codename]
    return _person_point_select(with_user), params


@functools.cache
def _person_point_select(with_user: bool) -> FixedSelect:
    return FixedSelect(
        Person,
        "pe",
        [Join("gp", via="pe", name="gp_practice")],
        where=f"pe.id = %s AND pe.id IN ({_PERSON_POINT[with_user]})",
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

    objects = PersonManager()

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
    bases, written only by ``caretrust.sharing.services.apply_projection``."""

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
        shared = Q(pk__in=[])
        for dc in DataClass.values:
            shared |= Q(data_class=dc) & case_file_visibility(agency, dc, user, path="case_file")
        return self.filter(Q(case_file__agency=agency) | (Q(restricted=False) & shared))


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
