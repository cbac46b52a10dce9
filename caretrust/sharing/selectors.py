"""Reads about sharing and access: the sharing panel, the access reports and the Caldicott
guardian's review queue. Each checks who may ask and is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action, AuditEvent
from caretrust.directory.models import Agency, Role
from caretrust.directory.selectors import roles_at
from caretrust.people.models import CaseFile, Person
from caretrust.sharing.models import BasisKind, BreakGlassReview, SharingBasis, Status
from caretrust.sharing.visibility import visible_or_404

GOVERNANCE_ROLES = frozenset({Role.CALDICOTT_GUARDIAN, Role.AGENCY_ADMINISTRATOR})
REPORT_PAGE_SIZE = 50


def sharing_panel(*, person: Person, agency: Agency) -> list[SharingBasis]:
    """The bases that concern the active agency on this person: every basis on its own file
    (whoever it shares with) and every basis that lets it see another agency's file. The
    caller has already been allowed to see the person (and that read was audited)."""
    return list(
        SharingBasis.objects.filter(person=person)
        .filter(Q(holding_agency=agency) | Q(recipient_agency=agency))
        .select_related("holding_agency", "recipient_agency", "recorded_by", "break_glass_user")
        .prefetch_related("history__changed_by")
        .order_by("-period_start")
    )


def emergency_access_until(
    bases: Sequence[SharingBasis], *, user: Any, agency: Agency
) -> dt.datetime | None:
    """When this user's emergency (break-glass) access to the person ends, if it is on: the
    latest end among their current break-glass bases for the active agency (None: it is off).
    The page says so, so nobody reads another agency's file without knowing why they can."""
    now = timezone.now()
    ends = [
        b.period_end
        for b in bases
        if b.kind == BasisKind.BREAK_GLASS
        and b.break_glass_user_id == user.pk
        and b.recipient_agency_id == agency.pk
        and b.period_end is not None
        and b.status_at(now) == Status.ACTIVE
        and b.period_start <= now
    ]
    return max(ends, default=None)


def require_own_file(*, user: Any, agency: Agency, person: Person, purpose: str) -> None:
    """PermissionDenied (audited) unless the agency holds its own case file on ``person``:
    seeing another agency's file through a share gives no say over how any file on the person
    is shared."""
    if not CaseFile.objects.filter(person=person, agency=agency).exists():
        audit.record_denial(
            actor=user,
            agency=agency,
            what="person",
            object_id=person.pk,
            person_id=person.pk,
            reason="no_own_case_file",
            purpose=purpose,
        )
        raise PermissionDenied(f"{agency} holds no case file on this person to share.")


def require_holder(*, user: Any, agency: Agency, basis: SharingBasis) -> None:
    """PermissionDenied (audited) unless the agency holds the file ``basis`` shares: a basis
    the agency may read as its recipient is not one it may change."""
    if basis.holding_agency_id != agency.pk:
        audit.record_denial(
            actor=user,
            agency=agency,
            what="sharing_basis",
            object_id=basis.pk,
            obj=basis,
            person_id=basis.person_id,
            reason="not_the_holder",
        )
        raise PermissionDenied(
            "Only the agency that holds the case file can change how it is shared."
        )


def person_for_break_glass(*, nhs_number: str) -> Person | None:
    """The person with this NHS number, whoever may see them: break-glass exists to open a
    record not yet visible. Only the break-glass service is given it, never the caller's
    page, which shows the person only once the service has opened their files."""
    return Person.objects.filter(nhs_number=nhs_number).first()


def bases_concerning(*, user: Any, agency: Agency) -> QuerySet[SharingBasis]:
    """The bases that concern the agency (on its own files, or letting it see another's) on
    people it may see: the one answer to which bases an agency may read, in the browser and
    the API alike."""
    visible = Person.objects.visible_to(agency, user).filter(pk=OuterRef("person_id"))
    return (
        SharingBasis.objects.filter(Q(holding_agency=agency) | Q(recipient_agency=agency))
        .filter(Exists(visible))
        .select_related("person", "holding_agency", "recipient_agency")
    )


def get_visible_basis(
    *,
    user: Any,
    agency: Agency,
    basis_id: object,
    purpose: str = "sharing_basis",
    audit_view: bool = True,
    **detail: Any,
) -> SharingBasis:
    """One basis the agency may read (``bases_concerning``), or Http404 alike for a missing
    one, one between other agencies, or one on a person it no longer sees. The sight is
    audited under the person, unless ``audit_view`` is false (a write's own row says more)."""
    basis = visible_or_404(
        bases_concerning(user=user, agency=agency),
        basis_id,
        user=user,
        agency=agency,
        what="sharing_basis",
        **detail,
    )
    if not audit_view:
        return basis
    audit.record(
        Action.PERSON_VIEWED,
        actor=user,
        agency=agency,
        obj=basis,
        person_id=basis.person_id,
        detail={"purpose": purpose, **detail},
    )
    return basis


def list_bases(
    *, user: Any, agency: Agency, page: Callable[[QuerySet[SharingBasis]], Sequence[SharingBasis]]
) -> Sequence[SharingBasis]:
    """One page (``page``: the API's filters and cursor) of ``bases_concerning``; the bases and
    people returned are audited."""
    bases = page(bases_concerning(user=user, agency=agency))
    audit.record(
        Action.PERSON_SEARCHED,
        actor=user,
        agency=agency,
        detail={
            "sharing_bases": [str(b.pk) for b in bases],
            "persons": sorted({str(b.person_id) for b in bases}),
            "via": "api",
        },
    )
    return bases


