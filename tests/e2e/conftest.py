"""Fixtures for the browser journeys: one headless Chromium per module, a fresh page per test,
and an axe-core accessibility check.

The browser is Debian's /usr/bin/chromium (never one downloaded by ``playwright install``);
the machine is offline, so everything that would phone home is switched off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module", autouse=True)
def _sync_orm_beside_playwright() -> Iterator[None]:
    """Allow Django's ORM while Playwright is running, for this module only.

    Playwright's sync API runs an asyncio event loop in a greenlet of this (the test's) thread;
    while the browser is open, asyncio reports that loop as running here, and Django then
    refuses every query from this thread (SynchronousOnlyOperation), to protect async code
    from blocking calls. Nothing here is async: the test's own queries (seeding, picking
    people) and the transactional_db flush are ordinary blocking code run between Playwright
    calls, and the live server answers in its own threads. Module-scoped, and so outliving the
    module-scoped browser, so no other test runs with the guard off.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module", autouse=True)
def _audit_flushable(audit_flushable: None) -> None:
    """Every browser journey runs on ``live_server``, so every module here needs the audit
    trail flushable (tests/conftest.py)."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def assert_accessible(page: Page) -> None:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    page.add_script_tag(path=AXE_JS)
    violations = page.evaluate("async () => (await axe.run()).violations")
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    if bad:
        pytest.fail(
            f"axe: serious/critical violations on {page.url}:\n"
            + "\n".join(
                f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>\n"
                + "\n".join(f"    at {n['target']}: {n['failureSummary']}" for n in v["nodes"])
                for v in bad
            ),
            pytrace=False,
        )
