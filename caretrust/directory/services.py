"""Every write to the directory. Each keeps agency groups in step with memberships."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Membership, Role, Team


def _in_sentence(label: str) -> str:
    """A label inside a sentence: "care manager", but "GP" and "GP practice"."""
    first, _, rest = str(label).partition(" ")
    return " ".join(filter(None, [first if first.isupper() else first.lower(), rest]))


def _a(noun: str) -> str:
    return f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"


def create_agency(
    *, name: str, slug: str, kind: str, ods_code: str = "", by: object = None
) -> Agency:
    """Create an agency and the one group its object permissions are granted to."""
    with transaction.atomic():
        group = Group.objects.create(name=f"agency:{slug}")
        agency = Agency(name=name, slug=slug, kind=kind, ods_code=ods_code, group=group)
        agency.full_clean()
        agency.save()
        audit.record(
            Action.AGENCY_CREATED,
            actor=by,
            agency=agency,
            obj=agency,
            detail={"name": name, "kind": kind},
        )
    return agency


def add_membership(
    *,
    user: User,
    agency: Agency,
    role: str,
    team: Team | None = None,
    by: object = None,
) -> Membership:
    """Give a user a role at an agency and put them in the agency's group.

    A role must belong to one of the agency's sectors (a council has no GPs; a care trust has
    both health and social-care staff) and a team must belong to the same agency.
    """
    if role not in Role.values:
        raise ValidationError(
            {"role": f"{role!r} is not a role; expected one of {', '.join(Role.values)}."}
        )
    if not agency.allows_role(role):
        kind = _a(_in_sentence(agency.get_kind_display()))
        role_name = _in_sentence(Role(role).label)
        raise ValidationError({"role": f"{kind[0].upper()}{kind[1:]} has no {role_name} role."})
    if team is not None and team.agency_id != agency.pk:
        raise ValidationError({"team": f"{team.name} belongs to {team.agency}, not {agency}."})
    with transaction.atomic():
        if Membership.objects.current().filter(user=user, agency=agency, role=role).exists():
            raise ValidationError(
                f"{user} is already {_a(_in_sentence(Role(role).label))} at {agency}."
            )
        membership = Membership.objects.create(user=user, agency=agency, role=role, team=team)
        agency.group.user_set.add(user)
        audit.record(
            Action.MEMBERSHIP_ADDED,
            actor=by,
            agency=agency,
            obj=membership,
            detail={"user": user.get_username(), "role": role},
        )
    return membership


def end_membership(*, membership: Membership, by: object = None) -> Membership:
    """End a membership; the user leaves the agency's group once they hold no other role
    there, so their very next request is refused anything shared with that agency."""
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.ended_at is not None:
            return locked
        locked.ended_at = timezone.now()
        locked.save(update_fields=["ended_at"])
        still_member = (
            Membership.objects.current()
            .filter(user_id=locked.user_id, agency_id=locked.agency_id)
            .exists()
        )
        if not still_member:
            locked.agency.group.user_set.remove(locked.user)
        audit.record(
            Action.MEMBERSHIP_ENDED,
            actor=by,
            agency=locked.agency,
            obj=locked,
            detail={"user": locked.user.get_username(), "role": locked.role},
        )
    return locked


def sync_agency_groups() -> int:
    """Make every agency group hold exactly the agency's current members; return how many
    users were added or removed (zero when nothing had drifted)."""
    changed = 0
    with transaction.atomic():
        for agency in Agency.objects.select_related("group"):
            wanted = set(
                Membership.objects.current().filter(agency=agency).values_list("user_id", flat=True)
            )
            have = set(agency.group.user_set.values_list("pk", flat=True))
            if wanted - have:
                agency.group.user_set.add(*(wanted - have))
            if have - wanted:
                agency.group.user_set.remove(*(have - wanted))
            changed += len(wanted ^ have)
    return changed
