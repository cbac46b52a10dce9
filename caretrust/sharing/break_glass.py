"""Break-glass: emergency access for one named user, and its review by the holding agency's
Caldicott guardian."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency, Role
from caretrust.people.models import DataClass, Person
from caretrust.sharing.models import (
    BREAK_GLASS_DURATION,
    BasisKind,
    BreakGlassReview,
    ReviewOutcome,
    SharingBasis,
    Status,
)
from caretrust.sharing.projection import apply_projection
from caretrust.sharing.recording import record_status_change, require_role
from caretrust.sharing.tasks import alert_caldicott_guardians

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
    require_role(user, acting_agency, BREAK_GLASS_ROLES, "use emergency (break-glass) access")
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
            record_status_change(basis, "", Status.ACTIVE, user, "break-glass")
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
    require_role(by, review.guardian_agency, {Role.CALDICOTT_GUARDIAN}, "review emergency access")
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
