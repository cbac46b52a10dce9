"""Need to know, in a real browser: fiona.finance (finance officer and pool manager at the
council) opens a person's record and reads demographics and charges for care, but neither the
restricted note disclosing domestic abuse nor any clinical note, and the page says why;
carol.cm (care manager, same council) opens the same record and reads the notes. Both pages
are checked with axe-core."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from caretrust.people.models import CaseNote, DataClass
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e

ABUSE = "Disclosed a history of domestic abuse by a former partner"


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("caretrust-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_a_finance_officer_sees_less_of_a_record_than_a_care_manager(
    live_server, transactional_db, page: Page
) -> None:
    call_command("seed_demo", verbosity=0)
    note = (
        CaseNote.objects.filter(
            restricted=True,
            data_class=DataClass.CLINICAL_NOTES,
            case_file__agency__slug="calderbridge-council",
        )
        .select_related("case_file__person")
        .order_by("case_file__person__nhs_number")
        .first()
    )
    assert note is not None, "the demo should hold a restricted note in a council file"
    person = note.case_file.person
    url = f"{live_server.url}/people/{person.pk}/"

    _sign_in(page, live_server.url, "fiona.finance")
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(person.full_name)
    expect(page.get_by_text(person.nhs_number_display)).to_be_visible()
    why = page.locator("#need-to-know")
    expect(why).to_contain_text(
        "Your role does not give you access to assessments, care plans, referrals, clinical notes."
    )
    expect(why).to_contain_text("Your role does not give you access to notes marked restricted.")
    expect(page.get_by_role("heading", name="Charges for care")).to_be_visible()
    expect(page.get_by_role("heading", name="Assessments and scales")).to_have_count(0)
    body = page.content()
    assert ABUSE not in body
    assert "Clinical notes note" not in body
    assert_accessible(page)
    # The note's own address answers as if it did not exist.
    response = page.goto(f"{live_server.url}/notes/{note.pk}/")
    assert response is not None and response.status == 404

    page.context.clear_cookies()
    _sign_in(page, live_server.url, "carol.cm")
    page.goto(url)
    expect(page.get_by_text(ABUSE)).to_be_visible()
    expect(page.locator("#need-to-know")).to_have_count(0)
    assert_accessible(page)
