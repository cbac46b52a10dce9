"""Outcomes per service, the figures inspectors ask for: referrals in by source, accepted,
response within target, median time to first contact, episode length, outcome mix,
admissions avoided, and delayed discharge days by reason and by agency.

Counts and durations only, over the agency's own services (and the stays it may see); each
view and export is audited. Barthel before and after is left out: it lives in the
assessments app, which this app may not import, and no event carries it yet.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q

from caretrust.audit import services as audit
from caretrust.directory.models import Agency
from caretrust.people.models import DataClass, case_file_visibility
from caretrust.people.validators import today_in_london
from referrals.discharge import delay_days
from referrals.models import (
    Action,
    HospitalStay,
    Outcome,
    Referral,
    ServiceKind,
    Source,
    Status,
)

MEASURES = {
    "sources": "Referrals in by source",
    "accepted": "Accepted, declined and redirected",
    "within-target": "Response within target",
    "first-contact": "Median time to first contact",
    "episode-length": "Episode length",
    "outcome-mix": "Outcome mix",
    "admissions-avoided": "Admissions avoided",
    "delayed-days": "Delayed discharge days",
}
HOME = {Outcome.HOME_INDEPENDENT, Outcome.HOME_WITH_PACKAGE}


@dataclass
class Report:
    measure: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    # What the chart draws: (label, value) per bar, from the table's first and chart columns.
    bars: list[tuple[str, float]] = field(default_factory=list)
    unit: str = ""

    @property
    def chart(self) -> list[tuple[str, float, int, int]]:
        """Each bar as (label, value, width in px of 360, top in px): rows 24 px apart."""
        top = max((v for _, v in self.bars), default=0) or 1
        return [(label, v, round(360 * v / top), 24 * i) for i, (label, v) in enumerate(self.bars)]

    @property
    def chart_height(self) -> int:
        return 24 * len(self.bars) + 4


def _own(agency: Agency, user: Any) -> Any:
    return Referral.objects.visible_to(agency, user).filter(agency=agency)


def report(*, user: Any, agency: Agency, measure: str) -> Report:
    if measure not in MEASURES:
        measure = "sources"
    build = {
        "sources": _sources,
        "accepted": _accepted,
        "within-target": _within_target,
        "first-contact": _first_contact,
        "episode-length": _episode_length,
        "outcome-mix": _outcome_mix,
        "admissions-avoided": _admissions_avoided,
        "delayed-days": _delayed_days,
    }[measure]
    result = build(agency, user)
    audit.record(Action.OUTCOMES_VIEWED, actor=user, agency=agency, detail={"measure": measure})
    return result


def _sources(agency: Agency, user: Any) -> Report:
    counts = _own(agency, user).values("service__name", "source").annotate(n=Count("pk"))
    table: dict[str, dict[str, int]] = {}
    for c in counts:
        table.setdefault(c["service__name"], {})[c["source"]] = c["n"]
    columns = ["Service", *[str(label) for label in Source.labels], "Total"]
    rows = [
        [name, *[by.get(s, 0) for s in Source.values], sum(by.values())]
        for name, by in sorted(table.items())
    ]
    totals = {s: sum(by.get(s, 0) for by in table.values()) for s in Source.values}
    bars = [(str(Source(s).label), float(n)) for s, n in totals.items()]
    return Report("sources", MEASURES["sources"], columns, rows, bars, "referrals")


def _accepted(agency: Agency, user: Any) -> Report:
    accepted = [Status.ACCEPTED, Status.EPISODE_ACTIVE, Status.EPISODE_ENDED]
    counts = (
        _own(agency, user)
        .values("service__name")
        .annotate(
            total=Count("pk"),
            accepted=Count("pk", filter=Q(status__in=accepted)),
            declined=Count("pk", filter=Q(status=Status.DECLINED)),
            redirected=Count("pk", filter=Q(status=Status.REDIRECTED)),
        )
        .order_by("service__name")
    )
    rows = [
        [c["service__name"], c["total"], c["accepted"], c["declined"], c["redirected"]]
        for c in counts
    ]
    bars = [(r[0], float(r[2])) for r in rows]
    return Report(
        "accepted",
        MEASURES["accepted"],
        ["Service", "Received", "Accepted", "Declined", "Redirected"],
        rows,
        bars,
        "accepted",
    )


def _within_target(agency: Agency, user: Any) -> Report:
    counts = (
        _own(agency, user)
        .filter(responded_at__isnull=False)
        .values("service__name")
        .annotate(
            answered=Count("pk"),
            in_time=Count("pk", filter=Q(responded_at__lte=F("due_at"))),
        )
        .order_by("service__name")
    )
    rows = [
        [c["service__name"], c["answered"], c["in_time"], round(100 * c["in_time"] / c["answered"])]
        for c in counts
    ]
    bars = [(r[0], float(r[3])) for r in rows]
    return Report(
        "within-target",
        MEASURES["within-target"],
        ["Service", "Answered", "Within target", "Share within target (%)"],
        rows,
        bars,
        "%",
    )


def _median_by_service(pairs: list[tuple[str, float]]) -> list[list[Any]]:
    by: dict[str, list[float]] = {}
    for name, value in pairs:
        by.setdefault(name, []).append(value)
    return [[name, len(v), round(statistics.median(v), 1)] for name, v in sorted(by.items())]


def _first_contact(agency: Agency, user: Any) -> Report:
    pairs = [
        (name, (contact - received).total_seconds() / 3600)
        for name, received, contact in _own(agency, user)
        .filter(first_contact_at__isnull=False)
        .values_list("service__name", "received_at", "first_contact_at")
    ]
    rows = _median_by_service(pairs)
    return Report(
        "first-contact",
        MEASURES["first-contact"],
        ["Service", "Referrals contacted", "Median hours to first contact"],
        rows,
        [(r[0], float(r[2])) for r in rows],
        "hours",
    )


def _episode_length(agency: Agency, user: Any) -> Report:
    pairs = [
        (name, float((end - start).days))
        for name, start, end in _own(agency, user)
        .filter(episode_ended_on__isnull=False, episode_started_on__isnull=False)
        .values_list("service__name", "episode_started_on", "episode_ended_on")
    ]
    rows = _median_by_service(pairs)
    return Report(
        "episode-length",
        MEASURES["episode-length"],
        ["Service", "Episodes ended", "Median length (days)"],
        rows,
        [(r[0], float(r[2])) for r in rows],
        "days",
    )


def _outcome_mix(agency: Agency, user: Any) -> Report:
    counts = (
        _own(agency, user)
        .filter(status=Status.EPISODE_ENDED)
        .values("service__name", "outcome")
        .annotate(n=Count("pk"))
    )
    table: dict[str, dict[str, int]] = {}
    for c in counts:
        table.setdefault(c["service__name"], {})[c["outcome"]] = c["n"]
    rows = [[name, *[by.get(o, 0) for o in Outcome.values]] for name, by in sorted(table.items())]
    totals = {o: sum(by.get(o, 0) for by in table.values()) for o in Outcome.values}
    return Report(
        "outcome-mix",
        MEASURES["outcome-mix"],
        ["Service", *[str(label) for label in Outcome.labels]],
        rows,
        [(str(Outcome(o).label), float(n)) for o, n in totals.items()],
        "episodes",
    )


def _admissions_avoided(agency: Agency, user: Any) -> Report:
    counts = (
        _own(agency, user)
        .filter(status=Status.EPISODE_ENDED, service__kind=ServiceKind.RAPID_RESPONSE)
        .values("service__name")
        .annotate(
            ended=Count("pk"),
            at_home=Count("pk", filter=Q(outcome__in=HOME)),
        )
        .order_by("service__name")
    )
    rows = [[c["service__name"], c["ended"], c["at_home"]] for c in counts]
    return Report(
        "admissions-avoided",
        MEASURES["admissions-avoided"],
        ["Service", "Rapid response episodes ended", "Ended at home (admission avoided)"],
        rows,
        [(r[0], float(r[2])) for r in rows],
        "people",
    )


def _delayed_days(agency: Agency, user: Any) -> Report:
    today = today_in_london()
    stays = (
        HospitalStay.objects.filter(
            case_file_visibility(agency, DataClass.REFERRALS, user, path="case_file"),
            discharge_ready_on__isnull=False,
        )
        .select_related("delay_reason", "council_agency")
        .only(
            "discharge_ready_on",
            "discharged_on",
            "delay_reason__label",
            "council_agency__name",
        )
    )
    by_reason: dict[tuple[str, str], int] = {}
    for stay in stays:
        days = delay_days(stay, today)
        if not days:
            continue
        key = (
            stay.delay_reason.label if stay.delay_reason else "No reason recorded",
            stay.council_agency.name if stay.council_agency else "No council named",
        )
        by_reason[key] = by_reason.get(key, 0) + days
    rows: list[list[Any]] = [
        [reason, council, days] for (reason, council), days in sorted(by_reason.items())
    ]
    per_reason: dict[str, int] = {}
    for (reason, _council), days in by_reason.items():
        per_reason[reason] = per_reason.get(reason, 0) + days
    return Report(
        "delayed-days",
        MEASURES["delayed-days"],
        ["Reason for delay", "Council", "Delayed days"],
        rows,
        [(r, float(d)) for r, d in sorted(per_reason.items(), key=lambda x: -x[1])],
        "days",
    )
