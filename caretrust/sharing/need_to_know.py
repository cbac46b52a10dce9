"""Need to know inside an agency: the data classes each role's work needs, by default.

Sharing decides what an *agency* may see; need to know decides which of that a *member of
staff* reads, by their role there. The visibility rule (``caretrust.sharing.visibility``)
applies both in one query: a user sees a data class of a case file when their agency may see
it AND one of their current roles at that agency needs it (the table ``NeedToKnow``; several
roles give the union). Restricted items (notes marked restricted) never leave the holding
agency, and inside it only the roles its rows name with ``restricted_items`` read them.

The defaults below are seeded for every agency when it is created (a receiver on Agency's
``post_save``, so every way of creating one seeds it) and were seeded by migration for those
that existed; an administrator edits an agency's rows in the admin. Why each role needs what:

- Care managers, social workers and team managers (who allocate and supervise casework and
  take safeguarding decisions) work with the whole of a person's situation, money included:
  every class, restricted items too.
- Nurses, district nurses, occupational therapists, physiotherapists and GPs: the clinical
  and care classes (demographics, assessments, care plans, referrals, clinical notes),
  restricted items too; not finance and charging, which their work does not touch.
- The Caldicott guardian judges whether each access to a record was justified (the
  break-glass reviews, "who has seen this record"), which needs sight of everything.
- Finance officers and pool managers: demographics (to know whose account it is) and
  finance and charging; never clinical notes or assessments, never restricted items. A
  finance officer who is also a care manager gets the care manager's classes too.
- Care workers deliver a care plan: demographics and care plans.
- Care transfer hub coordinators plan discharge pathways: demographics, assessments, care
  plans and referrals; not clinical notes or finance.
- Agency administrators run the directory and the governance pages: demographics only.
- A partner system (API client) acts for its agency, not for a role: its scopes already say
  which resource groups it may read (``assessments:read``, ``budgets:read``...), so its row
  covers every class and scopes stay the one limit on it, except restricted items, which
  stay with the agency's own staff. An agency that wants a narrower client narrows this role.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from caretrust.directory.models import Agency, Membership, Role
from caretrust.people.models import DataClass

ALL = frozenset(DataClass.values)
CLINICAL = frozenset(
    {
        DataClass.DEMOGRAPHICS,
        DataClass.ASSESSMENTS,
        DataClass.CARE_PLANS,
        DataClass.REFERRALS,
        DataClass.CLINICAL_NOTES,
    }
)
FINANCE = frozenset({DataClass.DEMOGRAPHICS, DataClass.FINANCE})

# role -> (the data classes it needs, whether it also reads restricted items of them)
DEFAULT_NEED_TO_KNOW: dict[str, tuple[frozenset[str], bool]] = {
    Role.CARE_MANAGER: (ALL, True),
    Role.SOCIAL_WORKER: (ALL, True),
    Role.TEAM_MANAGER: (ALL, True),
    Role.CALDICOTT_GUARDIAN: (ALL, True),
    Role.NURSE: (CLINICAL, True),
    Role.DISTRICT_NURSE: (CLINICAL, True),
    Role.OCCUPATIONAL_THERAPIST: (CLINICAL, True),
    Role.PHYSIOTHERAPIST: (CLINICAL, True),
    Role.GP: (CLINICAL, True),
    Role.FINANCE_OFFICER: (FINANCE, False),
    Role.POOL_MANAGER: (FINANCE, False),
    Role.CARE_WORKER: (frozenset({DataClass.DEMOGRAPHICS, DataClass.CARE_PLANS}), False),
    Role.TRANSFER_HUB_COORDINATOR: (
        frozenset(
            {
                DataClass.DEMOGRAPHICS,
                DataClass.ASSESSMENTS,
                DataClass.CARE_PLANS,
                DataClass.REFERRALS,
            }
        ),
        False,
    ),
    Role.AGENCY_ADMINISTRATOR: (frozenset({DataClass.DEMOGRAPHICS}), False),
    Role.PARTNER_SYSTEM: (ALL, False),
}


def seed_need_to_know(agency: Agency) -> int:
    """Give ``agency`` the default rows for each role it may have; rows it already has are
    left as they are (an administrator's change survives). Returns the rows added."""
    from caretrust.sharing.models import NeedToKnow

    rows = [
        NeedToKnow(agency=agency, role=role, data_class=dc, restricted_items=restricted)
        for role, (classes, restricted) in DEFAULT_NEED_TO_KNOW.items()
        if agency.allows_role(role)
        for dc in sorted(classes)
    ]
    existing = set(NeedToKnow.objects.filter(agency=agency).values_list("role", "data_class"))
    new = [r for r in rows if (r.role, r.data_class) not in existing]
    NeedToKnow.objects.bulk_create(new)
    return len(new)


@receiver(post_save, sender=Agency, dispatch_uid="seed_need_to_know")
def _seed_new_agency(
    sender: Any, instance: Agency, created: bool, raw: bool = False, **kw: Any
) -> None:
    if created and not raw:
        seed_need_to_know(instance)


def role_classes(agency: Agency, user: Any) -> tuple[set[str], set[str]]:
    """The data classes ``user``'s current roles at ``agency`` need, and those of them whose
    restricted items they read: the same table the rule reads, for a page to say what the
    role leaves out. ``user`` None (the agency as a body, e.g. a task) needs every class."""
    from caretrust.sharing.models import NeedToKnow

    if user is None:
        return set(ALL), set(ALL)
    roles = Membership.objects.current().filter(user_id=user.pk, agency=agency).values("role")
    classes: set[str] = set()
    restricted: set[str] = set()
    for dc, items in NeedToKnow.objects.filter(agency=agency, role__in=roles).values_list(
        "data_class", "restricted_items"
    ):
        classes.add(dc)
        if items:
            restricted.add(dc)
    return classes, restricted
