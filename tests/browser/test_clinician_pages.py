"""A clinician's day in a real browser: log in, find a patient, read the history with its
charts, log a whole session step by step, and see a refusal on the form."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Administration, TreatmentSession
from tests.browser.journeys import local_input, log_in
from tests.factories import SessionFactory, UserFactory
from tests.pages import complete_session
from tests.security.totp import confirmed_totp_device

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def staff(transactional_db):
    clinician = UserFactory(username="clinician1", role="Clinician")
    # Clinicians enter a TOTP code after the password: their authenticator app, enrolled.
    clinician.authenticator = confirmed_totp_device(clinician)
    return {"nurse": UserFactory(username="nurse1", role="Nurse"), "clinician": clinician}


def test_search_a_patient_and_read_the_history_with_charts(page, live_server, staff, advance,
                                                          artifacts):
    first = SessionFactory(course__responsible_clinician=staff["clinician"],
                           course__patient__first_name="Ada",
                           course__patient__last_name="Quill",
                           scheduled_at=timezone.now() - timedelta(days=14))
    complete_session(first, advance=advance, nurse=staff["nurse"])
    second = SessionFactory(course=first.course, scheduled_at=timezone.now() - timedelta(days=7))
    complete_session(second, advance=advance, nurse=staff["nurse"],
                     consultation={"phq9_item_1": 0, "phq9_item_2": 0})

    log_in(page, live_server, staff["clinician"])
    page.click("text=Patients")
    page.fill("#id_q", "quill")
    page.click("button:has-text('Search')")
    page.click("text=Quill, Ada")

    page.wait_for_selector("#timeline")
    assert page.locator("#risk-flags").inner_text()
    assert page.locator("#timeline article").count() == 2
    for canvas in ("chart-scores", "chart-cadss", "chart-bp"):
        drawn = page.evaluate(
            "id => { const c = document.getElementById(id); const chart = Chart.getChart(c);"
            " return chart ? chart.data.datasets[0].data.length : -1; }", canvas)
        assert drawn == 2, canvas
        assert page.locator(f"#{canvas}").bounding_box()["height"] > 100
    assert page.console_errors == []
    page.screenshot(path=str(artifacts / "history.png"), full_page=True)


def test_log_a_complete_session_through_the_five_steps(page, live_server, staff):
    # Booked for this morning and charted now: the first dose below was 125 minutes ago.
    session = SessionFactory(course__responsible_clinician=staff["clinician"],
                             scheduled_at=timezone.now() - timedelta(hours=3))
    log_in(page, live_server, staff["clinician"])
    page.goto(f"{live_server.url}/sessions/{session.pk}/")

    page.click("#next-step")  # consultation
    for n in range(1, 10):
        page.select_option(f"#id_phq9_item_{n}", "1" if n < 9 else "0")
    for n in range(1, 8):
        page.select_option(f"#id_gad7_item_{n}", "1")
    page.click("button[name=save]")
    page.wait_for_selector("text=Consultation recorded.")

    page.click("#next-step")  # evaluation
    for field, value in (("systolic_mmhg", "124"), ("diastolic_mmhg", "80"),
                         ("heart_rate_bpm", "72"), ("spo2_percent", "98"), ("weight_kg", "70")):
        page.fill(f"#id_{field}", value)
    page.check("input[name=decision][value=cleared]")
    page.click("button[name=check]")
    page.wait_for_selector("#findings")
    page.click("button[name=save]")
    page.wait_for_selector("text=Medical evaluation recorded.")

    page.click("#next-step")  # expectations
    for box in ("consent_signed", "side_effects_explained", "plan_deep_breathing",
                "transport_arranged"):
        page.check(f"#id_{box}")
    page.fill("#id_transport_details", "Partner drives home")
    page.click("button[name=save]")
    page.wait_for_selector("text=Setting expectations recorded.")

    first_dose = timezone.now() - timedelta(minutes=125)
    page.click("#next-step")  # administration
    page.fill("#id_dose_mg", "35")
    page.fill("#id_started_at", local_input(first_dose))
    page.fill("#id_lot_number", "LOT-BROWSER-1")
    page.click("button[name=save]")
    page.wait_for_selector("text=Treatment administration recorded.")

    page.fill("#id_vital-measured_at", local_input(first_dose + timedelta(minutes=40)))
    page.select_option("#id_vital-phase", "post_dose_40")
    page.fill("#id_vital-systolic_mmhg", "138")
    page.fill("#id_vital-diastolic_mmhg", "86")
    page.click("#vital-form button[type=submit]")
    page.wait_for_selector("text=Vitals recorded.")

    page.click("#next-step")  # monitoring
    page.fill("#id_cadss_score", "14")
    page.fill("#id_moaas_score", "5")
    page.check("#id_discharge_criteria_met")
    page.fill("#id_discharged_with", "Partner")
    page.click("button[name=save]")
    page.wait_for_selector("text=Post-treatment monitoring recorded.")

    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED
    assert session.administration.dose_mg_per_kg == 0.5
    assert session.monitoring.observation_minutes >= 120
    assert page.console_errors == []


def test_administration_before_clearing_shows_the_refusal(page, live_server, staff, advance):
    session = SessionFactory(course__responsible_clinician=staff["clinician"])
    advance(session, through="expectations", evaluation={"decision": "held"})
    log_in(page, live_server, staff["nurse"])
    page.goto(f"{live_server.url}/sessions/{session.pk}/step/administration/")
    page.fill("#id_dose_mg", "40")
    page.fill("#id_lot_number", "LOT-2")
    page.click("button[name=save]")

    error = page.locator("#form-errors")
    error.wait_for()
    assert "Administration is refused: the patient was held" in error.inner_text()
    assert not Administration.objects.filter(session=session).exists()
