"""Agencies, their teams, and the staff who work for them.

Each agency owns exactly one Django ``Group``; a user is in that group exactly when they hold
at least one current membership of the agency (``services`` keeps the two in step). Object
permissions on case files are granted to these groups, never to individuals.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class Sector(models.TextChoices):
    HEALTH = "health", "Health"
    SOCIAL_CARE = "social_care", "Social care"


class AgencyKind(models.TextChoices):
    ACUTE_TRUST = "acute_trust", "Acute hospital trust"
    COMMUNITY_HEALTH = "community_health", "Community health services"
    GP_PRACTICE = "gp_practice", "GP practice"
    COUNCIL_ASC = "council_asc", "Council adult social care"
    CARE_TRUST = "care_trust", "Care trust"
    INDEPENDENT_PROVIDER = "independent_provider", "Independent provider"
    HOUSING = "housing", "Housing provider"


# A care trust is one NHS body that also holds delegated social-care duties, so its staff
# may hold roles of either sector. Independent providers run both home care and nursing homes.
KIND_SECTORS: dict[str, frozenset[str]] = {
    AgencyKind.ACUTE_TRUST: frozenset({Sector.HEALTH}),
    AgencyKind.COMMUNITY_HEALTH: frozenset({Sector.HEALTH}),
    AgencyKind.GP_PRACTICE: frozenset({Sector.HEALTH}),
    AgencyKind.COUNCIL_ASC: frozenset({Sector.SOCIAL_CARE}),
    AgencyKind.CARE_TRUST: frozenset({Sector.HEALTH, Sector.SOCIAL_CARE}),
    AgencyKind.INDEPENDENT_PROVIDER: frozenset({Sector.HEALTH, Sector.SOCIAL_CARE}),
    AgencyKind.HOUSING: frozenset({Sector.SOCIAL_CARE}),
}


class Role(models.TextChoices):
    CARE_MANAGER = "care_manager", "Care manager"
    SOCIAL_WORKER = "social_worker", "Social worker"
    CARE_WORKER = "care_worker", "Care worker"
    NURSE = "nurse", "Nurse"
    DISTRICT_NURSE = "district_nurse", "District nurse"
    OCCUPATIONAL_THERAPIST = "occupational_therapist", "Occupational therapist"
    PHYSIOTHERAPIST = "physiotherapist", "Physiotherapist"
    GP = "gp", "GP"
    FINANCE_OFFICER = "finance_officer", "Finance officer"
    POOL_MANAGER = "pool_manager", "Pool manager"
    AGENCY_ADMINISTRATOR = "agency_administrator", "Agency administrator"
    CALDICOTT_GUARDIAN = "caldicott_guardian", "Caldicott guardian"
    TEAM_MANAGER = "team_manager", "Team manager"
    TRANSFER_HUB_COORDINATOR = "transfer_hub_coordinator", "Care transfer hub coordinator"
    PARTNER_SYSTEM = "partner_system", "Partner system (API client)"


# The sectors a role belongs to; an empty set means the role exists in every agency.
# Occupational therapists work for councils and the NHS alike.
ROLE_SECTORS: dict[str, frozenset[str]] = {
    Role.CARE_MANAGER: frozenset({Sector.SOCIAL_CARE}),
    Role.SOCIAL_WORKER: frozenset({Sector.SOCIAL_CARE}),
    Role.CARE_WORKER: frozenset({Sector.SOCIAL_CARE}),
    Role.NURSE: frozenset({Sector.HEALTH}),
    Role.DISTRICT_NURSE: frozenset({Sector.HEALTH}),
    Role.PHYSIOTHERAPIST: frozenset({Sector.HEALTH}),
    Role.GP: frozenset({Sector.HEALTH}),
    Role.OCCUPATIONAL_THERAPIST: frozenset({Sector.HEALTH, Sector.SOCIAL_CARE}),
    Role.FINANCE_OFFICER: frozenset(),
    Role.POOL_MANAGER: frozenset(),
    Role.AGENCY_ADMINISTRATOR: frozenset(),
    Role.CALDICOTT_GUARDIAN: frozenset(),
    Role.TEAM_MANAGER: frozenset(),
    Role.TRANSFER_HUB_COORDINATOR: frozenset(),
    Role.PARTNER_SYSTEM: frozenset(),
}


class Agency(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=30, choices=AgencyKind.choices)
    ods_code = models.CharField(
        "ODS code",
        max_length=10,
        blank=True,
        help_text="Organisation Data Service code, for NHS bodies and GP practices.",
    )
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, related_name="agency", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name

    @property
    def sectors(self) -> frozenset[str]:
        return KIND_SECTORS[self.kind]

    def allows_role(self, role: str) -> bool:
        needed = ROLE_SECTORS[role]
        return not needed or bool(needed & self.sectors)


class Team(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60)

    class Meta:
        ordering = ["agency__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "slug"], name="team_unique_slug_per_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.agency})"


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self) -> MembershipQuerySet:
        return self.filter(ended_at__isnull=True)


class Membership(models.Model):
    """A user's role at an agency. Ended, never deleted, so the history of who worked where
    (and so who could see what) survives."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=30, choices=Role.choices)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["agency__name", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency", "role"],
                condition=Q(ended_at__isnull=True),
                name="membership_one_current_role_per_agency",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="membership_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} at {self.agency}"
