"""Every change to who may see what: sharing bases, their projection onto case-file object
permissions, break-glass access and its review.

The rule kept here: permission rows on a case file are exactly the projection of the effective
sharing bases for that (person, holding agency, recipient agency), recomputed from all of them
and applied in the same transaction as the basis change, so a withdrawal takes effect on the
very next request. ``apply_projection`` is the only code that writes those rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Role
from caretrust.directory.selectors import roles_at
from caretrust.people.models import (
    CaseFile,
    CaseFileGroupObjectPermission,
    CaseFileUserObjectPermission,
    DataClass,
    Person,
    view_codename,
)
from caretrust.people.validators import today_in_london
from caretrust.sharing.models import (
    BREAK_GLASS_DURATION,
    BasisKind,
    BreakGlassReview,
    Provision,
    ReviewOutcome,
    SharingBasis,
    Status,
    StatusChange,
)

# Who may record or withdraw a basis for their agency's files: the professionals who work
# with the person, and the agency's information governance leads.
RECORDING_ROLES = frozenset(
    {
        Role.CARE_MANAGER,
        Role.SOCIAL_WORKER,
        Role.NURSE,
        Role.DISTRICT_NURSE,
        Role.OCCUPATIONAL_THERAPIST,
        Role.PHYSIOTHERAPIST,
        Role.GP,
        Role.CALDICOTT_GUARDIAN,
        Role.AGENCY_ADMINISTRATOR,
        # A partner system records what its own agency's staff decided (its scopes limit it).
        Role.PARTNER_SYSTEM,
    }
)
# Who may break the glass: those giving care, never finance or administration.
BREAK_GLASS_ROLES = frozenset(
    {
        Role.CARE_MANAGER,
        Role.SOCIAL_WORKER,
        Role.NURSE,
        Role.DISTRICT_NURSE,
        Role.OCCUPATIONAL_THERAPIST,
        Role.PHYSIOTHERAPIST,
        Role.GP,
    }
)
MIN_REASON_LENGTH = 10


# --- Effective bases -----------------------------------------------------------------------


def lapse_at(review_on: dt.date) -> dt.datetime:
    """A best-interests decision lapses at the end of its review date, in Europe/London
    (Mental Capacity Act 2005: a decision is for a time and must be revisited)."""
    next_day = review_on + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(next_day, dt.time.min))


def basis_ends_at(basis: SharingBasis) -> dt.datetime | None:
    ends = [basis.period_end] if basis.period_end else []
    if basis.kind == BasisKind.BEST_INTERESTS and basis.review_on:
        ends.append(lapse_at(basis.review_on))
    return min(ends) if ends else None


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


# --- Recording and withdrawing bases -------------------------------------------------------


def _require_role(user: Any, agency: Agency, roles: Iterable[str], action: str) -> None:
    if not roles_at(user, agency) & set(roles):
        raise PermissionDenied(f"Your role at {agency} does not allow you to {action}.")


def _clean_classes(data_classes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(data_classes))
    unknown = [c for c in chosen if c not in DataClass.values]
    if unknown or not chosen:
        raise ValidationError(
            {
                "data_classes": "Choose at least one kind of information to "
                f"share, from: {', '.join(DataClass.values)}."
            }
        )
    return chosen


def _history(basis: SharingBasis, old: str, new: str, by: Any, reason: str) -> None:
    StatusChange.objects.create(
        basis=basis,
        from_status=old,
        to_status=new,
        changed_by=by if getattr(by, "is_authenticated", False) else None,
        reason=reason[:500],
    )


def _record(
    *, by: Any, acting_agency: Agency, basis: SharingBasis, reason: str = ""
) -> SharingBasis:
    """Validate, save, project and audit a new basis for the holding agency's file."""
    if basis.holding_agency_id != acting_agency.pk:
        raise PermissionDenied(
            "Only the agency that holds a case file can record how it is shared."
        )
    _require_role(by, acting_agency, RECORDING_ROLES, "record how a file is shared")
    if basis.recipient_agency_id == basis.holding_agency_id:
        raise ValidationError({"recipient_agency": "Choose another agency to share with."})
    if not CaseFile.objects.filter(person=basis.person, agency=acting_agency).exists():
        raise ValidationError(f"{acting_agency} has no case file on this person to share.")
    basis.full_clean(exclude=["recorded_by"], validate_constraints=True)
    with transaction.atomic():
        basis.save(force_insert=True)
        _history(basis, "", basis.status, by, reason or "recorded")
        audit.record(
            Action.BASIS_RECORDED,
            actor=by,
            agency=acting_agency,
            obj=basis,
            person_id=basis.person_id,
            detail={
                "kind": basis.kind,
                "provision": basis.provision,
                "recipient": basis.recipient_agency.slug,
                "data_classes": basis.data_classes,
            },
        )
        apply_projection(
            person_id=basis.person_id,
            holding_agency=basis.holding_agency,
            recipient_agency=basis.recipient_agency,
            by=by,
        )
    return basis


