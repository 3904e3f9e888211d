"""A nurse logs a whole session on the session pages (`/sessions/<id>/` and one page per step),
in Chromium: the five steps, an evaluation the page refuses and the nurse corrects, reloads of
a step page and of the session page half-way (nothing lost, nothing recorded twice), two vitals
and a side effect through the session page's own forms, and the discharge now. Every value is
typed into what the page shows and every save is a click on its button."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import (
    Consultation,
    Evaluation,
    ExpectationSetting,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)
from tests.browser.journeys import local_input, log_in
from tests.factories import SessionFactory, symptom

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def click_save(page) -> None:
    with page.expect_navigation():
        page.click("button[name=save]")


def flash(page) -> str:
    """The messages at the top of the page after a save ("" when there are none)."""
    return " ".join(page.locator(".alert-success, .alert-warning, .alert-info")
                    .all_inner_texts())


def steps_shown(page) -> str:
    return page.locator("#steps").inner_text()


def test_nurse_logs_a_whole_session_on_the_session_pages(page, live_server, nurse, clinician,
                                                          artifacts):
    session = SessionFactory(course__responsible_clinician=clinician,
                             scheduled_at=timezone.now() - timedelta(hours=3))
    first_dose = timezone.now() - timedelta(minutes=130)
    session_url = f"{live_server.url}/sessions/{session.pk}/"
    log_in(page, live_server, nurse)
    page.goto(session_url)
    assert "Scheduled" in page.locator(".badge").first.inner_text()

    # 1. Consultation.
    page.click("#next-step")
    page.fill("#id_mental_health_history", "Two antidepressants tried.")
    page.fill("#id_current_symptoms", "Low mood, poor sleep")
    for n in range(1, 10):
        page.select_option(f"#id_phq9_item_{n}", "2" if n < 9 else "0")
    for n in range(1, 8):
        page.select_option(f"#id_gad7_item_{n}", "1")
    click_save(page)
    assert "Consultation recorded." in flash(page)

    # Reload of the session page reached after the save: a GET, not the POST again.
    page.reload()
    assert "Consultation recorded." not in flash(page)  # the message was shown once
    assert "✓ Consultation" in steps_shown(page)
    assert Consultation.objects.filter(session=session).count() == 1
    assert Consultation.history.filter(session_id=session.pk).count() == 1

    # 2. Evaluation: "Cleared" at 164/98 is refused (a nurse cannot override a block and is
    # not offered the reason field), then corrected to 128/82 and saved.
    page.click("#next-step")
    assert page.locator("#id_override_reason").count() == 0
    page.fill("#id_measured_at", local_input(first_dose - timedelta(minutes=20)))
    for field, value in (("systolic_mmhg", "164"), ("diastolic_mmhg", "98"),
                         ("heart_rate_bpm", "84"), ("spo2_percent", "98"), ("weight_kg", "70")):
        page.fill(f"#id_{field}", value)
    page.check("input[name=decision][value=cleared]")
    page.click("button[name=check]")
    page.wait_for_selector("#findings")
    assert "block" in page.locator("#findings").inner_text()
    assert "only a clinician with override permission can clear" in (
        page.locator("#findings").inner_text())
    click_save(page)
    refusal = page.locator("#step-form").inner_text()
    assert "The patient cannot be cleared" in refusal
    assert "164" in refusal  # the block names the pressure the nurse typed
    assert not Evaluation.objects.filter(session=session).exists()
    page.screenshot(path=str(artifacts / "session-pages-evaluation-refused.png"), full_page=True)
    # The refused page keeps what the nurse typed, to correct rather than retype.
    assert page.input_value("#id_systolic_mmhg") == "164"
    assert page.input_value("#id_weight_kg") == "70"
    page.fill("#id_systolic_mmhg", "128")
    page.fill("#id_diastolic_mmhg", "82")
    click_save(page)
    assert "Medical evaluation recorded." in flash(page)
    assert "✓ Medical evaluation" in steps_shown(page) and "Cleared" in steps_shown(page)

    # 3. Setting expectations, with a reload of the step page before anything is typed.
    page.click("#next-step")
    step_url = page.url
    page.reload()
    assert page.url == step_url
    progress = page.locator("#step-progress").inner_text()
    assert "✓ Consultation" in progress and "✓ Medical evaluation" in progress
    for box in ("consent_signed", "side_effects_explained", "plan_deep_breathing",
                "transport_arranged"):
        page.check(f"#id_{box}")
    page.fill("#id_consent_signed_at", local_input(first_dose - timedelta(minutes=10)))
    page.fill("#id_transport_details", "Partner drives home")
    click_save(page)
    assert "Setting expectations recorded." in flash(page)
    # And the session page once more, half-way: the steps are all there, none twice.
    page.reload()
    shown = steps_shown(page)
    for label in ("Consultation", "Medical evaluation", "Setting expectations"):
        assert f"✓ {label}" in shown
    assert Evaluation.objects.filter(session=session).count() == 1
    assert Evaluation.history.filter(session_id=session.pk).count() == 1
    assert ExpectationSetting.objects.filter(session=session).count() == 1

    # 4. Administration, charted after the fact: the first dose was 130 minutes ago.
    page.click("#next-step")
    page.fill("#id_dose_mg", "35")
    page.fill("#id_started_at", local_input(first_dose))
    page.fill("#id_ended_at", local_input(first_dose + timedelta(minutes=40)))
    page.fill("#id_lot_number", "LOT-PAGES-1")
    click_save(page)
    assert "Treatment administration recorded." in flash(page)
    assert f"first dose {local_input(first_dose)[-5:]}" in steps_shown(page)

    # Two vitals through the session page's vital form.
    for minutes, phase, systolic in ((40, "post_dose_40", "146"),
                                     (120, "pre_discharge", "130")):
        page.fill("#id_vital-measured_at", local_input(first_dose + timedelta(minutes=minutes)))
        page.select_option("#id_vital-phase", phase)
        page.fill("#id_vital-systolic_mmhg", systolic)
        page.fill("#id_vital-diastolic_mmhg", "84")
        page.fill("#id_vital-heart_rate_bpm", "78")
        with page.expect_navigation():
            page.click("#vital-form button[type=submit]")
        assert "Vitals recorded" in flash(page)

    # A side effect through the side-effect form, resolved.
    page.select_option("#id_side_effect-symptom", label=str(symptom("Nausea")))
    page.select_option("#id_side_effect-severity", "moderate")
    page.fill("#id_side_effect-onset_at", local_input(first_dose + timedelta(minutes=20)))
    page.fill("#id_side_effect-resolved_at", local_input(first_dose + timedelta(minutes=50)))
    page.select_option("#id_side_effect-intervention", "medication_given")
    with page.expect_navigation():
        page.click("#side-effect-form button[type=submit]")
    assert "Side effect recorded." in flash(page)

    # 5. Monitoring and discharge, now: the time the page offers.
    page.click("#next-step")
    offered = page.input_value("#id_discharged_at")
    assert offered == local_input(timezone.now()) or offered == local_input(
        timezone.now() - timedelta(minutes=1))
    page.fill("#id_cadss_score", "12")
    page.fill("#id_moaas_score", "5")
    page.check("#id_discharge_criteria_met")
    page.fill("#id_discharged_with", "Partner")
    click_save(page)
    assert "Post-treatment monitoring recorded." in flash(page)

    # The session page: completed, every step, the vitals and the side effect.
    assert "Completed" in page.locator(".badge.text-bg-info").inner_text()
    shown = steps_shown(page)
    for label in ("Consultation", "Medical evaluation", "Setting expectations",
                  "Treatment administration", "Post-treatment monitoring"):
        assert f"✓ {label}" in shown
    assert "35.00 mg (0.50 mg/kg)" in shown and "lot LOT-PAGES-1" in shown
    assert "Discharged" in shown and "after 1" in shown  # 129–131 min
    # Charted after the fact: the dose shows when it was given and when, by whom, entered.
    administration = page.locator("#steps li", has_text="Treatment administration")
    assert "by Nora Nurse" in administration.inner_text()
    assert "charted late" in administration.inner_text()
    assert page.locator("#next-step").count() == 0
    rows = page.locator("#vitals tbody tr").all_inner_texts()
    # Each reading at the time it was taken, in that order: the evaluation's first.
    expected = [(first_dose - timedelta(minutes=20), "128/82"),
                (first_dose + timedelta(minutes=40), "146/84"),
                (first_dose + timedelta(minutes=120), "130/84")]
    assert len(rows) == 3
    for row, (taken_at, pressure) in zip(rows, expected, strict=True):
        assert row.startswith(local_input(taken_at)[-5:]) and pressure in row, rows
    assert "Nausea" in page.locator("#side-effects").inner_text()
    assert "resolved" in page.locator("#side-effects").inner_text()
    page.screenshot(path=str(artifacts / "session-pages-completed.png"), full_page=True)

    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED
    assert session.consultation.mental_health_history == "Two antidepressants tried."
    assert (session.evaluation.systolic_mmhg, session.evaluation.diastolic_mmhg) == (128, 82)
    assert session.evaluation.decision == Evaluation.Decision.CLEARED
    assert session.evaluation.recorded_by == nurse
    assert session.administration.lot_number == "LOT-PAGES-1"
    assert session.administration.started_at == first_dose.replace(second=0, microsecond=0)
    assert 125 <= session.monitoring.observation_minutes <= 135
    assert sorted(VitalSign.objects.filter(session=session)
                  .values_list("systolic_mmhg", flat=True)) == [130, 146]
    assert SideEffectObservation.objects.filter(session=session,
                                                symptom__name="Nausea").count() == 1
    for model in (Consultation, Evaluation, ExpectationSetting):
        assert model.objects.filter(session=session).count() == 1
    # The refused evaluation came back as 400 Bad Request (Chromium logs that); nothing else.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
