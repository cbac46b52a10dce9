"""The projection of sharing bases onto case-file object permissions.

The rule kept here: permission rows on a case file are exactly the projection of the effective
sharing bases for that (person, holding agency, recipient agency), recomputed from all of them
and applied in the same transaction as the basis change, so a withdrawal takes effect on the
very next request. ``apply_projection`` is the only code that writes those rows; the rows are
read by the visibility rule (``caretrust.sharing.visibility``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency
from caretrust.people.models import (
    CaseFile,
    CaseFileGroupObjectPermission,
    CaseFileUserObjectPermission,
    DataClass,
    view_codename,
)
from caretrust.sharing.models import BasisKind, Provision, SharingBasis, Status

# --- Effective bases -----------------------------------------------------------------------


def basis_ends_at(basis: SharingBasis) -> dt.datetime | None:
    return basis.ends_at


def _live_bases(
    person_id: Any, holding_id: int, recipient_id: int, now: dt.datetime
) -> list[SharingBasis]:
    """Active bases for the pair that have not ended (including ones yet to start)."""
    bases = SharingBasis.objects.filter(
        person_id=person_id,
        holding_agency_id=holding_id,
        recipient_agency_id=recipient_id,
        status=Status.ACTIVE,
    ).filter(Q(period_end__isnull=True) | Q(period_end__gt=now))
    return [b for b in bases if (basis_ends_at(b) or now + dt.timedelta(days=1)) > now]


@dataclass(frozen=True)
class GroupRow:
    data_class: str
    valid_until: dt.datetime | None


@dataclass(frozen=True)
class UserRow:
    user_id: int
    data_class: str
    valid_until: dt.datetime


def desired_rows(
    bases: Sequence[SharingBasis], now: dt.datetime
) -> tuple[set[GroupRow], set[UserRow]]:
    """What the bases permit now, per data class. A deny in force removes the data class
    entirely, break-glass included. A row's ``valid_until`` is the earliest moment its answer
    could turn to no: the last permit ending, or a deny starting."""
    group_rows: set[GroupRow] = set()
    user_rows: set[UserRow] = set()
    for data_class in DataClass.values:
        covering = [b for b in bases if data_class in b.data_classes]
        in_force = [b for b in covering if b.period_start <= now]
        if any(b.provision == Provision.DENY for b in in_force):
            continue
        future_denies = [
            b.period_start
            for b in covering
            if b.provision == Provision.DENY and b.period_start > now
        ]
        cut_off = min(future_denies) if future_denies else None

        permits = [b for b in in_force if b.kind != BasisKind.BREAK_GLASS]
        if permits:
            ends = [basis_ends_at(b) for b in permits]
            until = None if any(e is None for e in ends) else max(e for e in ends if e)
            if cut_off is not None:
                until = cut_off if until is None else min(until, cut_off)
            group_rows.add(GroupRow(data_class, until))
        # One row per user and data class (guardian's table is unique on user, permission and
        # object): a user who breaks the glass again holds it until the later end.
        glass_ends: dict[int, dt.datetime] = {}
        for b in in_force:
            if b.kind == BasisKind.BREAK_GLASS and b.break_glass_user_id and b.period_end:
                user_id = b.break_glass_user_id
                glass_ends[user_id] = max(b.period_end, glass_ends.get(user_id, b.period_end))
        for user_id, end in glass_ends.items():
            until = end if cut_off is None else min(end, cut_off)
            user_rows.add(UserRow(user_id, data_class, until))
    return group_rows, user_rows


# --- The projection ------------------------------------------------------------------------


@dataclass
class ProjectionChange:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def _view_permissions() -> dict[str, Permission]:
    # Looked up per call: nothing about permissions outlives a request.
    perms = Permission.objects.filter(
        content_type__app_label="people",
        content_type__model="casefile",
        codename__in=[view_codename(d) for d in DataClass.values],
    )
    by_codename = {p.codename: p for p in perms}
    return {d: by_codename[view_codename(d)] for d in DataClass.values}


def _lock_pair(person_id: Any, holding_id: int, recipient_id: int) -> None:
    """Serialise every change to one (person, holding, recipient) pair, so two concurrent
    basis changes cannot each compute a projection from a state the other is replacing."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"sharing:{person_id}:{holding_id}:{recipient_id}"],
        )


def apply_projection(
    *,
    person_id: Any,
    holding_agency: Agency,
    recipient_agency: Agency,
    by: Any = None,
    now: dt.datetime | None = None,
    record: bool = True,
) -> ProjectionChange:
    """Recompute the permission rows on the holding agency's case file for the recipient from
    all the pair's bases, and write the difference. Must run inside the transaction that
    changed a basis; takes the pair's lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_projection must run inside the basis change's transaction")
    now = now or timezone.now()
    _lock_pair(person_id, holding_agency.pk, recipient_agency.pk)
    change = ProjectionChange()
    case_file = CaseFile.objects.filter(person_id=person_id, agency=holding_agency).first()
    if case_file is None:
        return change  # nothing to project onto until the holding agency opens a file
    bases = _live_bases(person_id, holding_agency.pk, recipient_agency.pk, now)
    want_group, want_user = desired_rows(bases, now)
    perms = _view_permissions()
    perm_class = {p.pk: d for d, p in perms.items()}

    have_group = {
        GroupRow(perm_class[r.permission_id], r.valid_until): r.pk
        for r in CaseFileGroupObjectPermission.objects.filter(
            content_object=case_file, group_id=recipient_agency.group_id
        )
    }
    have_user = {
        UserRow(r.user_id, perm_class[r.permission_id], r.valid_until): r.pk
        for r in CaseFileUserObjectPermission.objects.filter(
            content_object=case_file, agency=recipient_agency
        )
    }
    stale_group = [pk for row, pk in have_group.items() if row not in want_group]
    stale_user = [pk for row, pk in have_user.items() if row not in want_user]
    if stale_group:
        CaseFileGroupObjectPermission.objects.filter(pk__in=stale_group).delete()
    if stale_user:
        CaseFileUserObjectPermission.objects.filter(pk__in=stale_user).delete()
    new_group = [r for r in want_group if r not in have_group]
    new_user = [r for r in want_user if r not in have_user]
    CaseFileGroupObjectPermission.objects.bulk_create(
        [
            CaseFileGroupObjectPermission(
                content_object=case_file,
                group_id=recipient_agency.group_id,
                permission=perms[r.data_class],
                valid_until=r.valid_until,
            )
            for r in new_group
        ]
    )
    CaseFileUserObjectPermission.objects.bulk_create(
        [
            CaseFileUserObjectPermission(
                content_object=case_file,
                user_id=r.user_id,
                agency=recipient_agency,
                permission=perms[r.data_class],
                valid_until=r.valid_until,
            )
            for r in new_user
        ]
    )
    change.removed = sorted(
        [f"group:{row.data_class}" for row in have_group if row not in want_group]
        + [f"user{row.user_id}:{row.data_class}" for row in have_user if row not in want_user]
    )
    change.added = sorted(
        [f"group:{r.data_class}" for r in new_group]
        + [f"user{r.user_id}:{r.data_class}" for r in new_user]
    )
    if change and record:
        audit.record(
            Action.PERMISSIONS_CHANGED,
            actor=by,
            agency=holding_agency,
            obj=case_file,
            person_id=person_id,
            detail={
                "recipient": recipient_agency.slug,
                "added": change.added,
                "removed": change.removed,
            },
        )
    return change
