"""Recording, withdrawing and ending sharing bases: consent (or a refusal), best interests,
legal duty. Each change is validated, audited and projected in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Role
from caretrust.directory.selectors import roles_at
from caretrust.people.models import CaseFile, DataClass, Person
from caretrust.people.validators import today_in_london
from caretrust.sharing.models import BasisKind, Provision, SharingBasis, Status, StatusChange
from caretrust.sharing.projection import apply_projection

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


# --- Recording and withdrawing bases -------------------------------------------------------


def require_role(user: Any, agency: Agency, roles: Iterable[str], action: str) -> None:
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


def record_status_change(basis: SharingBasis, old: str, new: str, by: Any, reason: str) -> None:
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
    require_role(by, acting_agency, RECORDING_ROLES, "record how a file is shared")
    if basis.recipient_agency_id == basis.holding_agency_id:
        raise ValidationError({"recipient_agency": "Choose another agency to share with."})
    if not CaseFile.objects.filter(person=basis.person, agency=acting_agency).exists():
        raise ValidationError(f"{acting_agency} has no case file on this person to share.")
    basis.full_clean(exclude=["recorded_by"], validate_constraints=True)
    with transaction.atomic():
        basis.save(force_insert=True)
        record_status_change(basis, "", basis.status, by, reason or "recorded")
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
        require_role(by, acting_agency, RECORDING_ROLES, "change how a file is shared")
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
        record_status_change(locked, old, to_status, by, reason)
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
