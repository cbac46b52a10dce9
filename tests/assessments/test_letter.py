"""The care plan copied to the person: plain language (Flesch reading ease of at least 60,
"plain English"), their name and their own goals first, no internal codes; printable HTML and
a PDF; sending it is recorded in the audit trail."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import textstat
from django.urls import reverse
from django.utils.html import strip_tags

from assessments import services
from assessments.models import AuditAction
from caretrust.audit.models import AuditEvent
from tests.assessments.conftest import complete
from tests.conftest import signed_in

READING_EASE_AT_LEAST = 60


@pytest.fixture
def offline_syllables(monkeypatch):
    """textstat counts English syllables from nltk's CMU dictionary, which it downloads on
    first use; this machine (and CI) is offline. Without it textstat falls back, word by word,
    to pyphen's hyphenation dictionary (shipped in the wheel): make it use that for every
    word, so the score is the same on every machine."""
    from textstat.backend.counts import _count_syllables

    monkeypatch.setattr(_count_syllables, "get_cmudict", lambda lang: None)
    _count_syllables.count_syllables.cache_clear()
    yield
    _count_syllables.count_syllables.cache_clear()


@pytest.fixture
def plan(assessment, hospital, nina):
    signed = complete(assessment, nina, hospital)
    draft = services.save_care_plan(
        assessment=signed,
        goals="I want to make my own breakfast and walk to the shop.",
        review_on=dt.date.today() + dt.timedelta(days=42),
        services=[
            {
                "kind": "home_care",
                "funding": "social_care",
                "hours_per_week": "7",
                "cost_per_hour_pence": 2150,
                "start_date": "2026-12-07",
            },
            {"kind": "district_nursing", "funding": "nhs", "start_date": "2026-12-07"},
        ],
        by=nina,
        agency=hospital,
    )
    return services.authorise_care_plan(care_plan=draft, by=nina, agency=hospital)


def _letter_text(client, plan) -> str:
    response = client.get(reverse("care_plan_letter", args=[plan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    article = re.search(r'<article class="ct-letter"[^>]*>(.*)</article>', html, re.S)
    assert article is not None
    return " ".join(strip_tags(article.group(1)).split())


def test_the_letter_reads_plainly(plan, nina, offline_syllables):
    text = _letter_text(signed_in(nina), plan)
    ease = textstat.flesch_reading_ease(text)
    assert ease >= READING_EASE_AT_LEAST, (ease, text)


def test_the_letter_opens_with_the_persons_name_then_their_goals(plan, nina):
    text = _letter_text(signed_in(nina), plan)
    person = plan.assessment.case_file.person
    assert text.startswith(f"Dear {person.given_name} {person.family_name},")
    assert text.index("make my own breakfast") < text.index("Home care")


def test_the_letter_has_no_internal_codes_or_jargon(plan, nina):
    text = _letter_text(signed_in(nina), plan)
    for code in (
        "social_care",
        "home_care",
        "nhs_number",
        str(plan.pk),
        "SAP",
        "pence",
        "Barthel",
        "service user",
        "patient",
        "client",
    ):
        assert code not in text


def test_the_pdf_is_a_pdf_of_the_letter(plan, nina):
    response = signed_in(nina).get(reverse("care_plan_pdf", args=[plan.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 2000


def test_sending_the_letter_is_recorded_in_the_audit(plan, nina, hospital):
    response = signed_in(nina).post(
        reverse("care_plan_letter_sent", args=[plan.pk]), {"form": "pdf"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.LETTER_SENT)
    assert (event.actor_id, event.agency_id) == (nina.pk, hospital.pk)
    assert event.person_id == plan.assessment.case_file.person_id
    assert event.detail["format"] == "pdf"
    plan.refresh_from_db()
    assert plan.letter_sent_at is not None


def test_an_outsider_cannot_read_the_letter(plan, oscar_client):
    assert oscar_client.get(reverse("care_plan_letter", args=[plan.pk])).status_code == 404
    assert oscar_client.get(reverse("care_plan_pdf", args=[plan.pk])).status_code == 404