def record_consent(
    *,
    person: Person,
    holding_agency: Agency,
    recipient_agency: Agency,
    data_classes: Iterable[str],
    purpose: str,
    grantor: str,
    grantor_name: str,
    evidence: str,
    by: Any,
    provision: str = Provision.PERMIT,
    period_start: dt.datetime | None = None,
    period_end: dt.datetime | None = None,
    review_on: dt.date | None = None,
) -> SharingBasis:
    """Record the person's consent (or, with provision=deny, their refusal) to share the
    holding agency's file with the recipient. Given by the person, or by a representative
    with authority (an attorney or a deputy), with its evidence."""
    basis = SharingBasis(
        person=person,
        holding_agency=holding_agency,
        recipient_agency=recipient_agency,
        data_classes=_clean_classes(data_classes),
        kind=BasisKind.CONSENT,
        provision=provision,
        purpose=purpose,
        period_start=period_start or timezone.now(),
        period_end=period_end,
        review_on=review_on,
        grantor=grantor,
        grantor_name=grantor_name,
        evidence=evidence,
        recorded_by=by,
    )
    return _record(by=by, acting_agency=holding_agency, basis=basis)


def record_refusal(**kwargs: Any) -> SharingBasis:
    """A refusal is a consent decision with a deny provision: it wins over any permit."""
    return record_consent(provision=Provision.DENY, **kwargs)


def record_best_interests(
    *,
    person: Person,
    holding_agency: Agency,
    recipient_agency: Agency,
    data_classes: Iterable[str],
    purpose: str,
    capacity_assessed_by: str,
    capacity_assessed_on: dt.date,
    review_on: dt.date,
    by: Any,
    period_start: dt.datetime | None = None,
) -> SharingBasis:
    """Share in the person's best interests where they lack capacity for this decision
    (Mental Capacity Act 2005 s.4). Lapses after its review date unless renewed."""
    if capacity_assessed_on > today_in_london():
        raise ValidationError(
            {"capacity_assessed_on": "The capacity assessment date cannot be in the future."}
        )
    if review_on < today_in_london():
        raise ValidationError({"review_on": "The review date must be today or later."})
    basis = SharingBasis(
        person=person,
        holding_agency=holding_agency,
        recipient_agency=recipient_agency,
        data_classes=_clean_classes(data_classes),
        kind=BasisKind.BEST_INTERESTS,
        purpose=purpose,
        period_start=period_start or timezone.now(),
        review_on=review_on,
        capacity_assessed_by=capacity_assessed_by,
        capacity_assessed_on=capacity_assessed_on,
        recorded_by=by,
    )
    return _record(by=by, acting_agency=holding_agency, basis=basis)


def record_legal_duty(
    *,
    person: Person,
    holding_agency: Agency,
    recipient_agency: Agency,
    data_classes: Iterable[str],
    purpose: str,
    statutory_reason: str,
    by: Any,
    period_end: dt.datetime | None = None,
) -> SharingBasis:
    """Share because the law requires it (e.g. a Care Act 2014 s.42 safeguarding enquiry)."""
    basis = SharingBasis(
        person=person,
        holding_agency=holding_agency,
        recipient_agency=recipient_agency,
        data_classes=_clean_classes(data_classes),
        kind=BasisKind.LEGAL_DUTY,
        purpose=purpose,
        period_start=timezone.now(),
        period_end=period_end,
        statutory_reason=statutory_reason.strip(),
        recorded_by=by,
    )
    return _record(by=by, acting_agency=holding_agency, basis=basis)


