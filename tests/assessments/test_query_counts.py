"""The assessment page's query count does not grow with its sections, contributors or the
versions its sections have been through (nor with scales, risks, addenda or plans)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import selectors, services
from assessments.models import Section
from tests.assessments.conftest import ANSWERS, complete, consent_to_assessments, section, write
from tests.assessments.factories import AMTS
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory

HOME_CARE = {
    "kind": "home_care",
    "funding": "social_care",
    "hours_per_week": "5",
    "cost_per_hour_pence": 2000,
    "start_date": "2026-12-07",
}


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _full(hospital, council, nina, carol, *, authors, versions, records):
    """A signed-off assessment with every kind of record, ``records`` of each of the
    repeatable ones, sections by ``authors`` and ``versions`` saves of each of theirs."""
    case_file = CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())
    consent_to_assessments(case_file.person, holder=hospital, recipient=council, by=nina)
    a = services.start_assessment(
        case_file=case_file,
        depth="comprehensive",
        reason="R",
        episode="E",
        by=nina,
        agency=hospital,
    )
    keys = ["relationships", "environment", "safety", "senses"]
    for key, (author, agency) in zip(keys, authors, strict=False):
        sec = services.delegate_section(
            section=section(a, key), author=author, author_agency=agency, by=nina, agency=hospital
        )
        for n in range(versions):
            write(sec, author, agency, {**ANSWERS[key]}, narrative=f"version {n}")
        sec.refresh_from_db()
        services.sign_section(
            section_id=sec.pk, by=author, agency=agency, based_on_version=sec.version
        )
    for _ in range(records):
        services.record_scale(
            assessment=a,
            scale="amts",
            items=AMTS,
            assessed_on=dt.date(2026, 11, 30),
            by=nina,
            agency=hospital,
        )
        services.record_risk(
            assessment=a,
            risk_type="falls",
            likelihood=3,
            impact=3,
            note="",
            by=nina,
            agency=hospital,
        )
    complete(a, nina, hospital)
    services.record_meeting(
        assessment=a,
        held_on=dt.date(2026, 12, 1),
        place="home",
        attendees=[
            {"role": "nurse", "name": "N"},
            {"role": "care_manager", "name": "C"},
            {"role": "physiotherapist", "name": "P"},
        ],
        wishes="Home.",
        from_impairment_or_illness=True,
        outcomes_not_achieved=[],
        significant_impact_on_wellbeing=False,
        eligibility_confirmed=True,
        by=nina,
        agency=hospital,
    )
    for _ in range(records):
        services.write_addendum(assessment=a, reason="r", text="t", by=nina, agency=hospital)
        services.save_care_plan(
            assessment=a,
            goals="g",
            review_on=dt.date.today() + dt.timedelta(days=9),
            services=[HOME_CARE] * records,
            by=nina,
            agency=hospital,
        )
    services.adopt_assessment(assessment=a, by=carol, agency=council)
    return a


def test_the_assessment_page_costs_the_same_with_more_sections_authors_and_versions(
    hospital, council, nina, carol, dual
):
    small = _full(hospital, council, nina, carol, authors=[], versions=0, records=1)
    big = _full(
        hospital,
        council,
        nina,
        carol,
        authors=[(carol, council), (dual, council), (dual, hospital), (nina, hospital)],
        versions=5,
        records=3,
    )
    assert Section.objects.filter(assessment=big).values("author").distinct().count() == 3
    client = signed_in(nina)
    client.get(reverse("assessment_detail", args=[small.pk]))  # warm the session
    assert _count(client, reverse("assessment_detail", args=[big.pk])) == _count(
        client, reverse("assessment_detail", args=[small.pk])
    )


def test_the_page_leaves_out_only_what_does_not_exist(hospital, council, nina, carol):
    full = _full(hospital, council, nina, carol, authors=[], versions=0, records=2)
    page = selectors.assessment_page(user=nina, agency=hospital, assessment_id=full.pk)
    assert (len(page.scales), len(page.risks), len(page.addenda), len(page.care_plans)) == (
        2,
        2,
        2,
        2,
    )
    assert page.meeting is not None and len(page.adoptions) == 1
    empty = services.start_assessment(
        case_file=full.case_file,
        depth="contact",
        reason="R",
        episode="E2",
        by=nina,
        agency=hospital,
    )
    bare = selectors.assessment_page(user=nina, agency=hospital, assessment_id=empty.pk)
    assert (bare.scales, bare.risks, bare.addenda, bare.care_plans, bare.adoptions) == (
        [],
        [],
        [],
        [],
        [],
    )
    assert bare.meeting is None and len(bare.sections) == 9
