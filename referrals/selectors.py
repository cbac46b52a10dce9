"""Every read of referrals and hospital stays. Each starts from the visibility rule (through
``Referral.objects.visible_to`` or ``case_file_visibility``) and is audited; what is not
visible answers 404 exactly like what does not exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action as CoreAction
from caretrust.directory.models import Agency, Team
from caretrust.people.models import DataClass, case_file_visibility
from caretrust.people.selectors import parse_uuid
from caretrust.people.validators import today_in_london
from referrals.clocks import end_of_day
from referrals.discharge import delay_days
from referrals.models import (
    OPEN_STATUSES,
    Action,
    HospitalStay,
    Notification,
    Referral,
    Service,
    Status,
)

PAGE_SIZE = 25
# How many days before an episode's end-by date it is flagged as ending soon.
EPISODE_WARNING_DAYS = 3


def _with_display(qs: QuerySet[Referral]) -> QuerySet[Referral]:
    return qs.select_related(
        "service__team__agency",
        "case_file__person",
        "claimed_by",
        "referring_agency",
        "routed_by_rule",
    )


def _denied(user: Any, agency: Agency, obj: str, raw: object, exists: bool) -> None:
    audit.record(
        CoreAction.ACCESS_DENIED,
        actor=user,
        agency=agency,
        detail={
            "object": obj,
            "id": str(raw)[:64],
            "reason": "not_permitted" if exists else "not_found",
        },
    )


def get_visible_referral(
    *, user: Any, agency: Agency, referral_id: object, purpose: str = "view", lock: bool = False
) -> Referral:
    """One referral the agency may see (receiving or referring), or Http404 alike for missing
    and hidden; the sight is audited."""
    pk = parse_uuid(referral_id)
    referral = (
        _with_display(Referral.objects.visible_to(agency, user)).filter(pk=pk).first()
        if pk
        else None
    )
    if referral is None:
        _denied(
            user,
            agency,
            "referral",
            referral_id,
            bool(pk and Referral.objects.filter(pk=pk).exists()),
        )
        raise Http404("No such referral.")
    audit.record(
        Action.REFERRAL_VIEWED,
        actor=user,
        agency=agency,
        obj=referral,
        person_id=referral.case_file.person_id if referral.case_file is not None else None,
        detail={"purpose": purpose},
    )
    return referral


def transitions_of(referral: Referral) -> list[Any]:
    return list(referral.transitions.select_related("by"))


def _listed(user: Any, agency: Agency, page: Page[Referral], **detail: Any) -> None:
    audit.record(
        Action.REFERRAL_LISTED,
        actor=user,
        agency=agency,
        detail={**detail, "page": page.number, "referrals": [str(r.pk) for r in page]},
    )


QUEUE_VIEWS = {
    "waiting": [Status.RECEIVED],
    "accepted": [Status.ACCEPTED],
    "active": [Status.EPISODE_ACTIVE],
}


def services_of(agency: Agency) -> QuerySet[Service]:
    """The agency's services (the catalogue is not people's data)."""
    return Service.objects.filter(team__agency=agency).select_related("team").order_by("name")


def team_queue(
    *,
    user: Any,
    agency: Agency,
    service: Service,
    view: str = "waiting",
    page: int | str | None = 1,
    page_size: int = PAGE_SIZE,
) -> Page[Referral]:
    """A service's queue: waiting (received, soonest due first), accepted or active episodes.
    A fixed number of queries whatever the page size; the ids shown are audited."""
    if service.team.agency_id != agency.pk:
        raise Http404("No such service.")
    statuses = QUEUE_VIEWS.get(view, QUEUE_VIEWS["waiting"])
    rows = _with_display(
        Referral.objects.visible_to(agency, user).filter(service=service, status__in=statuses)
    ).order_by("due_at", "id")
    result = Paginator(rows, page_size).get_page(page)
    _listed(user, agency, result, service=str(service.pk), view=view)
    return result


def sent_referrals(*, user: Any, agency: Agency, page: int | str | None = 1) -> Page[Referral]:
    """Referrals the agency made to others, with where they stand (the referrer sees the
    outcome)."""
    rows = _with_display(
        Referral.objects.visible_to(agency, user)
        .filter(referring_agency=agency)
        .exclude(agency=agency)
    ).order_by("-received_at", "id")
    result = Paginator(rows, PAGE_SIZE).get_page(page)
    _listed(user, agency, result, view="sent")
    return result


def person_referrals(*, user: Any, agency: Agency, person_id: Any) -> list[Referral]:
    rows = list(
        _with_display(
            Referral.objects.visible_to(agency, user).filter(case_file__person_id=person_id)
        ).order_by("-received_at")[:50]
    )
    audit.record(
        Action.REFERRAL_LISTED,
        actor=user,
        agency=agency,
        person_id=person_id,
        detail={"view": "person", "referrals": [str(r.pk) for r in rows]},
    )
    return rows


@dataclass(frozen=True)
class EpisodeClock:
    days_used: int
    max_days: int | None
    days_left: int | None
    ending_soon: bool
    overrun: bool


def episode_clock(referral: Referral, today: dt.date | None = None) -> EpisodeClock | None:
    """An active episode against its service's maximum length, flagged in its last days."""
    if referral.episode_started_on is None:
        return None
    day = referral.episode_ended_on or today or today_in_london()
    used = (day - referral.episode_started_on).days
    if referral.episode_ends_by is None:
        return EpisodeClock(used, None, None, False, False)
    left = (referral.episode_ends_by - day).days
    return EpisodeClock(
        used,
        (referral.episode_ends_by - referral.episode_started_on).days,
        left,
        0 <= left <= EPISODE_WARNING_DAYS,
        left < 0,
    )


