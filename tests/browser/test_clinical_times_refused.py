"""No clinical time can lie, seen in Chromium: with the first dose given just now, a discharge
typed as 2 h 05 min from now (which would "meet" the 120-minute observation minimum) is refused
on the session pages and in the admin, as are vitals two hours in the future or from the day
before the session. Each refusal is read from the page and names the time typed; nothing is
saved, and a correct reading is then accepted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Monitoring, TreatmentSession, VitalSign
from tests.browser.admin_steps import (
    fill_split_datetime,
    page_errors,
    save_and_continue,
    saved_message,
    session_admin_url,
)
from tests.browser.journeys import local_input, log_in
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BAD_REQUEST = "Failed to load resource: the server responded with a status of 400 (Bad Request)"


@pytest.fixture
def dosed_just_now(clinician, advance):
    """A session of this morning whose first dose was given a moment ago."""
    session = SessionFactory(course__responsible_clinician=clinician,
                             scheduled_at=timezone.now() - timedelta(hours=3))
    return advance(session, through="administration",
                   administration={"started_at": timezone.now() - timedelta(seconds=30)})


def hh_mm(moment) -> str:
    """The clock time of a typed moment as the refusal names it (minutes, the clinic's zone)."""
    return local_input(moment)[-5:]


def add_vital(page, *, measured_at, systolic: str) -> None:
    page.fill("#id_vital-measured_at", local_input(measured_at))
    page.select_option("#id_vital-phase", "post_dose_40")
    page.fill("#id_vital-systolic_mmhg", systolic)
    page.fill("#id_vital-diastolic_mmhg", "84")
    with page.expect_navigation():
        page.click("#vital-form button[type=submit]")


def test_future_and_previous_day_times_refused_on_the_session_pages(page, live_server, nurse,
                                                                    dosed_just_now, artifacts):
    session = dosed_just_now
    session_url = f"{live_server.url}/sessions/{session.pk}/"
    log_in(page, live_server, nurse)

    # A vital two hours in the future.
    page.goto(session_url)
    in_two_hours = timezone.now() + timedelta(hours=2)
    add_vital(page, measured_at=in_two_hours, systolic="131")
    form_text = page.locator("#vital-form").inner_text()
    assert f"The time of these vitals ({hh_mm(in_two_hours)}" in form_text
    assert "is in the future" in form_text
    page.screenshot(path=str(artifacts / "times-refused-future-vital.png"), full_page=True)

    # A vital from the day before the session.
    day_before = session.scheduled_at - timedelta(days=1)
    add_vital(page, measured_at=day_before, systolic="132")
    form_text = page.locator("#vital-form").inner_text()
    assert f"({local_input(day_before).replace('T', ' ')})" in form_text
    assert "is before this session started" in form_text
    assert not VitalSign.objects.filter(session=session).exists()

    # Then a reading taken now: accepted, and the only one the session holds.
    add_vital(page, measured_at=timezone.now(), systolic="133")
    assert "Vitals recorded" in page.locator(".alert").first.inner_text()
    assert "133/84" in page.locator("#vitals tbody").inner_text()
    assert list(VitalSign.objects.filter(session=session)
                .values_list("systolic_mmhg", flat=True)) == [133]

    # A discharge at now + 2 h 05 min: 125 minutes after the first dose, but not yet.
    page.click("#next-step")
    assert "Post-treatment monitoring" in page.locator("h2").inner_text()
    discharge = timezone.now() + timedelta(minutes=125)
    page.fill("#id_discharged_at", local_input(discharge))
    page.fill("#id_cadss_score", "10")
    page.fill("#id_moaas_score", "5")
    page.check("#id_discharge_criteria_met")
    page.fill("#id_discharged_with", "Partner")
    with page.expect_navigation():
        page.click("button[name=save]")
    form_text = page.locator("#step-form").inner_text()
    assert f"The end of monitoring ({hh_mm(discharge)}) is in the future" in form_text
    assert "Record the discharge when the patient leaves" in form_text
    page.screenshot(path=str(artifacts / "times-refused-future-discharge.png"), full_page=True)

    # Nothing saved: the session is still in progress, monitoring still to record.
    page.goto(session_url)
    assert "In progress" in page.locator(".badge.text-bg-info").inner_text()
    assert "Post-treatment monitoring" in page.locator("#next-step").inner_text()
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS
    assert not Monitoring.objects.filter(session=session).exists()
    assert page.console_errors == [BAD_REQUEST] * 3  # the three refused forms


def test_future_discharge_and_vital_refused_in_the_admin(page, live_server, nurse,
                                                         dosed_just_now, artifacts):
    session = dosed_just_now
    log_in(page, live_server, nurse)
    page.goto(session_admin_url(live_server, session))

    # A vital two hours in the future, in the "add vital signs" row.
    in_two_hours = timezone.now() + timedelta(hours=2)
    fill_split_datetime(page, "id_vital_signs-2-0-measured_at", in_two_hours)
    page.select_option("#id_vital_signs-2-0-phase", "post_dose_40")
    page.fill("#id_vital_signs-2-0-systolic_mmhg", "131")
    page.fill("#id_vital_signs-2-0-diastolic_mmhg", "84")
    save_and_continue(page)
    errors = page_errors(page)
    assert f"The time of these vitals ({hh_mm(in_two_hours)}) is in the future" in errors
    assert not VitalSign.objects.filter(session=session).exists()
    # Open the page afresh, so the next save is about the discharge alone.
    page.goto(session_admin_url(live_server, session))

    # A discharge at now + 2 h 05 min.
    discharge = timezone.now() + timedelta(minutes=125)
    fill_split_datetime(page, "id_monitoring-0-discharged_at", discharge)
    page.fill("#id_monitoring-0-cadss_score", "10")
    page.fill("#id_monitoring-0-moaas_score", "5")
    page.check("#id_monitoring-0-discharge_criteria_met")
    page.fill("#id_monitoring-0-discharged_with", "Partner")
    save_and_continue(page)
    assert saved_message(page) == ""
    errors = page_errors(page)
    assert f"The end of monitoring ({hh_mm(discharge)}) is in the future" in errors
    assert "it is" in errors and "now" in errors
    assert "In progress" in page.locator(".fieldBox.field-status").inner_text()
    # The page is long: keep the monitoring section, where the refusal is.
    page.locator("#monitoring-group").screenshot(
        path=str(artifacts / "times-refused-admin-discharge.png"))

    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS
    assert not Monitoring.objects.filter(session=session).exists()
    assert not VitalSign.objects.filter(session=session).exists()
    assert page.console_errors == []