def access_report(*, user: Any, agency: Agency, person: Person, page: Any = 1) -> Page[AuditEvent]:
    """Who has seen this person's record: for a subject access request. For the Caldicott
    guardian or an administrator of an agency that holds a file on the person."""
    if not roles_at(user, agency) & GOVERNANCE_ROLES:
        raise PermissionDenied(
            "Only a Caldicott guardian or agency administrator can see who has accessed a record."
        )
    if not CaseFile.objects.filter(person=person, agency=agency).exists():
        raise PermissionDenied(f"{agency} holds no case file on this person.")
    pid = str(person.pk)
    events = AuditEvent.objects.filter(
        Q(person_id=person.pk) | Q(detail__contains={"persons": [pid]})
    ).order_by("-id")
    result = _read_now(Paginator(events, REPORT_PAGE_SIZE).get_page(page))
    audit.record(
        Action.REPORT_VIEWED,
        actor=user,
        agency=agency,
        person_id=person.pk,
        detail={"report": "person_access", "page": result.number},
    )
    return result


def user_activity(
    *, user: Any, agency: Agency, target_user_id: Any, page: Any = 1
) -> tuple[Any, Page[AuditEvent]]:
    """What one member (or former member) of the agency has done, for its governance leads.
    Someone who never worked for the agency answers 404."""
    from django.contrib.auth import get_user_model

    if not roles_at(user, agency) & GOVERNANCE_ROLES:
        raise PermissionDenied(
            "Only a Caldicott guardian or agency administrator can see a user's activity."
        )
    target_pk = _int_or_none(target_user_id)
    target = (
        get_user_model()
        .objects.filter(
            pk__in=[target_pk] if target_pk is not None else [], memberships__agency=agency
        )
        .distinct()
        .first()
    )
    if target is None:
        raise Http404("No such user.")
    events = AuditEvent.objects.filter(actor_id=target.pk).order_by("-id")
    result = _read_now(Paginator(events, REPORT_PAGE_SIZE).get_page(page))
    audit.record(
        Action.REPORT_VIEWED,
        actor=user,
        agency=agency,
        detail={"report": "user_activity", "user_id": target.pk, "page": result.number},
    )
    return target, result


def _read_now(result: Page[AuditEvent]) -> Page[AuditEvent]:
    """Fetch the page's rows before the report's own audit row is written. A page's rows are
    otherwise read lazily, when the template renders, and the report's own row (newest, so
    first) would push the oldest row on the page out of a slice sized by the earlier count."""
    result.object_list = list(result.object_list)
    _name_the_actors(result.object_list)
    return result


def _name_the_actors(events: Sequence[AuditEvent]) -> None:
    """Give each event ``who``: the actor's name, role and agency as a reader of the report
    knows them ("Carol Carter, care manager, Calderbridge Council Adult Social Care"), with
    the username kept for the record. A role is the actor's at the event's agency, whether or
    not that membership has since ended. Two queries for a page, whatever its size."""
    from django.contrib.auth import get_user_model

    from caretrust.directory.models import Membership

    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=actor_ids)}
    roles: dict[tuple[int, int], list[str]] = {}
    agency_names: dict[int, str] = {}
    for m in Membership.objects.filter(user_id__in=actor_ids).select_related("agency"):
        roles.setdefault((m.user_id, m.agency_id), []).append(m.get_role_display().lower())
        agency_names[m.agency_id] = m.agency.name
    for event in events:
        user = users.get(event.actor_id) if event.actor_id is not None else None
        if user is None:
            event.who = event.actor_username or "The system"  # type: ignore[attr-defined]
            continue
        parts = [user.get_full_name() or user.get_username()]
        if event.agency_id is not None:
            parts += sorted(set(roles.get((user.pk, event.agency_id), [])))
            if event.agency_id in agency_names:
                parts.append(agency_names[event.agency_id])
        event.who = ", ".join(parts)  # type: ignore[attr-defined]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def break_glass_queue(*, user: Any, agency: Agency) -> dict[str, list[BreakGlassReview]]:
    """Emergency accesses to the agency's files: those awaiting the Caldicott guardian's
    review, oldest first, and the last few reviewed."""
    if Role.CALDICOTT_GUARDIAN not in roles_at(user, agency):
        raise PermissionDenied("Only the Caldicott guardian reviews emergency access.")
    reviews: QuerySet[BreakGlassReview] = BreakGlassReview.objects.filter(
        guardian_agency=agency
    ).select_related(
        "basis__person", "basis__recipient_agency", "basis__break_glass_user", "reviewed_by"
    )
    pending = list(reviews.filter(reviewed_at__isnull=True).order_by("alerted_at"))
    done = list(reviews.filter(reviewed_at__isnull=False).order_by("-reviewed_at")[:20])
    audit.record(
        Action.REPORT_VIEWED,
        actor=user,
        agency=agency,
        detail={
            "report": "break_glass_queue",
            "persons": sorted({str(r.basis.person_id) for r in pending + done}),
        },
    )
    return {"pending": pending, "reviewed": done}


def pending_review(*, user: Any, agency: Agency, review_id: Any) -> BreakGlassReview:
    if Role.CALDICOTT_GUARDIAN not in roles_at(user, agency):
        raise PermissionDenied("Only the Caldicott guardian reviews emergency access.")
    review = (
        BreakGlassReview.objects.filter(
            pk__in=[pk] if (pk := _int_or_none(review_id)) is not None else [],
            guardian_agency=agency,
        )
        .select_related("basis__person", "basis__recipient_agency", "basis__break_glass_user")
        .first()
    )
    if review is None:
        raise Http404("No such review.")
    return review
