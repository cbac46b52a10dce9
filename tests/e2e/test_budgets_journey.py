"""The finance officer's month end, in a real browser: fiona.finance opens the pool, drills
from the overspent line to its postings, reconciles a partner's contribution, exports XLSX,
and runs the month-end close with its progress bar. Every page is checked with axe-core."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from budgets.models import Period, PooledFund
from tests.e2e.conftest import assert_accessible

pytestmark = pytest.mark.e2e


def test_finance_officer_reconciles_and_closes_the_month(
    live_server, transactional_db, page: Page
) -> None:
    call_command("seed_demo", verbosity=0)
    fund = PooledFund.objects.get(slug="calderbridge-intermediate-care")
    to_close = Period.objects.filter(fund=fund, status="open").order_by("starts_on").first()
    assert to_close is not None

    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("fiona.finance")
    page.get_by_label("Password").fill("caretrust-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Pooled budgets").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pooled budgets")
    assert_accessible(page)

    page.get_by_role("link", name="Calderbridge intermediate care pool").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calderbridge intermediate care pool")
    expect(page.get_by_test_id("budget-chart")).to_be_visible()
    expect(page.get_by_test_id("month-table")).to_be_visible()
    home_care = page.get_by_test_id("lines-table").get_by_role("row", name=re.compile("Home care"))
    expect(home_care).to_contain_text("over")
    assert_accessible(page)

    # Drill down from the overspent line's actual spend to its postings.
    home_care.get_by_role("link", name=re.compile("actual on Home care")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Home care")
    expect(page.get_by_test_id("postings").locator("tbody tr").first).to_be_visible()
    assert_accessible(page)

    # Reconcile the community trust's contribution: due, received, behind.
    page.get_by_role("link", name="Contributions").click()
    community = page.get_by_test_id("contributions").get_by_role(
        "row", name=re.compile("Calder Valley Community Health")
    )
    expect(community).to_be_visible()
    assert "£0.00" not in community.locator("td").last.inner_text()
    assert_accessible(page)
    community.get_by_role("link", name=re.compile("received from")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partner receivable")
    assert_accessible(page)

    # Export the contributions as XLSX.
    page.get_by_role("link", name="Contributions").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="contributions (XLSX)").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert sheet["A1"].value == "Partner"
    assert sheet.max_row == 4

    # Month-end close, with its progress bar.
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("button", name=f"Close {to_close}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Month-end close: {to_close}")
    progress = page.get_by_test_id("close-progress")
    expect(progress.locator("progress")).to_be_visible()
    expect(progress).to_contain_text("100% done", timeout=20_000)
    expect(progress).to_contain_text(f"{to_close} is closed")
    assert_accessible(page)
    to_close.refresh_from_db()
    assert to_close.status == "closed"
