"""Hospital discharge to assess: admissions, the discharge ready date reviewed at each board
round, the pathway (0-3), reasons for delay, discharge, and, where an area's local agreement
switches it on, the repealed Community Care (Delayed Discharges etc.) Act 2003 regime of
notices and a per-day reimbursement.

Every write is by the hospital that holds the case file, atomic and audited, and announced
through the outbox in the same transaction. The charge reaches the pooled budget only as the
``discharge.delay_charged`` event (``caretrust/events/contracts.py``): this app never imports
budgets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from caretrust.audit import services as audit
from caretrust.directory.models import Agency, AgencyKind
from caretrust.events.services import emit
from caretrust.people import services as people
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import today_in_london
from referrals import clocks, events
from referrals.models import (
    Action,
    DelayReason,
    DischargeAgreement,
    HospitalStay,
    Pathway,
    ReadyDateReview,
)
from referrals.services import TRIAGE_ROLES, StaleVersion, require_role

# Delayed Discharges (England) Regulations 2003, reg. 7: the minimum interval after an
# assessment notice is 2 days, not counting Sundays or bank holidays.
MINIMUM_INTERVAL_DAYS = 2
# Regulation 9: £100 a day, or £120 in London and the South East.
RATE_PENCE = 10_000
RATE_LONDON_SOUTH_EAST_PENCE = 12_000


def delay_days(stay: HospitalStay, today: dt.date | None = None) -> int:
    """Days from the discharge ready date to discharge (or to today, while still in
    hospital): a person ready on Monday and discharged on Wednesday was delayed 2 days."""
    if stay.discharge_ready_on is None:
        return 0
    end = stay.discharged_on or today or today_in_london()
    return max(0, (end - stay.discharge_ready_on).days)


def _require_holder(stay_or_file: Any, agency: Agency, by: Any, doing: str) -> None:
    case_file = getattr(stay_or_file, "case_file", stay_or_file)
    if case_file.agency_id != agency.pk:
        raise PermissionDenied(f"Only the hospital that holds this stay can {doing}.")
    require_role(by, agency, TRIAGE_ROLES, doing)


def _check_dates(admitted_on: dt.date, ready_on: dt.date | None) -> None:
    today = today_in_london()
    if admitted_on > today:
        raise ValidationError({"admitted_on": "The admission date cannot be in the future."})
    if ready_on is not None and ready_on < admitted_on:
        raise ValidationError(
            {
                "discharge_ready_on": "The discharge ready date cannot be before the admission "
                f"date ({admitted_on:%d %B %Y})."
            }
        )


def record_admission(
    *,
    agency: Agency,
    by: Any,
    person: Person,
    ward: str,
    admitted_on: dt.date,
    council_agency: Agency | None = None,
    pathway: int | None = None,
    discharge_ready_on: dt.date | None = None,
) -> HospitalStay:
    """Record an admission on the hospital's own case file (opened if it has none): discharge
    planning starts at admission."""
    if agency.kind not in (AgencyKind.ACUTE_TRUST, AgencyKind.CARE_TRUST):
        raise PermissionDenied("Only a hospital trust records admissions.")
    require_role(by, agency, TRIAGE_ROLES, "record admissions")
    if not ward.strip():
        raise ValidationError({"ward": "Name the ward."})
    _check_dates(admitted_on, discharge_ready_on)
    _check_pathway(pathway)
    if council_agency is not None and council_agency.kind not in (
        AgencyKind.COUNCIL_ASC,
        AgencyKind.CARE_TRUST,
    ):
        raise ValidationError({"council_agency": "Choose the council's adult social care."})
    with transaction.atomic():
        case_file = CaseFile.objects.filter(person=person, agency=agency).first()
        if case_file is None:
            case_file = people.open_case_file(person=person, agency=agency, lead_worker=by, by=by)
        stay = HospitalStay.objects.create(
            case_file=case_file,
            ward=ward.strip(),
            admitted_on=admitted_on,
            discharge_ready_on=discharge_ready_on,
            pathway=pathway,
            council_agency=council_agency,
        )
        if discharge_ready_on is not None:
            ReadyDateReview.objects.create(
                stay=stay, discharge_ready_on=discharge_ready_on, note="at admission", by=by
            )
        audit.record(
            Action.DISCHARGE_RECORDED,
            actor=by,
            agency=agency,
            obj=stay,
            person_id=person.pk,
            detail={"ward": stay.ward, "admitted_on": admitted_on.isoformat()},
        )
        events.announce_stay(events.ADMITTED, stay, delay_days=delay_days(stay))
    return stay


def _check_pathway(pathway: Any) -> None:
    if pathway is not None and pathway not in Pathway.values:
        raise ValidationError({"pathway": "The pathway is 0, 1, 2 or 3."})


def _lock(stay: HospitalStay, expected_version: int | None) -> HospitalStay:
    locked = (
        HospitalStay.objects.select_for_update(of=("self",))
        .select_related("case_file", "delay_reason")
        .get(pk=stay.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion()
    return locked


def review_ready_date(
    *,
    stay: HospitalStay,
    agency: Agency,
    by: Any,
    discharge_ready_on: dt.date | None,
    note: str = "",
    expected_version: int | None = None,
) -> HospitalStay:
    """The board round's review of the discharge ready date (the day the person no longer
    meets the criteria to reside): every review is kept, the stay shows the latest."""
    _require_holder(stay, agency, by, "review the discharge ready date")
    with transaction.atomic():
        locked = _lock(stay, expected_version)
        if locked.discharged_on is not None:
            raise ValidationError("This person has been discharged already.")
        _check_dates(locked.admitted_on, discharge_ready_on)
        if discharge_ready_on is not None and discharge_ready_on > today_in_london() + dt.timedelta(
            days=60
        ):
            raise ValidationError(
                {"discharge_ready_on": "Give the expected date within the next 60 days."}
            )
        locked.discharge_ready_on = discharge_ready_on
        locked.version = F("version") + 1
        locked.save(update_fields=["discharge_ready_on", "version"])
        locked.refresh_from_db()
        ReadyDateReview.objects.create(
            stay=locked, discharge_ready_on=discharge_ready_on, note=note[:300], by=by
        )
        audit.record(
            Action.DISCHARGE_UPDATED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=locked.case_file.person_id,
            detail={
                "discharge_ready_on": discharge_ready_on.isoformat() if discharge_ready_on else None
            },
        )
        events.announce_stay(events.DISCHARGE_READY, locked, delay_days=delay_days(locked))
    return locked


def update_stay(
    *,
    stay: HospitalStay,
    agency: Agency,
    by: Any,
    expected_version: int | None = None,
    **changes: Any,
) -> HospitalStay:
    """Change the ward, pathway (0-3), reason for delay (a code of the vocabulary) or the
    council that arranges care after discharge."""
    _require_holder(stay, agency, by, "update the stay")
    allowed = {"ward", "pathway", "delay_reason", "council_agency"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    if "pathway" in changes:
        _check_pathway(changes["pathway"])
    if "delay_reason" in changes and changes["delay_reason"] is not None:
        code = changes["delay_reason"]
        reason = (
            code
            if isinstance(code, DelayReason)
            else DelayReason.objects.filter(code=code, active=True).first()
        )
        if reason is None:
            raise ValidationError(
                {"delay_reason": f"Unknown reason for delay {code!r}: choose one from the list."}
            )
        changes["delay_reason"] = reason
    if "ward" in changes and not str(changes["ward"]).strip():
        raise ValidationError({"ward": "Name the ward."})
    with transaction.atomic():
        locked = _lock(stay, expected_version)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.version += 1
        locked.save()
        audit.record(
            Action.DISCHARGE_UPDATED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=locked.case_file.person_id,
            detail={"fields": sorted(changes)},
        )
        events.announce_stay(events.DISCHARGE_READY, locked, delay_days=delay_days(locked))
    return locked


def record_discharge(
    *,
    stay: HospitalStay,
    agency: Agency,
    by: Any,
    discharged_on: dt.date,
    early_reason: str = "",
    expected_version: int | None = None,
) -> HospitalStay:
    """The person left hospital. A discharge before the discharge ready date (or with none
    set) needs a reason; the delay days are fixed from here."""
    _require_holder(stay, agency, by, "record the discharge")
    if discharged_on > today_in_london():
        raise ValidationError({"discharged_on": "The discharge date cannot be in the future."})
    with transaction.atomic():
        locked = _lock(stay, expected_version)
        if locked.discharged_on is not None:
            raise ValidationError("This person has been discharged already.")
        if discharged_on < locked.admitted_on:
            raise ValidationError(
                {"discharged_on": "The discharge date cannot be before the admission date."}
            )
        early = locked.discharge_ready_on is None or discharged_on < locked.discharge_ready_on
        if early and len(early_reason.strip()) < 3:
            raise ValidationError(
                {
                    "early_reason": "This is before the discharge ready date (or none is set): "
                    "say why the person is discharged now."
                }
            )
        locked.discharged_on = discharged_on
        locked.early_discharge_reason = early_reason.strip() if early else ""
        locked.version += 1
        locked.save()
        audit.record(
            Action.DISCHARGE_UPDATED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=locked.case_file.person_id,
            detail={"discharged_on": discharged_on.isoformat(), "delay_days": delay_days(locked)},
        )
        events.announce_stay(events.DISCHARGED, locked, delay_days=delay_days(locked))
    return locked


# --- The 2003 Act regime, by local agreement --------------------------------------------------


def agreement_for(stay: HospitalStay) -> DischargeAgreement | None:
    if stay.council_agency_id is None:
        return None
    return DischargeAgreement.objects.filter(
        hospital_agency_id=stay.case_file.agency_id,
        council_agency_id=stay.council_agency_id,
        enabled=True,
    ).first()


def give_notice(
    *,
    stay: HospitalStay,
    agency: Agency,
    by: Any,
    kind: str,
    given_on: dt.date | None = None,
    proposed_discharge_on: dt.date | None = None,
) -> HospitalStay:
    """The hospital's notice to the council under the area's agreement: the assessment notice
    (2003 Act s.2: the person is likely to need care on discharge) or the discharge notice
    (s.5: the day it proposes to discharge them)."""
    _require_holder(stay, agency, by, "give discharge notices")
    if kind not in ("assessment", "discharge"):
        raise ValidationError({"kind": "The notice is an assessment or a discharge notice."})
    day = given_on or today_in_london()
    with transaction.atomic():
        locked = _lock(stay, None)
        if agreement_for(locked) is None:
            raise ValidationError(
                "No local agreement runs the 2003 Act regime between this hospital and the "
                "council for this stay."
            )
        if kind == "assessment":
            locked.assessment_notice_on = day
        else:
            if locked.assessment_notice_on is None:
                raise ValidationError("Give the assessment notice before the discharge notice.")
            if proposed_discharge_on is None or proposed_discharge_on < day:
                raise ValidationError(
                    {"proposed_discharge_on": "Give the proposed discharge day, on or after today."}
                )
            locked.discharge_notice_on = day
            locked.proposed_discharge_on = proposed_discharge_on
        locked.version += 1
        locked.save()
        audit.record(
            Action.DISCHARGE_NOTICE,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=locked.case_file.person_id,
            detail={"kind": kind, "given_on": day.isoformat()},
        )
    return locked


def relevant_day(stay: HospitalStay) -> dt.date | None:
    """The first day the council is liable for (2003 Act s.6): the later of the day after the
    minimum interval following the assessment notice (2 days, not counting Sundays or bank
    holidays) and the day after the proposed discharge day."""
    if stay.assessment_notice_on is None or stay.proposed_discharge_on is None:
        return None
    day = stay.assessment_notice_on
    counted = 0
    while counted < MINIMUM_INTERVAL_DAYS:
        day += dt.timedelta(days=1)
        if day.weekday() != 6 and day not in clocks._england_holidays(day.year):
            counted += 1
    return max(day + dt.timedelta(days=1), stay.proposed_discharge_on + dt.timedelta(days=1))


def charge_delays(*, today: dt.date | None = None) -> int:
    """Charge each stay under an agreement for the days of delay since it was last charged,
    up to yesterday (or the day before discharge), while its reason for delay is one the
    council resolves. Each run of days is one ``discharge.delay_charged`` event; the stay's
    ``charged_through`` moves in the same transaction, so a day is never charged twice."""
    day = today or today_in_london()
    candidates = HospitalStay.objects.filter(
        council_agency__isnull=False,
        assessment_notice_on__isnull=False,
        proposed_discharge_on__isnull=False,
        delay_reason__social_care_delay=True,
    ).values_list("pk", flat=True)
    charged = 0
    for pk in list(candidates):
        with transaction.atomic():
            stay = (
                HospitalStay.objects.select_for_update(of=("self",))
                .select_related("case_file")
                .get(pk=pk)
            )
            agreement = agreement_for(stay)
            start = relevant_day(stay)
            if agreement is None or start is None:
                continue
            if stay.charged_through is not None:
                start = max(start, stay.charged_through + dt.timedelta(days=1))
            last = (stay.discharged_on or day) - dt.timedelta(days=1)
            if last < start:
                continue
            days = (last - start).days + 1
            amount = days * agreement.rate_pence
            emit(
                events.DELAY_CHARGED,
                aggregate_type="hospital_discharge",
                aggregate_id=stay.pk,
                payload={
                    "discharge_id": str(stay.pk),
                    "person_id": str(stay.case_file.person_id),
                    "council_agency_id": agreement.council_agency_id,
                    "hospital_agency_id": agreement.hospital_agency_id,
                    "date_from": start.isoformat(),
                    "date_to": last.isoformat(),
                    "days": days,
                    "rate_pence": agreement.rate_pence,
                    "amount_pence": amount,
                },
            )
            stay.charged_through = last
            stay.save(update_fields=["charged_through"])
            audit.record(
                Action.DISCHARGE_CHARGED,
                agency=stay.case_file.agency,
                obj=stay,
                person_id=stay.case_file.person_id,
                detail={"days": days, "amount_pence": amount, "through": last.isoformat()},
            )
            charged += 1
    return charged


def default_rate(*, london_or_south_east: bool) -> int:
    return RATE_LONDON_SOUTH_EAST_PENCE if london_or_south_east else RATE_PENCE
