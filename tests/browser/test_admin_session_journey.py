"""A nurse logs a whole session on the admin session page, in Chromium, the way the README's
staff workflow says: the five steps, vitals, a side effect, a refused evaluation corrected and
saved again, and a reload half-way. Every value is typed into what the page shows and every
save is a click on its button; nothing is posted by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import TreatmentSession
from tests.browser.admin_steps import (
    fill_split_datetime,
    page_errors,
    pick_autocomplete,
    save_and_continue,
    saved_message,
    session_admin_url,
)
from tests.browser.journeys import log_in
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_nurse_logs_a_whole_session_in_the_admin(page, live_server, nurse, clinician,
                                                 artifacts):
    session = SessionFactory(course__responsible_clinician=clinician,
                             scheduled_at=timezone.now() - timedelta(hours=3))
    first_dose = timezone.now() - timedelta(minutes=135)
    log_in(page, live_server, nurse)
    page.goto(session_admin_url(live_server, session))

    # 1. Consultation
    page.fill("#id_consultation-0-mental_health_history", "Two antidepressants tried.")
    page.fill("#id_consultation-0-current_symptoms", "Low mood, poor sleep")
    page.check("#id_consultation-0-panic_concerns")
    for n in range(1, 10):
        page.select_option(f"#id_consultation-0-phq9_item_{n}", "2" if n < 9 else "0")
    for n in range(1, 8):
        page.select_option(f"#id_consultation-0-gad7_item_{n}", "1")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page)

    # 2. Evaluation: cleared at 164/98 is refused, then corrected and saved.
    for field, value in (("systolic_mmhg", "164"), ("diastolic_mmhg", "98"),
                         ("heart_rate_bpm", "84"), ("spo2_percent", "98"),
                         ("weight_kg", "70")):
        page.fill(f"#id_evaluation-0-{field}", value)
    fill_split_datetime(page, "id_evaluation-0-measured_at",
                        first_dose - timedelta(minutes=30))
    page.check("input[name=evaluation-0-decision][value=cleared]")
    save_and_continue(page)
    assert "The patient cannot be cleared" in page_errors(page)
    # The refused page still shows the consultation as it was entered, and the step reached.
    assert page.input_value("#id_consultation-0-mental_health_history") == (
        "Two antidepressants tried.")
    assert page.is_checked("#id_consultation-0-panic_concerns")
    assert "Medical evaluation" in page.locator(".fieldBox.field-current_step_column").inner_text()
    page.fill("#id_evaluation-0-systolic_mmhg", "128")
    page.fill("#id_evaluation-0-diastolic_mmhg", "82")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page), page_errors(page)

    # Half-way, the nurse reloads the page (another tab, a dropped connection).
    page.reload()

    # 3. Setting expectations: the step that could not be saved before.
    for box in ("consent_signed", "side_effects_explained", "plan_deep_breathing",
                "transport_arranged"):
        page.check(f"#id_expectation_setting-0-{box}")
    page.fill("#id_expectation_setting-0-transport_details", "Partner drives home")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page), page_errors(page)

    # 4. Administration, charted a few minutes after the first dose.
    page.select_option("#id_administration-0-drug", "ketamine")
    page.select_option("#id_administration-0-route", "iv")
    page.fill("#id_administration-0-dose_mg", "35")
    fill_split_datetime(page, "id_administration-0-started_at", first_dose)
    fill_split_datetime(page, "id_administration-0-ended_at", first_dose + timedelta(minutes=40))
    page.fill("#id_administration-0-lot_number", "LOT-ADMIN-1")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page), page_errors(page)

    # Vitals, one row per save, as they are taken.
    for minutes, phase, systolic in ((40, "post_dose_40", "146"), (120, "pre_discharge", "130")):
        fill_split_datetime(page, "id_vital_signs-2-0-measured_at",
                            first_dose + timedelta(minutes=minutes))
        page.select_option("#id_vital_signs-2-0-phase", phase)
        page.fill("#id_vital_signs-2-0-systolic_mmhg", systolic)
        page.fill("#id_vital_signs-2-0-diastolic_mmhg", "84")
        page.fill("#id_vital_signs-2-0-heart_rate_bpm", "78")
        save_and_continue(page)
        assert "was changed successfully" in saved_message(page), page_errors(page)

    # A side effect, resolved.
    pick_autocomplete(page, "id_side_effects-2-0-symptom", "Nausea")
    page.select_option("#id_side_effects-2-0-severity", "moderate")
    fill_split_datetime(page, "id_side_effects-2-0-onset_at", first_dose + timedelta(minutes=20))
    fill_split_datetime(page, "id_side_effects-2-0-resolved_at",
                        first_dose + timedelta(minutes=50))
    page.select_option("#id_side_effects-2-0-intervention", "medication_given")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page), page_errors(page)

    # 5. Monitoring and discharge, now: 135 minutes after the first dose.
    fill_split_datetime(page, "id_monitoring-0-discharged_at", timezone.now())
    page.fill("#id_monitoring-0-cadss_score", "12")
    page.fill("#id_monitoring-0-moaas_score", "5")
    page.check("#id_monitoring-0-discharge_criteria_met")
    page.fill("#id_monitoring-0-discharged_with", "Partner")
    save_and_continue(page)
    assert "was changed successfully" in saved_message(page), page_errors(page)
    page.screenshot(path=str(artifacts / "admin-session-completed.png"), full_page=True)

    status = page.locator(".fieldBox.field-status").inner_text()
    assert "Completed" in status
    text = page.locator("#content").inner_text()
    assert "Two antidepressants tried." in text and "Nausea" in text and "146" in text
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED
    assert session.consultation.mental_health_history == "Two antidepressants tried."
    assert session.evaluation.systolic_mmhg == 128
    assert session.monitoring.observation_minutes >= 120
    assert session.vital_signs.count() == 2 and session.side_effects.count() == 1
    assert page.console_errors == []
