"""Real-browser fixtures: Playwright for Python driving Debian's Chromium (never a downloaded
browser). `make test` installs the `chromium` package when it is missing (see Makefile)."""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `make chromium` (as root it "
                    "installs Debian's chromium package) or `sudo apt-get install chromium`.")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        # While Playwright's loop runs, asgiref gives the test's ORM calls their own database
        # connection (context-local, not thread-local); close it here, in that same context,
        # or PostgreSQL refuses to drop the test database at the end of the run.
        connections.close_all()
        browser.close()


@pytest.fixture
def page(browser):
    """A page that records console errors and failed requests; the test asserts none."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    # Let in-flight requests finish, so the live server holds no database connection when the
    # test database is flushed or dropped.
    page.wait_for_load_state("networkidle")
    context.close()


@pytest.fixture
def nurse(transactional_db):
    """Nora Nurse, whose name the journeys read on the pages (who entered what, who changed a
    record meanwhile)."""
    return UserFactory(username="nurse1", role="Nurse", first_name="Nora", last_name="Nurse")


@pytest.fixture
def clinician(transactional_db):
    return UserFactory(username="clinician1", role="Clinician")


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