@dataclass(frozen=True)
class Dashboard:
    service: Service
    waiting: int
    due_today: int
    overdue: int
    answered: int
    answered_in_time: int
    active: int = 0  # episodes running: for a bed service, beds occupied

    @property
    def share_in_time(self) -> float | None:
        return self.answered_in_time / self.answered if self.answered else None


def team_dashboard(*, user: Any, agency: Agency, team: Team | None = None) -> list[Dashboard]:
    """Per service of the agency (or of one team): waiting, due by the end of today, overdue,
    and the share of the last 90 days' referrals answered within target. Counts only."""
    now = timezone.now()
    end_today = end_of_day(today_in_london())
    since = now - dt.timedelta(days=90)
    services = services_of(agency)
    if team is not None:
        services = services.filter(team=team)
    counts = (
        Referral.objects.visible_to(agency, user)
        .filter(service__in=services)
        .values("service_id")
        .annotate(
            waiting=Count("pk", filter=Q(status=Status.RECEIVED)),
            active=Count("pk", filter=Q(status=Status.EPISODE_ACTIVE)),
            due_today=Count(
                "pk", filter=Q(status=Status.RECEIVED, due_at__gt=now, due_at__lte=end_today)
            ),
            overdue=Count("pk", filter=Q(status=Status.RECEIVED, due_at__lte=now)),
            answered=Count("pk", filter=Q(responded_at__isnull=False, received_at__gte=since)),
            in_time=Count(
                "pk",
                filter=Q(
                    responded_at__isnull=False,
                    received_at__gte=since,
                    responded_at__lte=F("due_at"),
                ),
            ),
        )
    )
    by_service: dict[Any, dict[str, Any]] = {c["service_id"]: dict(c) for c in counts}
    audit.record(Action.REFERRAL_LISTED, actor=user, agency=agency, detail={"view": "dashboard"})
    out = []
    for s in services:
        c = by_service.get(s.pk, {})
        out.append(
            Dashboard(
                s,
                c.get("waiting", 0),
                c.get("due_today", 0),
                c.get("overdue", 0),
                c.get("answered", 0),
                c.get("in_time", 0),
                c.get("active", 0),
            )
        )
    return out


def notifications_for(user: Any) -> list[Notification]:
    return list(
        Notification.objects.filter(user=user)
        .select_related("referral")
        .order_by("-created_at")[:50]
    )


# --- Hospital discharge -----------------------------------------------------------------------


def _stays(agency: Agency, user: Any) -> QuerySet[HospitalStay]:
    return HospitalStay.objects.filter(
        case_file_visibility(agency, DataClass.REFERRALS, user, path="case_file")
    ).select_related("case_file__person", "case_file__agency", "delay_reason", "council_agency")


@dataclass(frozen=True)
class WorklistRow:
    stay: HospitalStay
    delay_days: int


def transfer_hub_worklist(
    *, user: Any, agency: Agency, today: dt.date | None = None, limit: int = 200
) -> list[WorklistRow]:
    """Everyone past their discharge ready date and still in hospital, longest delay first:
    the care transfer hub's worklist. The ids shown are audited."""
    day = today or today_in_london()
    stays = list(
        _stays(agency, user)
        .filter(discharged_on__isnull=True, discharge_ready_on__lt=day)
        .order_by("discharge_ready_on", "id")[:limit]
    )
    audit.record(
        Action.DISCHARGE_LISTED,
        actor=user,
        agency=agency,
        detail={"view": "worklist", "stays": [str(s.pk) for s in stays]},
    )
    return [WorklistRow(s, delay_days(s, day)) for s in stays]


def get_visible_stay(*, user: Any, agency: Agency, stay_id: object) -> HospitalStay:
    pk = parse_uuid(stay_id)
    stay = _stays(agency, user).filter(pk=pk).first() if pk else None
    if stay is None:
        _denied(
            user,
            agency,
            "hospital_stay",
            stay_id,
            bool(pk and HospitalStay.objects.filter(pk=pk).exists()),
        )
        raise Http404("No such hospital stay.")
    audit.record(
        Action.REFERRAL_VIEWED,
        actor=user,
        agency=agency,
        obj=stay,
        person_id=stay.case_file.person_id,
        detail={"purpose": "hospital_stay"},
    )
    return stay


def long_stay_counts(
    *, user: Any, agency: Agency, weeks: int = 8, today: dt.date | None = None
) -> list[tuple[dt.date, int, int]]:
    """For each of the last ``weeks`` weeks (ending on its Sunday): people in hospital that
    day who had been in for 14 days or more, and for 21 days or more. Counts only."""
    day = today or today_in_london()
    last_sunday = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    visible = _stays(agency, user)
    out = []
    for w in range(weeks - 1, -1, -1):
        end = last_sunday - dt.timedelta(weeks=w)
        in_hospital = visible.filter(Q(discharged_on__isnull=True) | Q(discharged_on__gt=end))
        counts = in_hospital.aggregate(
            over_14=Count("pk", filter=Q(admitted_on__lte=end - dt.timedelta(days=14))),
            over_21=Count("pk", filter=Q(admitted_on__lte=end - dt.timedelta(days=21))),
        )
        out.append((end, counts["over_14"], counts["over_21"]))
    return out


def open_referral_count(agency: Agency, user: Any) -> int:
    return Referral.objects.visible_to(agency, user).filter(status__in=OPEN_STATUSES).count()
