"""A joint assessment in a real browser, axe-checked on every page.

nina.nurse (hospital) starts a comprehensive assessment from the person's record and gives
two sections to oscar.ot (community health) and carol.cm (council), whose agencies the person
has agreed may see the hospital's assessments. She writes the person's own perspective with
the keyboard alone. Oscar edits his section in two windows at once: the second window's
autosave finds the section changed and shows both versions, losing neither; he keeps his
draft and signs. Carol writes and signs hers. Nina signs off, records the joint assessment
meeting with the person's wishes, agrees the care plan and produces the letter.

Nina's six other sections are written and signed through the services (the same rules as the
browser), so that the journey spends its time on what only a browser can show.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from assessments import services
from assessments.models import Assessment, Section
from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from tests.assessments.conftest import ANSWERS, consent_to_assessments
from tests.e2e.conftest import assert_accessible
from tests.factories import PASSWORD, AgencyFactory, CaseFileFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.e2e


def _staff(username: str, first: str, last: str, agency: Any, role: str) -> Any:
    user = UserFactory(username=username, first_name=first, last_name=last)
    directory.add_membership(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def area(transactional_db: Any) -> dict[str, Any]:
    hospital = AgencyFactory(
        name="Calderbridge Royal Hospitals",
        slug="calderbridge-hospitals",
        kind=AgencyKind.ACUTE_TRUST,
    )
    council = AgencyFactory(
        name="Calderbridge Council Adult Social Care",
        slug="calderbridge-council",
        kind=AgencyKind.COUNCIL_ASC,
    )
    community = AgencyFactory(
        name="Calder Valley Community Health",
        slug="calder-valley-community",
        kind=AgencyKind.COMMUNITY_HEALTH,
    )
    nina = _staff("nina.nurse", "Nina", "Kowalski", hospital, Role.NURSE)
    carol = _staff("carol.cm", "Carol", "Mensah", council, Role.CARE_MANAGER)
    oscar = _staff("oscar.ot", "Oscar", "Adeyemi", community, Role.OCCUPATIONAL_THERAPIST)
    person = PersonFactory(given_name="Edith", family_name="Sutcliffe")
    case_file = CaseFileFactory(agency=hospital, lead_worker=nina, person=person)
    for recipient in (council, community):
        consent_to_assessments(person, holder=hospital, recipient=recipient, by=nina)
    return {
        "hospital": hospital,
        "nina": nina,
        "carol": carol,
        "oscar": oscar,
        "person": person,
        "case_file": case_file,
    }


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your caseload")


def _new_page(browser: Browser) -> Page:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    return context.new_page()


def _open_section(page: Page, title: str) -> None:
    page.get_by_role("link", name="Assessments").first.click()
    page.get_by_role("link", name=re.compile("Comprehensive")).first.click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def _delegate(page: Page, section: str, username: str, agency: str) -> None:
    page.get_by_text("Give a section to a colleague").click()
    page.locator("#delegate-section").select_option(label=section)
    page.get_by_label("Their username").fill(username)
    page.get_by_label("Their agency's short name").fill(agency)
    page.get_by_role("button", name="Give the section").click()
    expect(page.get_by_role("status").first).to_contain_text(f"{section} delegated")


def test_a_joint_assessment_from_start_to_the_letter(
    live_server: Any, area: dict[str, Any], browser: Browser, page: Page
) -> None:
    base = live_server.url
    person = area["person"]
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    # nina starts a comprehensive assessment from the person's record.
    _sign_in(page, base, "nina.nurse")
    page.goto(f"{base}/people/{person.pk}/")
    page.get_by_role("link", name="Start an assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start an assessment")
    assert_accessible(page)
    page.get_by_label("Comprehensive").check()
    page.get_by_label("Reason").fill("Fell at home; admitted with a fractured wrist")
    page.get_by_label("Episode").fill("Discharge from Calder ward")
    page.get_by_role("button", name="Start the assessment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Comprehensive assessment")
    assert_accessible(page)
    assessment = Assessment.objects.get()

    _delegate(page, "Relationships", "carol.cm", "calderbridge-council")
    _delegate(
        page,
        "Immediate environment and resources, including housing and finances",
        "oscar.ot",
        "calder-valley-community",
    )
    assert_accessible(page)

    # The person's own perspective, with the keyboard alone.
    page.get_by_role("link", name="The person's own perspective").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The person's own perspective")
    assert_accessible(page)
    page.get_by_label(re.compile("What matters most")).focus()
    page.keyboard.type("I want to get home to my garden.")
    page.keyboard.press("Tab")  # into the yes/no radios
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # the narrative
    page.keyboard.type("Keen to go home; worried about the stairs.")
    page.keyboard.press("Tab")  # "Save the section"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("save-status")).to_contain_text("Saved at")
    expect(page).to_have_url(re.compile(r"/sections/"))  # no page load: htmx saved it
    page.keyboard.press("Tab")  # "Sign this section"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("You signed")
    perspective = Section.objects.get(assessment=assessment, domain__key="perspective")
    assert perspective.status == "signed"
    assert perspective.answers["wants_to_stay_home"] == "yes"

    # nina's other sections, through the services.
    nina, hospital = area["nina"], area["hospital"]
    for sec in Section.objects.filter(assessment=assessment, author__isnull=True):
        services.delegate_section(
            section=sec, author=nina, author_agency=hospital, by=nina, agency=hospital
        )
        sec.refresh_from_db()
        saved = services.save_section(
            section_id=sec.pk,
            answers=ANSWERS[sec.domain.key],
            narrative="",
            based_on_version=sec.version,
            by=nina,
            agency=hospital,
        )
        services.sign_section(
            section_id=sec.pk, by=nina, agency=hospital, based_on_version=saved.section.version
        )

    # oscar, in two windows at once on his section.
    environment = "Immediate environment and resources, including housing and finances"
    first = _new_page(browser)
    _sign_in(first, base, "oscar.ot")
    _open_section(first, environment)
    assert_accessible(first)
    second = first.context.new_page()
    second.goto(first.url)
    first.get_by_label(re.compile("Worries about money")).fill("Pension only; no debts.")
    expect(first.get_by_test_id("save-status")).to_contain_text("version 3")
    second.get_by_label(re.compile("Worries about money")).fill("Worried about the gas bill.")
    expect(second.get_by_role("heading", level=1)).to_contain_text("Someone else saved")
    table = second.get_by_test_id("conflict-table")
    expect(table).to_contain_text("Worried about the gas bill.")
    expect(table).to_contain_text("Pension only; no debts.")
    assert_accessible(second)
    second.get_by_role("button", name=re.compile("Save my draft")).click()
    expect(second.get_by_role("heading", level=1)).to_have_text(environment)
    second.get_by_label("House").check()
    second.get_by_role("group", name="Stairs inside the home?").get_by_label("Yes").check()
    expect(second.get_by_test_id("save-status")).to_contain_text("Saved at")
    second.get_by_role("button", name="Sign this section").click()
    expect(second.get_by_role("status").first).to_contain_text("You signed")
    mine = Section.objects.get(assessment=assessment, domain__key="environment")
    assert mine.answers["money_worries"] == "Worried about the gas bill."
    assert mine.conflicts.get().answers == {"money_worries": "Worried about the gas bill."}
    first.context.close()

    # carol writes and signs hers.
    third = _new_page(browser)
    _sign_in(third, base, "carol.cm")
    _open_section(third, "Relationships")
    assert_accessible(third)
    third.get_by_label("Who the person lives with").fill("Alone; her daughter visits daily.")
    third.get_by_role("group", name="Does a carer help regularly?").get_by_label("Yes").check()
    expect(third.get_by_test_id("save-status")).to_contain_text("Saved at")
    third.get_by_role("button", name="Sign this section").click()
    expect(third.get_by_role("status").first).to_contain_text("You signed")
    third.context.close()

    # nina signs off, records the meeting, agrees the care plan and produces the letter.
    page.goto(f"{base}/assessments/{assessment.pk}/")
    page.get_by_role("button", name="Sign off the assessment").click()
    expect(page.get_by_test_id("assessment-status")).to_contain_text("Signed off")
    assert_accessible(page)

    page.get_by_role("link", name="Record the joint assessment meeting").click()
    assert_accessible(page)
    page.get_by_label("Date held").fill((dt.date.today() - dt.timedelta(days=1)).isoformat())
    page.get_by_label("Hospital ward").check()
    page.get_by_label("Qualified nurse attending (name)").fill("Nina Kowalski")
    page.get_by_label("Care manager attending (name)").fill("Carol Mensah")
    page.get_by_label("OT or physiotherapist attending (name)").fill("Oscar Adeyemi")
    page.get_by_label("An occupational therapist").check()
    page.get_by_label("The person took part").check()
    page.get_by_label("The person's wishes, in their own words").fill(
        "I want to go home to my own house and my garden."
    )
    page.get_by_label("The needs arise from a physical or mental impairment or illness").check()
    page.get_by_label("Maintaining personal hygiene").check()
    page.get_by_label("Being appropriately clothed").check()
    page.get_by_label(re.compile("significant impact on wellbeing")).check()
    page.get_by_label(re.compile("I confirm the eligibility decision")).check()
    page.get_by_label("The package agreed").fill("Reablement each morning; a stair rail.")
    page.get_by_role("button", name="Record the meeting").click()
    expect(page.get_by_role("main")).to_contain_text("I want to go home to my own house")
    expect(page.get_by_role("main")).to_contain_text("Eligible (confirmed)")
    assert_accessible(page)

    page.get_by_role("link", name="Agree the care plan").click()
    assert_accessible(page)
    page.get_by_label("The person's goals, in their own words").fill(
        "To get washed and dressed on my own."
    )
    page.get_by_label("Review the plan by").fill(
        (dt.date.today() + dt.timedelta(days=42)).isoformat()
    )
    page.locator("#id_service-0-kind").select_option("reablement")
    page.locator("#id_service-0-funding").select_option("social_care")
    page.locator("#id_service-0-hours_per_week").fill("7")
    page.locator("#id_service-0-cost_per_hour_pence").fill("2150")
    page.locator("#id_service-0-start_date").fill(dt.date.today().isoformat())
    page.get_by_role("button", name="Save the care plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Care plan")
    expect(page.get_by_role("main")).to_contain_text("£150.50")
    page.get_by_role("button", name="Authorise the care plan").click()
    expect(page.get_by_test_id("plan-status")).to_contain_text("Authorised")
    assert_accessible(page)

    page.get_by_role("link", name=re.compile("The letter to Edith")).click()
    letter = page.get_by_test_id("letter")
    expect(letter).to_contain_text("Dear Edith Sutcliffe")
    expect(letter).to_contain_text("To get washed and dressed on my own.")
    assert_accessible(page)
    pdf = page.request.get(f"{base}/care-plans/{assessment.care_plans.get().pk}/letter.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
    page.go_back()
    page.get_by_role("button", name="Record that the letter was sent").click()
    expect(page.get_by_role("main")).to_contain_text("Sent ")
    assert_accessible(page)
    assert get_user_model().objects.filter(username="oscar.ot").exists()
    assert not broken, broken


def test_an_autosave_the_server_refuses_says_so_in_the_status_line(
    live_server: Any, area: dict[str, Any], page: Page
) -> None:
    """A NUL (pasted binary, say) cannot be stored, and a save after the session has ended
    cannot be made: each time the autosave's status line says so, rather than the refused
    answer being dropped and the page looking as if all were well."""
    nina, hospital = area["nina"], area["hospital"]
    assessment = services.start_assessment(
        case_file=area["case_file"],
        depth="comprehensive",
        reason="Fell at home",
        episode="Discharge from Calder ward",
        by=nina,
        agency=hospital,
    )
    perspective = Section.objects.get(assessment=assessment, domain__key="perspective")
    _sign_in(page, live_server.url, "nina.nurse")
    page.goto(f"{live_server.url}{reverse('section_edit', args=[perspective.pk])}")
    answer = page.get_by_label(re.compile("What matters most"))
    answer.fill("My garden\x00")
    status = page.get_by_test_id("save-status")
    expect(status).to_contain_text("a NUL (character 0)")
    assert_accessible(page)
    answer.fill("My garden")
    expect(status).to_contain_text("Saved at")
    perspective.refresh_from_db()
    assert perspective.answers["main_concern"] == "My garden"
    # The session ends while she types (signed out elsewhere, say): the status line says so,
    # where htmx would otherwise have swapped in the sign-in page, and nothing is saved.
    page.context.clear_cookies(name="sessionid")
    answer.fill("My garden and the allotment")
    expect(status).to_contain_text("You have been signed out")
    expect(status).to_contain_text("not saved")
    assert_accessible(page)
    perspective.refresh_from_db()
    assert perspective.answers["main_concern"] == "My garden"
