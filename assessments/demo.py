"""Demo data for the assessments app (``manage.py seed_demo``), made through the services.

- a jointly written comprehensive assessment led by nina.nurse (hospital) with sections by
  nina.nurse, oscar.ot (community rehabilitation) and carol.cm (council), on the person's
  consent to share assessments and care plans with those agencies; signed off, with its joint
  assessment meeting, an authorised care plan and the letter sent to the person;
- a Barthel trend for that person over three assessments (two earlier contact assessments);
- assessments in every state: a draft and one in progress.

Idempotent: each assessment is known by its case file and episode, and nothing is made twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction

from assessments import services
from assessments.formdata import publish_first_form_and_risks
from assessments.models import Assessment, CarePlan, Section
from caretrust.directory.models import Agency
from caretrust.people.models import CaseFile, DataClass
from caretrust.people.selectors import visible_carer_links
from caretrust.people.validators import today_in_london
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, Purpose

JOINT = "Discharge from Calder ward after a fall (joint assessment)"
EARLIER = ("Rapid response visit after a fall at home", "Review by the rapid response team")
DRAFT = "Pre-discharge planning, ward 4"
IN_PROGRESS = "Community review after discharge"
SHARED = [DataClass.DEMOGRAPHICS, DataClass.ASSESSMENTS, DataClass.CARE_PLANS]

ANSWERS: dict[str, dict[str, Any]] = {
    "perspective": {
        "main_concern": "I want to get home to my garden and look after myself again.",
        "wants_to_stay_home": "yes",
    },
    "clinical_background": {"conditions": "Heart failure, osteoarthritis", "medicines_count": 7},
    "disease_prevention": {"flu_vaccine": "yes", "smoker": "no"},
    "personal_care": {"washing": "some_help", "dressing": "some_help", "falls_last_year": 3},
    "senses": {"sight": "yes", "hearing": "no"},
    "mental_health": {"mood": "no"},
    "relationships": {"lives_with": "Alone; her daughter visits daily", "carer_support": "yes"},
    "safety": {"feels_safe": "yes", "safeguarding_concern": "no"},
    "environment": {"housing": "house", "stairs_inside": "yes"},
}
NARRATIVE = {
    "perspective": "Keen to go home; worried about the stairs.",
    "personal_care": "Needs a perching stool and a rail by the bath.",
    "relationships": "Daughter helps with shopping most days.",
    "environment": "Steep stairs; bedroom upstairs. A stair rail would help.",
}
# Who writes each section of the joint assessment (the rest: nina).
AUTHORS = {
    "personal_care": ("oscar.ot", "calder-valley-community"),
    "environment": ("oscar.ot", "calder-valley-community"),
    "relationships": ("carol.cm", "calderbridge-council"),
    "safety": ("carol.cm", "calderbridge-council"),
}
BARTHEL_TREND = [  # (days ago, transfer, mobility, stairs): 11, 13, 15 of 20
    (120, 1, 1, 0),
    (60, 2, 2, 0),
    (7, 2, 2, 2),
]


def _barthel(transfer: int, mobility: int, stairs: int) -> dict[str, int]:
    return {
        "bowels": 2,
        "bladder": 2,
        "grooming": 1,
        "toilet": 1,
        "feeding": 2,
        "transfer": transfer,
        "mobility": mobility,
        "dressing": 1,
        "stairs": stairs,
        "bathing": 0,
    }


def _consent(case_file: CaseFile, recipient: Agency, by: Any) -> bool:
    """The person's consent to share the hospital's assessments with ``recipient``; True if
    the recipient may then see them (a refusal on record wins, and the person is skipped)."""
    visible = CaseFile.objects.visible_to(recipient, DataClass.ASSESSMENTS).filter(pk=case_file.pk)
    if not visible.exists():
        sharing.record_consent(
            person=case_file.person,
            holding_agency=case_file.agency,
            recipient_agency=recipient,
            data_classes=SHARED,
            purpose=Purpose.DIRECT_CARE,
            grantor=Grantor.PERSON,
            grantor_name=case_file.person.full_name,
            evidence=Evidence.VERBAL,
            by=by,
        )
    return visible.exists()


def _write_sign(section: Section, by: Any, agency: Agency) -> None:
    section.refresh_from_db()
    outcome = services.save_section(
        section_id=section.pk,
        answers=ANSWERS[section.domain.key],
        narrative=NARRATIVE.get(section.domain.key, ""),
        based_on_version=section.version,
        by=by,
        agency=agency,
    )
    services.sign_section(
        section_id=section.pk, by=by, agency=agency, based_on_version=outcome.section.version
    )


def _contact(case_file: CaseFile, episode: str, by: Any, agency: Agency) -> Assessment:
    a = services.start_assessment(
        case_file=case_file,
        depth="contact",
        reason="A fall at home",
        episode=episode,
        by=by,
        agency=agency,
    )
    for section in Section.objects.filter(assessment=a).select_related("domain"):
        if section.domain.required_for("contact"):
            if section.author_id is None:
                services.delegate_section(
                    section=section, author=by, author_agency=agency, by=by, agency=agency
                )
            _write_sign(section, by, agency)
    return a


def seed() -> dict[str, int]:
    publish_first_form_and_risks(apps)
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=["nina.nurse", "oscar.ot", "carol.cm"]
        )
    }
    agencies = {
        a.slug: a
        for a in Agency.objects.filter(
            slug__in=[
                "calderbridge-hospitals",
                "calder-valley-community",
                "calderbridge-council",
                "brightside-home-care",
            ]
        )
    }
    if len(users) < 3 or len(agencies) < 4:
        return {}  # the people app's demo (agencies, staff) comes first
    nina, hospital = users["nina.nurse"], agencies["calderbridge-hospitals"]
    made = {"assessments": 0, "care_plans": 0, "meetings": 0, "scales": 0}
    with transaction.atomic():
        files = list(
            CaseFile.objects.filter(agency=hospital, closed_on__isnull=True)
            .select_related("person", "agency")
            .order_by("person__nhs_number")
        )
        joint_file = next(
            (f for f in files if Assessment.objects.filter(case_file=f, episode=JOINT).exists()),
            None,
        )
        if joint_file is None:
            for f in files:
                if _consent(f, agencies["calderbridge-council"], nina) and _consent(
                    f, agencies["calder-valley-community"], nina
                ):
                    joint_file = f
                    break
        if joint_file is None:
            return made
        today = today_in_london()

        # Two earlier contact assessments, each with its Barthel: the start of the trend.
        for episode, (days, transfer, mobility, stairs) in zip(
            EARLIER, BARTHEL_TREND[:2], strict=True
        ):
            if Assessment.objects.filter(case_file=joint_file, episode=episode).exists():
                continue
            earlier = _contact(joint_file, episode, nina, hospital)
            services.record_scale(
                assessment=earlier,
                scale="barthel",
                items=_barthel(transfer, mobility, stairs),
                assessed_on=today - dt.timedelta(days=days),
                by=nina,
                agency=hospital,
            )
            services.sign_off_assessment(assessment=earlier, by=nina, agency=hospital)
            made["assessments"] += 1
            made["scales"] += 1

        if not Assessment.objects.filter(case_file=joint_file, episode=JOINT).exists():
            for kind, n in _joint(joint_file, users, agencies, today).items():
                made[kind] += n

        # A draft, and one in progress, for other people the hospital holds files on.
        others = [f for f in files if f.pk != joint_file.pk][:2]
        for f, episode in zip(others, (DRAFT, IN_PROGRESS), strict=False):
            if Assessment.objects.filter(case_file=f, episode=episode).exists():
                continue
            a = services.start_assessment(
                case_file=f,
                depth="overview",
                reason="Planning for going home",
                episode=episode,
                by=nina,
                agency=hospital,
            )
            made["assessments"] += 1
            if episode == IN_PROGRESS:
                perspective = Section.objects.get(assessment=a, domain__key="perspective")
                services.save_section(
                    section_id=perspective.pk,
                    answers=ANSWERS["perspective"],
                    narrative="Wants to be home before the weekend.",
                    based_on_version=1,
                    by=nina,
                    agency=hospital,
                )
    return {k: v for k, v in made.items() if v}


def _joint(
    case_file: CaseFile, users: dict[str, Any], agencies: dict[str, Agency], today: dt.date
) -> dict[str, int]:
    nina, hospital = users["nina.nurse"], agencies["calderbridge-hospitals"]
    a = services.start_assessment(
        case_file=case_file,
        depth="comprehensive",
        reason="Fell at home; admitted with a fractured wrist",
        episode=JOINT,
        by=nina,
        agency=hospital,
    )
    for section in Section.objects.filter(assessment=a).select_related("domain"):
        username, slug = AUTHORS.get(section.domain.key, ("nina.nurse", hospital.slug))
        author, agency = users[username], agencies[slug]
        if section.author_id is None:
            services.delegate_section(
                section=section, author=author, author_agency=agency, by=nina, agency=hospital
            )
        _write_sign(section, author, agency)
    days, transfer, mobility, stairs = BARTHEL_TREND[2]
    services.record_scale(
        assessment=a,
        scale="barthel",
        items=_barthel(transfer, mobility, stairs),
        assessed_on=today - dt.timedelta(days=days),
        by=users["oscar.ot"],
        agency=agencies["calder-valley-community"],
    )
    services.record_scale(
        assessment=a,
        scale="amts",
        items={
            k: 1
            for k in (
                "age",
                "time",
                "address_recall",
                "year",
                "place",
                "recognise_two",
                "date_of_birth",
                "war_year",
                "monarch",
                "count_backwards",
            )
        }
        | {"year": 0},
        assessed_on=today - dt.timedelta(days=days),
        by=nina,
        agency=hospital,
    )
    services.record_risk(
        assessment=a,
        risk_type="falls",
        likelihood=4,
        impact=3,
        note="Three falls this year; stairs at home.",
        by=nina,
        agency=hospital,
    )
    services.sign_off_assessment(assessment=a, by=nina, agency=hospital)

    links = visible_carer_links(agency=hospital, user=nina, person_id=case_file.person_id)
    carers = [{"role": "carer", "carer_link": str(link.pk)} for link in links[:1]]
    services.record_meeting(
        assessment=a,
        held_on=today - dt.timedelta(days=2),
        place="ward",
        place_detail="Calder ward day room",
        attendees=[
            {"role": "nurse", "name": nina.get_full_name()},
            {"role": "care_manager", "name": users["carol.cm"].get_full_name()},
            {"role": "occupational_therapist", "name": users["oscar.ot"].get_full_name()},
            {"role": "person"},
            *carers,
        ],
        wishes="I want to go home to my own house and my garden, and not be a burden.",
        views="Safe to go home with a rail, a perching stool and help each morning.",
        decisions="Home on Friday with reablement and a stair rail.",
        from_impairment_or_illness=True,
        outcomes_not_achieved=["hygiene", "clothing", "home_safety"],
        significant_impact_on_wellbeing=True,
        eligibility_confirmed=True,
        carer_assessment_requested=bool(carers),
        agreed_package="Reablement each morning for six weeks; equipment; district nurse.",
        by=nina,
        agency=hospital,
    )
    start = (today + dt.timedelta(days=3)).isoformat()
    plan = services.save_care_plan(
        assessment=a,
        goals="To get washed and dressed on my own, and to walk to the shop by the spring.",
        review_on=today + dt.timedelta(days=42),
        services=[
            {
                "kind": "reablement",
                "funding": "social_care",
                "provider_agency": agencies["brightside-home-care"],
                "hours_per_week": "7",
                "cost_per_hour_pence": 2150,
                "start_date": start,
                "review_date": (today + dt.timedelta(days=21)).isoformat(),
            },
            {
                "kind": "equipment",
                "funding": "social_care",
                "provider_agency": agencies["calder-valley-community"],
                "start_date": start,
            },
            {
                "kind": "district_nursing",
                "funding": "nhs",
                "provider_agency": agencies["calder-valley-community"],
                "hours_per_week": "1",
                "cost_per_hour_pence": 0,
                "start_date": start,
            },
        ],
        by=nina,
        agency=hospital,
    )
    services.authorise_care_plan(care_plan=plan, by=nina, agency=hospital)
    services.record_letter_sent(
        care_plan=CarePlan.objects.get(pk=plan.pk), by=nina, agency=hospital, form="pdf"
    )
    return {"assessments": 1, "care_plans": 1, "meetings": 1, "scales": 2}