def change_status(
    *, basis: SharingBasis, to_status: str, reason: str, by: Any, acting_agency: Agency | None
) -> SharingBasis:
    """Withdraw a basis, or mark it entered in error (or, for the sweeper with no acting
    agency, expired). Locks the basis; the projection is recomputed in the same transaction."""
    allowed = {Status.WITHDRAWN, Status.ENTERED_IN_ERROR, Status.EXPIRED}
    if to_status not in allowed:
        raise ValidationError(f"A basis can only become one of: {', '.join(sorted(allowed))}.")
    if acting_agency is not None:
        if basis.holding_agency_id != acting_agency.pk:
            raise PermissionDenied(
                "Only the agency that holds the case file can change how it is shared."
            )
        _require_role(by, acting_agency, RECORDING_ROLES, "change how a file is shared")
        if not reason.strip():
            raise ValidationError({"reason": "Say why the basis is being withdrawn."})
    with transaction.atomic():
        locked = SharingBasis.objects.select_for_update().get(pk=basis.pk)
        if locked.status != Status.ACTIVE:
            raise ValidationError(f"This basis is already {locked.get_status_display().lower()}.")
        old = locked.status
        locked.status = to_status
        locked.version += 1
        locked.save(update_fields=["status", "version"])
        _history(locked, old, to_status, by, reason)
        audit.record(
            Action.BASIS_STATUS_CHANGED,
            actor=by,
            agency=acting_agency,
            obj=locked,
            person_id=locked.person_id,
            detail={"from": old, "to": to_status, "reason": reason[:500], "kind": locked.kind},
        )
        if locked.kind == BasisKind.BREAK_GLASS and to_status == Status.EXPIRED:
            audit.record(
                Action.BREAK_GLASS_EXPIRED,
                agency=locked.holding_agency,
                obj=locked,
                person_id=locked.person_id,
                detail={"user_id": locked.break_glass_user_id},
            )
        apply_projection(
            person_id=locked.person_id,
            holding_agency=locked.holding_agency,
            recipient_agency=locked.recipient_agency,
            by=by,
        )
    return locked


def withdraw_basis(
    *, basis: SharingBasis, reason: str, by: Any, acting_agency: Agency
) -> SharingBasis:
    """Withdraw consent (or end any basis): it stops counting on the very next request."""
    return change_status(
        basis=basis, to_status=Status.WITHDRAWN, reason=reason, by=by, acting_agency=acting_agency
    )


# --- Break-glass ---------------------------------------------------------------------------


def break_glass(
    *, person: Person, user: Any, acting_agency: Agency, reason: str
) -> list[SharingBasis]:
    """Emergency access for one named user to every other agency's file on the person, for
    four hours. Each holding agency's Caldicott guardian is alerted and must review it. A
    recorded refusal still wins: break-glass never overrides a deny."""
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": "Give the reason for emergency access in at least "
                f"{MIN_REASON_LENGTH} characters; it is reviewed by "
                "the Caldicott guardian."
            }
        )
    _require_role(user, acting_agency, BREAK_GLASS_ROLES, "use emergency (break-glass) access")
    from caretrust.sharing.tasks import alert_caldicott_guardians

    now = timezone.now()
    created: list[SharingBasis] = []
    with transaction.atomic():
        holders = (
            Agency.objects.filter(case_files__person=person).exclude(pk=acting_agency.pk).distinct()
        )
        for holder in holders:
            basis = SharingBasis(
                person=person,
                holding_agency=holder,
                recipient_agency=acting_agency,
                data_classes=list(DataClass.values),
                kind=BasisKind.BREAK_GLASS,
                purpose="emergency",
                period_start=now,
                period_end=now + BREAK_GLASS_DURATION,
                break_glass_user=user,
                reason=reason,
                recorded_by=user,
            )
            basis.full_clean(exclude=["recorded_by"])
            basis.save(force_insert=True)
            _history(basis, "", Status.ACTIVE, user, "break-glass")
            BreakGlassReview.objects.create(basis=basis, guardian_agency=holder)
            audit.record(
                Action.BREAK_GLASS_STARTED,
                actor=user,
                agency=acting_agency,
                obj=basis,
                person_id=person.pk,
                detail={"holding_agency": holder.slug, "reason": reason, "until": basis.period_end},
            )
            apply_projection(
                person_id=person.pk,
                holding_agency=holder,
                recipient_agency=acting_agency,
                by=user,
                now=now,
            )
            alert_caldicott_guardians.delay_on_commit(str(basis.pk))
            created.append(basis)
    return created


