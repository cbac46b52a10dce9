"""A care manager's first minutes, in a real browser: sign in, see the caseload, find a
person by NHS number and open their record; and find nobody the council has no file on.
Every page on the way is checked with axe-core."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, Response, expect

from caretrust.people.models import Person
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e

COUNCIL = "Calderbridge Council Adult Social Care"


def test_care_manager_finds_a_person_from_her_caseload(
    live_server, transactional_db, page: Page
) -> None:
    call_command("seed_demo", verbosity=0)
    outsider = (
        Person.objects.exclude(case_files__agency__slug="calderbridge-council")
        .order_by("nhs_number")
        .first()
    )
    assert outsider is not None, "the demo data should have people the council has no file on"

    broken: list[str] = []
    stylesheets: dict[str, int] = {}

    def note(response: Response) -> None:
        if response.status >= 400:
            broken.append(f"{response.status} {response.url}")
        if response.request.resource_type == "stylesheet":
            stylesheets[response.url.rsplit("/", 1)[-1]] = response.status

    page.on("response", note)

    # Signed out, the home page sends her to sign in.
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to caretrust")
    assert_accessible(page)

    page.get_by_label("Username").fill("carol.cm")
    page.get_by_label("Password").fill("caretrust-demo")
    page.get_by_role("button", name="Sign in").click()

    # Her caseload: the files she leads at the council, the only agency she works for.
    expect(page).to_have_url(re.compile(r"/caseload/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your caseload")
    expect(page.get_by_test_id("active-agency")).to_have_text(f"Acting for {COUNCIL}")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() > 1
    assert_accessible(page)

    chosen = rows.nth(2)
    name = chosen.locator("td").nth(0).inner_text().strip()
    nhs_number = chosen.locator("td").nth(1).inner_text().strip()
    assert re.fullmatch(r"\d{3} \d{3} \d{4}", nhs_number), nhs_number

    # Find her by NHS number, typed as people read it out: with spaces.
    page.get_by_role("link", name="Find a person").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a person")
    assert_accessible(page)

    page.get_by_label("NHS number").fill(nhs_number)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 person found")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("table").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("dl")).to_contain_text(nhs_number)
    assert_accessible(page)

    # Someone the council has no case file on cannot be found, even by exact NHS number.
    page.get_by_role("link", name="Find a person").first.click()
    page.get_by_label("NHS number").fill(outsider.nhs_number_display)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="0 people found")).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text(outsider.full_name)
    assert_accessible(page)

    # The NHS.UK stylesheet (from node_modules, via STATICFILES_DIRS) and ours were served,
    # and nothing else the pages asked for went missing.
    assert stylesheets == {"nhsuk-frontend.min.css": 200, "caretrust.css": 200}, stylesheets
    assert not broken, broken
