"""Taking on a person known only to the hospital, in a real browser (issue 17, item 2):
carol.cm searches the NHS number and finds nobody, registers the person, and lands on their
page with the council's own new file, and nothing of the hospital's. Every page is checked
with axe-core."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from caretrust.directory.models import Agency
from caretrust.people.models import CaseFile, CaseNote, Person
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e

COUNCIL = "Calderbridge Council Adult Social Care"


def test_care_manager_takes_on_a_person_known_only_to_the_hospital(
    live_server, transactional_db, page: Page
) -> None:
    call_command("seed_demo", verbosity=0)
    council = Agency.objects.get(slug="calderbridge-council")
    hospital = Agency.objects.get(slug="calderbridge-hospitals")
    hidden = (
        Person.objects.filter(case_files__agency=hospital)
        .exclude(pk__in=Person.objects.visible_to(council).values("pk"))
        .order_by("nhs_number")
        .first()
    )
    assert hidden is not None, "the demo should have a hospital patient the council cannot see"
    hospital_file = CaseFile.objects.get(person=hidden, agency=hospital)
    hospital_note = CaseNote.objects.create(
        case_file=hospital_file,
        text="Admitted after a fall; discharge planning under way.",
        author=hospital_file.lead_worker,
    )

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("carol.cm")
    page.get_by_label("Password").fill("caretrust-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/caseload/$"))

    # The search says nothing about whether anyone holds the number.
    page.get_by_role("link", name="Find a person").first.click()
    page.get_by_label("NHS number").fill(hidden.nhs_number_display)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="0 people found")).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text(hidden.family_name)
    assert_accessible(page)

    # Registering the person is not a dead end: it takes them on.
    page.get_by_role("link", name="register a new person").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a person")
    assert_accessible(page)
    page.get_by_label("NHS number").fill(hidden.nhs_number_display)
    page.get_by_label("Given name").fill(hidden.given_name)
    page.get_by_label("Family name").fill(hidden.family_name)
    page.get_by_label("Date of birth").fill(hidden.date_of_birth.strftime("%d/%m/%Y"))
    page.get_by_label("Address line 1").fill(hidden.address_line_1)
    page.get_by_label("Town or city").fill(hidden.town)
    page.get_by_label("Postcode").fill(hidden.postcode)
    page.get_by_role("button", name="Register").click()

    # The person page: the council's own file, nothing of the hospital's.
    expect(page).to_have_url(re.compile(rf"/people/{hidden.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(hidden.full_name)
    main = page.get_by_role("main")
    expect(main).to_contain_text(COUNCIL)
    expect(main).not_to_contain_text(hospital.name)
    expect(main).not_to_contain_text(hospital_note.text[:60])
    expect(main).not_to_contain_text("already registered")
    assert_accessible(page)

    own = CaseFile.objects.get(person=hidden, agency=council)
    assert own.lead_worker.username == "carol.cm"
    assert Person.objects.filter(nhs_number=hidden.nhs_number).count() == 1

    # And from now on the council finds the person it has taken on.
    page.get_by_role("link", name="Find a person").first.click()
    page.get_by_label("NHS number").fill(hidden.nhs_number_display)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 person found")).to_be_visible()
    assert_accessible(page)