def review_break_glass(
    *, review: BreakGlassReview, outcome: str, notes: str, by: Any
) -> BreakGlassReview:
    """The holding agency's Caldicott guardian records whether the access was appropriate."""
    _require_role(by, review.guardian_agency, {Role.CALDICOTT_GUARDIAN}, "review emergency access")
    if outcome not in ReviewOutcome.values:
        raise ValidationError({"outcome": "Choose whether the access was appropriate."})
    if outcome == ReviewOutcome.INAPPROPRIATE and not notes.strip():
        raise ValidationError({"notes": "Say why the access was not appropriate."})
    with transaction.atomic():
        locked = BreakGlassReview.objects.select_for_update().get(pk=review.pk)
        if locked.reviewed_at is not None:
            raise ValidationError("This access has already been reviewed.")
        locked.reviewed_at = timezone.now()
        locked.reviewed_by = by
        locked.outcome = outcome
        locked.notes = notes.strip()
        locked.save(update_fields=["reviewed_at", "reviewed_by", "outcome", "notes"])
        audit.record(
            Action.BREAK_GLASS_REVIEWED,
            actor=by,
            agency=locked.guardian_agency,
            obj=locked.basis,
            person_id=locked.basis.person_id,
            detail={"outcome": outcome},
        )
    return locked


# --- Sweeping and drift --------------------------------------------------------------------


def expire_lapsed_bases(now: dt.datetime | None = None) -> int:
    """Mark active bases whose period or review date has passed as expired (the visibility
    query already ignores them; this keeps the record and the projection tidy)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    lapsed: QuerySet[SharingBasis] = SharingBasis.objects.filter(status=Status.ACTIVE).filter(
        Q(period_end__lte=now) | Q(kind=BasisKind.BEST_INTERESTS, review_on__lt=today)
    )
    count = 0
    for basis in lapsed.select_related("holding_agency", "recipient_agency"):
        try:
            change_status(
                basis=basis,
                to_status=Status.EXPIRED,
                by=None,
                acting_agency=None,
                reason="period ended"
                if basis.kind != BasisKind.BEST_INTERESTS
                else "review date passed",
            )
        except ValidationError:
            continue  # another worker expired it first
        count += 1
    return count


@dataclass
class DriftReport:
    pairs_checked: int = 0
    drifted: list[dict[str, Any]] = field(default_factory=list)


def recompute_all(now: dt.datetime | None = None) -> DriftReport:
    """Recompute every pair's rows from the bases; report (and audit) any that had drifted.
    Drift means something wrote permission rows outside ``apply_projection``."""
    now = now or timezone.now()
    report = DriftReport()
    pairs = set(
        SharingBasis.objects.values_list("person_id", "holding_agency_id", "recipient_agency_id")
    )
    groups = dict(Agency.objects.values_list("group_id", "pk"))
    for person_id, holding_id, group_id in CaseFileGroupObjectPermission.objects.values_list(
        "content_object__person_id", "content_object__agency_id", "group_id"
    ):
        recipient = groups.get(group_id)
        if recipient is None:
            report.drifted.append({"group_id": group_id, "problem": "not an agency group"})
            continue
        pairs.add((person_id, holding_id, recipient))
    pairs |= set(
        CaseFileUserObjectPermission.objects.values_list(
            "content_object__person_id", "content_object__agency_id", "agency_id"
        )
    )
    agencies = {a.pk: a for a in Agency.objects.all()}
    for person_id, holding_id, recipient_id in sorted(pairs, key=str):
        report.pairs_checked += 1
        with transaction.atomic():
            # A row past its valid_until lapsed on time, exactly as projected (the visibility
            # query already ignores it); clearing it away before the sweeper does is tidying,
            # not drift.
            _lock_pair(person_id, holding_id, recipient_id)
            CaseFileGroupObjectPermission.objects.filter(
                content_object__person_id=person_id,
                content_object__agency_id=holding_id,
                group_id=agencies[recipient_id].group_id,
                valid_until__lte=now,
            ).delete()
            CaseFileUserObjectPermission.objects.filter(
                content_object__person_id=person_id,
                content_object__agency_id=holding_id,
                agency_id=recipient_id,
                valid_until__lte=now,
            ).delete()
            change = apply_projection(
                person_id=person_id,
                holding_agency=agencies[holding_id],
                recipient_agency=agencies[recipient_id],
                now=now,
                record=False,
            )
            if change:
                entry = {
                    "person_id": str(person_id),
                    "holding": agencies[holding_id].slug,
                    "recipient": agencies[recipient_id].slug,
                    "added": change.added,
                    "removed": change.removed,
                }
                report.drifted.append(entry)
                audit.record(
                    Action.SHARING_DRIFT,
                    agency=agencies[holding_id],
                    person_id=person_id,
                    detail=entry,
                )
    stray = Group.objects.filter(
        agency__isnull=False, permissions__content_type__app_label__in=["people", "sharing"]
    ).distinct()
    for group in stray:
        entry = {"group": group.name, "problem": "holds model-level permissions on people's data"}
        report.drifted.append(entry)
        audit.record(Action.SHARING_DRIFT, detail=entry)
    return report
