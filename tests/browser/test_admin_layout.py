"""A nurse reads a finished session in the admin on a 1,366 × 768 laptop screen: the page fits
the window (tables scroll inside their own box), its heading gives the clinic's local time, it
links to the session page, and nothing it loads is missing (the favicon included)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sessions import services
from sessions.models import VitalSign
from tests.browser.journeys import log_in
from tests.factories import SessionFactory, symptom
from tests.pages import complete_session

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
CLINIC_ZONE = ZoneInfo("America/New_York")


def _busy_monitoring(nurse):
    """Seven more timed vitals (ten in all) and two more side effects, as an IV session has."""

    def record(session, first_dose_at):
        for minutes in range(10, 80, 10):
            services.vital_sign_record(session=session, recorded_by=nurse,
                                       measured_at=first_dose_at + timedelta(minutes=minutes),
                                       phase=VitalSign.Phase.PERIODIC, systolic_mmhg=130,
                                       diastolic_mmhg=84, heart_rate_bpm=82, spo2_percent=97,
                                       respiratory_rate_per_min=14)
        for name, minutes in (("Dissociation", 15), ("Dizziness", 30)):
            services.side_effect_record(session=session, recorded_by=nurse,
                                        symptom=symptom(name), severity="mild",
                                        onset_at=first_dose_at + timedelta(minutes=minutes),
                                        intervention="reassurance",
                                        notes="Settled with reassurance; stayed in the chair.")

    return record


def test_admin_session_page_fits_a_laptop_screen_and_links_to_the_session_page(
        page, live_server, nurse, advance, artifacts, settings):
    settings.TIME_ZONE = "America/New_York"
    session = SessionFactory(scheduled_at=timezone.now() - timedelta(hours=3))
    complete_session(session, advance=advance, nurse=nurse,
                     before_discharge=_busy_monitoring(nurse))
    assert session.vital_signs.count() == 10 and session.side_effects.count() == 3

    page.set_viewport_size({"width": 1366, "height": 768})
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/admin/treatment_sessions/treatmentsession/{session.pk}/change/")
    page.wait_for_load_state("networkidle")

    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    page.screenshot(path=str(artifacts / "admin-session-1366-top.png"))
    page.screenshot(path=str(artifacts / "admin-session-1366.png"), full_page=True)
    page.locator("#side_effects-group").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "admin-session-1366-side-effects.png"))
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px window"

    local = session.scheduled_at.astimezone(CLINIC_ZONE)
    utc = session.scheduled_at.astimezone(ZoneInfo("UTC"))
    heading = page.locator("#content h2").first.inner_text()
    assert f"{local:%Y-%m-%d %H:%M} {local.tzname()}" in heading
    assert f"{utc:%Y-%m-%d %H:%M}" not in page.locator("#content").inner_text()

    page.click("text=Open the session page")
    page.wait_for_url(f"**/sessions/{session.pk}/")
    assert page.locator("#steps").inner_text().count("✓") == 5
    page.wait_for_load_state("networkidle")
    assert failed == []
    assert page.console_errors == []
