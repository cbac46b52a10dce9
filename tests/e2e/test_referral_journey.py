"""Referrals in a real browser, on the demo area: a ward nurse refers a person on discharge and
the routing rule's explanation is shown; a rapid response nurse claims and accepts it; the
care transfer hub coordinator sees the delays; a family member uses the public form. Every
page on the way is checked with axe-core. One test, so the demo is seeded once."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from caretrust.people.models import Person
from referrals.models import Referral
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e


def sign_in(browser: Browser, live_server: Any, username: str) -> Page:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("caretrust-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/caseload/$"))
    return page


def test_a_referral_from_the_ward_to_the_rapid_response_team_and_the_discharge_worklist(
    live_server: Any, transactional_db: None, browser: Browser, page: Page
) -> None:
    call_command("seed_demo", verbosity=0)
    person = (
        Person.objects.filter(
            case_files__agency__slug="calderbridge-hospitals",
            date_of_birth__lt=dt.date(1955, 1, 1),
        )
        .exclude(case_files__referrals__isnull=False)
        .exclude(case_files__agency__slug="calder-valley-community")
        .order_by("nhs_number")
        .first()
    )
    assert person is not None

    # The ward nurse refers from the person's page; the rules route it.
    nina = sign_in(browser, live_server, "nina.nurse")
    nina.goto(f"{live_server.url}/people/{person.pk}/")
    nina.get_by_role("link", name=f"Refer {person.given_name}").click()
    expect(nina.get_by_role("heading", level=1)).to_have_text("Make a referral")
    assert_accessible(nina)
    nina.get_by_label("Where is the referral from?").select_option("ward")
    nina.get_by_label("Reason for referral").fill("Fell at home; medically fit, ready to go home")
    nina.get_by_label("Fall or risk of falls").check()
    nina.get_by_label("Urgent").check()
    nina.get_by_label("Where is the person now?").select_option("hospital_ward")
    nina.get_by_label("The person consents").check()
    nina.get_by_role("button", name="Send the referral").click()
    explanation = nina.locator("#routing-explanation")
    expect(explanation).to_contain_text("rule 1 matched")
    expect(explanation).to_contain_text("Rapid response")
    assert_accessible(nina)
    referral = Referral.objects.get(case_file__person=person, status="received")

    # A rapid response nurse claims it from her team's queue and accepts it.
    rita = sign_in(browser, live_server, "rita.rapid")
    rita.get_by_role("link", name="Referrals", exact=True).first.click()
    expect(rita.get_by_role("heading", level=1)).to_have_text("Referrals")
    assert_accessible(rita)
    rita.get_by_role("link", name="Rapid response", exact=True).click()
    assert_accessible(rita)
    rita.get_by_role("button", name=f"Claim {referral.reference}").click()
    expect(rita.get_by_text("You have claimed this referral.")).to_be_visible()
    expect(rita.locator("#routing-explanation")).to_contain_text("rule 1 matched")
    assert_accessible(rita)
    rita.get_by_role("button", name="Accept", exact=True).click()
    expect(rita.get_by_role("heading", level=1)).to_contain_text("accepted")
    assert_accessible(rita)
    referral.refresh_from_db()
    assert referral.status == "accepted" and referral.claimed_by.username == "rita.rapid"

    # The referrer sees where it stands.
    nina.goto(f"{live_server.url}/referrals/sent/")
    expect(nina.get_by_role("row", name=re.compile(referral.reference))).to_contain_text("Accepted")
    assert_accessible(nina)

    # The care transfer hub coordinator sees who is still in hospital past their ready date.
    hana = sign_in(browser, live_server, "hana.hub")
    hana.get_by_role("link", name="Discharges").first.click()
    expect(hana.get_by_role("heading", level=1)).to_have_text("Care transfer hub worklist")
    rows = hana.locator("#worklist tbody tr")
    assert rows.count() >= 6
    first_delay = int(rows.first.locator("td").nth(4).inner_text())
    assert first_delay >= 20
    assert_accessible(hana)
    rows.first.get_by_role("link").click()
    expect(hana.locator("#delay-days")).to_have_text(f"{first_delay} days")
    assert_accessible(hana)

    # A family member asks for help, signed out.
    page.goto(live_server.url + "/refer-yourself/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ask for help")
    assert_accessible(page)
    page.get_by_label("About someone I care for").check()
    page.get_by_label("Their first name").fill("Arthur")
    page.get_by_label("Their last name").fill("Sutcliffe")
    page.get_by_label("Their date of birth").fill("12/05/1939")
    page.get_by_label("Address line 1").fill("3 Wharf Street")
    page.get_by_label("Town or city").fill("Calderbridge")
    page.get_by_label("Postcode").fill("HX1 3PL")
    page.get_by_label("What help is needed?").fill("Dad is struggling to wash and dress")
    page.get_by_label("Personal care").check()
    page.get_by_label("Routine").check()
    page.get_by_label("Your name").fill("Karen Sutcliffe")
    page.get_by_label("Your relationship to them").fill("Daughter")
    page.get_by_label("Your telephone number").fill("07700 900789")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("we have your request")
    assert_accessible(page)
    public = Referral.objects.get(referrer_name="Karen Sutcliffe")
    assert public.unverified and public.case_file is None
    assert public.service.slug == "reablement"  # the personal care rule
