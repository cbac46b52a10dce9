"""The assessment page's query count does not grow with its sections, contributors or the
versions its sections have been through."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import services
from tests.assessments.conftest import ANSWERS, consent_to_assessments, section, write
from tests.conftest import signed_in


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_assessment_page_costs_the_same_with_more_sections_authors_and_versions(
    assessment, hospital, council, nina, carol, dual
):
    client = signed_in(nina)
    url = reverse("assessment_detail", args=[assessment.pk])
    client.get(url)  # warm the session and caches
    base = _count(client, url)

    consent_to_assessments(assessment.case_file.person, holder=hospital, recipient=council, by=nina)
    for key, author, agency in (
        ("relationships", carol, council),
        ("environment", dual, council),
        ("safety", nina, hospital),
        ("senses", nina, hospital),
    ):
        sec = services.delegate_section(
            section=section(assessment, key),
            author=author,
            author_agency=agency,
            by=nina,
            agency=hospital,
        )
        for n in range(5):  # five versions each
            write(sec, author, agency, {**ANSWERS[key]}, narrative=f"version {n}")
    write(section(assessment, "perspective"), nina, hospital)
    services.record_scale(
        assessment=assessment,
        scale="amts",
        items=dict.fromkeys(
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
        ),
        assessed_on=dt.date(2026, 11, 30),
        by=nina,
        agency=hospital,
    )
    services.record_risk(
        assessment=assessment,
        risk_type="falls",
        likelihood=3,
        impact=3,
        note="",
        by=nina,
        agency=hospital,
    )

    assert _count(client, url) == base
