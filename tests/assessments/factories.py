"""Ready-made assessments for tests that need a world of them (the API matrices, the
schemathesis run): built through the services, as a real one would be."""

from __future__ import annotations

import datetime as dt
from typing import Any

from assessments import services
from assessments.models import Assessment, Section

AMTS = dict.fromkeys(
    [
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
    ],
    1,
)


def contact_assessment(case_file: Any, lead: Any, agency: Any, *, sign_off: bool) -> Assessment:
    """A contact assessment led by ``lead``: its two required sections written and signed,
    "senses" assigned to the lead and blank, an AMTS recorded; signed off if asked."""
    a = services.start_assessment(
        case_file=case_file, depth="contact", reason="R", episode="E", by=lead, agency=agency
    )
    answers = {
        "perspective": {"main_concern": "Home", "wants_to_stay_home": "yes"},
        "clinical_background": {"conditions": "Asthma"},
    }
    for key in ("perspective", "clinical_background", "senses"):
        sec = Section.objects.get(assessment=a, domain__key=key)
        if sec.author_id is None:
            sec = services.delegate_section(
                section=sec, author=lead, author_agency=agency, by=lead, agency=agency
            )
        if key == "senses":
            continue
        saved = services.save_section(
            section_id=sec.pk,
            answers=answers[key],
            narrative="n",
            based_on_version=sec.version,
            by=lead,
            agency=agency,
        )
        services.sign_section(
            section_id=sec.pk, by=lead, agency=agency, based_on_version=saved.section.version
        )
    services.record_scale(
        assessment=a,
        scale="amts",
        items=AMTS,
        assessed_on=dt.date(2026, 11, 30),
        by=lead,
        agency=agency,
    )
    if sign_off:
        services.sign_off_assessment(assessment=a, by=lead, agency=agency)
    return a


def meeting_plans_addendum(a: Assessment, lead: Any, agency: Any) -> dict[str, Any]:
    """A meeting, a draft and an authorised care plan and an addendum on signed-off ``a``."""
    meeting = services.record_meeting(
        assessment=a,
        held_on=dt.date(2026, 12, 1),
        place="home",
        attendees=[
            {"role": "nurse", "name": "N"},
            {"role": "care_manager", "name": "C"},
            {"role": "physiotherapist", "name": "P"},
        ],
        wishes="To stay at home.",
        from_impairment_or_illness=True,
        outcomes_not_achieved=["hygiene", "toilet"],
        significant_impact_on_wellbeing=True,
        eligibility_confirmed=True,
        by=lead,
        agency=agency,
    )
    plans = [
        services.save_care_plan(
            assessment=a,
            goals="Breakfast",
            review_on=dt.date.today() + dt.timedelta(days=30),
            services=[
                {
                    "kind": "home_care",
                    "funding": "social_care",
                    "hours_per_week": "5",
                    "cost_per_hour_pence": 2000,
                    "start_date": "2026-12-07",
                }
            ],
            by=lead,
            agency=agency,
        )
        for _ in range(2)
    ]
    services.authorise_care_plan(care_plan=plans[1], by=lead, agency=agency)
    addendum = services.write_addendum(assessment=a, reason="r", text="t", by=lead, agency=agency)
    return {"meeting": meeting, "draft": plans[0], "authorised": plans[1], "addendum": addendum}
