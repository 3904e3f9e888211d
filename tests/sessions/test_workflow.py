"""The treatment workflow, as a nurse and a clinician meet it: every rule refused and allowed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from sessions import services
from sessions.errors import WorkflowError
from sessions.models import SideEffectObservation, TreatmentSession, VitalSign
from tests.factories import (
    ConditionFactory,
    MedicationFactory,
    UserFactory,
    administration_data,
    consultation_data,
    evaluation_data,
    expectations_data,
    monitoring_data,
    symptom,
)

pytestmark = pytest.mark.django_db


# --- step order -----------------------------------------------------------------------------

@pytest.mark.parametrize("step, service, data, missing", [
    ("evaluation", services.evaluation_record, evaluation_data, "consultation"),
    ("expectations", services.expectations_record, expectations_data, "medical evaluation"),
])
def test_step_refused_before_the_one_before_it(session, clinician, nurse, step, service, data,
                                               missing):
    if step == "expectations":
        services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    with pytest.raises(WorkflowError, match=f"Record the {missing} before"):
        service(session=session, recorded_by=clinician, **data())
    session.refresh_from_db()
    assert session.step_record(step) is None


def test_administration_refused_before_expectations(session, nurse, advance):
    advance(session, through="evaluation")
    with pytest.raises(WorkflowError, match="Record the setting expectations before"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data())


def test_monitoring_refused_before_administration(session, nurse, advance):
    advance(session, through="expectations")
    with pytest.raises(WorkflowError, match="Record the treatment administration before"):
        services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())


def test_first_step_starts_the_session(session, nurse):
    assert session.status == TreatmentSession.Status.SCHEDULED
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS
    assert session.started_at is not None
    assert session.current_step == "evaluation"


def test_step_can_be_corrected_until_the_next_step_is_recorded(session, nurse):
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    services.consultation_record(session=session, recorded_by=nurse,
                                 **consultation_data(phq9_item_1=3))
    session.refresh_from_db()
    assert session.consultation.phq9_item_1 == 3
    services.evaluation_record(session=session, recorded_by=nurse, **evaluation_data())
    with pytest.raises(WorkflowError, match="can no longer be changed"):
        services.consultation_record(session=session, recorded_by=nurse,
                                     **consultation_data(phq9_item_1=0))


def test_whole_session_completes_with_every_step(session, nurse, advance):
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.COMPLETED
    assert session.recorded_steps == ["consultation", "evaluation", "expectations",
                                      "administration", "monitoring"]
    assert session.current_step_label == "Done"
    assert session.monitoring.observation_minutes >= 120


def test_nothing_recorded_on_a_completed_session(session, nurse, advance):
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    with pytest.raises(WorkflowError, match="completed; nothing more"):
        services.vital_sign_record(session=session, recorded_by=nurse,
                                   measured_at=timezone.now(), systolic_mmhg=120,
                                   diastolic_mmhg=80)


# --- administration needs clearing and consent ------------------------------------------------

def test_administration_refused_until_patient_cleared(session, nurse, advance):
    advance(session, through="expectations", evaluation={"decision": "held"})
    with pytest.raises(WorkflowError, match="held at the medical evaluation"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data())
    assert not hasattr(TreatmentSession.objects.get(pk=session.pk), "administration")


def test_administration_refused_without_consent(session, nurse, advance):
    advance(session, through="expectations", expectations={"consent_signed": False})
    with pytest.raises(WorkflowError, match="signed consent is not recorded"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data())


def test_administration_refused_without_transport_home(session, nurse, advance):
    advance(session, through="expectations", expectations={"transport_arranged": False})
    with pytest.raises(WorkflowError, match="no transport home"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data())


def test_administration_allowed_when_cleared_and_consented(session, nurse, advance):
    advance(session, through="expectations")
    administration = services.administration_record(session=session, recorded_by=nurse,
                                                    **administration_data())
    assert administration.administered_by == nurse


def test_administration_refused_when_drug_differs_from_course(session, nurse, advance):
    advance(session, through="expectations")
    with pytest.raises(WorkflowError, match="drug given must match"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data(drug="esketamine",
                                                             route="intranasal"))


def test_dose_per_kg_computed_from_this_sessions_weight(session, nurse, advance):
    advance(session, through="expectations", evaluation={"weight_kg": Decimal("64.0")})
    administration = services.administration_record(
        session=session, recorded_by=nurse, **administration_data(dose_mg=Decimal("32.00")))
    assert administration.weight_kg == Decimal("64.0")
    assert administration.dose_mg_per_kg == Decimal("0.50")


@pytest.mark.parametrize("dose", [Decimal("0"), Decimal("-5")])
def test_non_positive_dose_refused(session, nurse, advance, dose):
    advance(session, through="expectations")
    with pytest.raises(WorkflowError, match="dose above 0"):
        services.administration_record(session=session, recorded_by=nurse,
                                       **administration_data(dose_mg=dose))


# --- evaluation findings and the override permission -----------------------------------------

def test_evaluation_records_warn_findings_from_history_and_medications(session, clinician,
                                                                       nurse):
    ConditionFactory(patient=session.patient, kind="panic_disorder")
    MedicationFactory(patient=session.patient, name="Alprazolam", drug_class="benzodiazepine")
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    evaluation = services.evaluation_record(
        session=session, recorded_by=nurse,
        **evaluation_data(systolic_mmhg=145, diastolic_mmhg=85))
    codes = {f["code"] for f in evaluation.findings}
    assert {"bp_warn", "panic_risk", "interacting_medication"} <= codes
    assert evaluation.blocked is False
    assert evaluation.is_cleared


def test_inactive_history_is_not_a_finding(session, nurse):
    ConditionFactory(patient=session.patient, kind="panic_disorder", is_active=False)
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    evaluation = services.evaluation_record(session=session, recorded_by=nurse,
                                            **evaluation_data())
    assert evaluation.findings == []


@pytest.mark.parametrize("overrides, message", [
    ({"systolic_mmhg": 160, "diastolic_mmhg": 90}, "hold threshold"),
    ({"systolic_mmhg": 150, "diastolic_mmhg": 100}, "hold threshold"),
    ({"alcohol_or_drugs_last_24h": True}, "24"),
    ({"active_psychosis": True}, "psychosis"),
])
def test_nurse_cannot_clear_a_blocked_patient(session, nurse, overrides, message):
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    with pytest.raises(WorkflowError, match="cannot be cleared") as refused:
        services.evaluation_record(session=session, recorded_by=nurse,
                                   **evaluation_data(**overrides))
    assert message in refused.value.text
    session.refresh_from_db()
    assert session.step_record("evaluation") is None


def test_blocked_patient_can_be_held_by_anyone(session, nurse):
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    evaluation = services.evaluation_record(
        session=session, recorded_by=nurse,
        **evaluation_data(systolic_mmhg=170, diastolic_mmhg=105, decision="held"))
    assert evaluation.blocked and not evaluation.is_cleared


def test_clinician_override_needs_a_written_reason(session, nurse, clinician):
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    with pytest.raises(WorkflowError, match="needs a written reason") as refused:
        services.evaluation_record(session=session, recorded_by=clinician,
                                   **evaluation_data(systolic_mmhg=162, override_reason="  "))
    assert refused.value.field == "override_reason"


def test_clinician_with_override_permission_clears_a_blocked_patient(session, nurse, clinician):
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    evaluation = services.evaluation_record(
        session=session, recorded_by=clinician,
        **evaluation_data(systolic_mmhg=162, override_reason="White-coat; repeat 150/90."))
    assert evaluation.blocked and evaluation.is_cleared
    assert evaluation.override_reason == "White-coat; repeat 150/90."


def test_override_permission_is_what_matters_not_the_title(session, nurse):
    nurse_without_permission = UserFactory(username="nurse-b", role="Nurse")
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    with pytest.raises(WorkflowError, match="override permission"):
        services.evaluation_record(session=session, recorded_by=nurse_without_permission,
                                   **evaluation_data(systolic_mmhg=162,
                                                     override_reason="I say so"))


def test_hold_threshold_is_clinic_policy_from_settings(session, nurse, settings):
    settings.CLINIC_SAFETY = {"hold_systolic_mmhg": 150, "warn_systolic_mmhg": 130}
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    with pytest.raises(WorkflowError, match="150"):
        services.evaluation_record(session=session, recorded_by=nurse,
                                   **evaluation_data(systolic_mmhg=152))


# --- monitoring -------------------------------------------------------------------------------

def test_monitoring_cannot_close_before_minimum_observation(session, nurse, advance):
    first_dose = timezone.now() - timedelta(minutes=119)
    advance(session, through="administration",
            administration={"started_at": first_dose})
    with pytest.raises(WorkflowError, match="119 minutes observed.*minimum is 120") as refused:
        services.monitoring_record(session=session, recorded_by=nurse,
                                   **monitoring_data(discharged_at=timezone.now()))
    assert refused.value.field == "discharged_at"
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.IN_PROGRESS


def test_monitoring_closes_at_exactly_the_minimum(session, nurse, advance):
    first_dose = timezone.now() - timedelta(minutes=150)
    advance(session, through="administration", administration={"started_at": first_dose})
    monitoring = services.monitoring_record(
        session=session, recorded_by=nurse,
        **monitoring_data(discharged_at=first_dose + timedelta(minutes=120)))
    assert monitoring.observation_minutes == 120


def test_minimum_observation_is_configurable(session, nurse, advance, settings):
    settings.CLINIC_SAFETY = {"min_observation_minutes": 180}
    first_dose = timezone.now() - timedelta(minutes=150)
    advance(session, through="administration", administration={"started_at": first_dose})
    with pytest.raises(WorkflowError, match="minimum is 180"):
        services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())


def test_monitoring_refused_when_discharge_criteria_not_met(session, nurse, advance):
    advance(session, through="administration")
    with pytest.raises(WorkflowError, match="discharge criteria are not met"):
        services.monitoring_record(session=session, recorded_by=nurse,
                                   **monitoring_data(discharge_criteria_met=False))


def test_monitoring_refused_while_a_severe_side_effect_is_unresolved(session, nurse, advance):
    advance(session, through="administration")
    observation = services.side_effect_record(
        session=session, recorded_by=nurse, symptom=symptom("Raised blood pressure"),
        severity="severe", onset_at=timezone.now() - timedelta(minutes=100))
    with pytest.raises(WorkflowError, match="Raised blood pressure"):
        services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    services.side_effect_update(observation=observation, resolved_at=timezone.now(),
                                intervention="medication_given")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())


# --- vitals flags -----------------------------------------------------------------------------

def test_vitals_flag_a_rise_over_baseline_and_low_spo2(session, nurse, advance):
    advance(session, through="administration")  # evaluation baseline 122/78
    quiet = services.vital_sign_record(
        session=session, recorded_by=nurse, measured_at=timezone.now(),
        phase=VitalSign.Phase.POST_DOSE_40, systolic_mmhg=161, diastolic_mmhg=102,
        spo2_percent=92)
    assert quiet.flags == []
    raised = services.vital_sign_record(
        session=session, recorded_by=nurse, measured_at=timezone.now(),
        phase=VitalSign.Phase.POST_DOSE_40, systolic_mmhg=162, diastolic_mmhg=103,
        spo2_percent=91)
    assert {f["code"] for f in raised.flags} == {"systolic_rise", "diastolic_rise", "low_spo2"}


def test_pre_dose_reading_becomes_the_baseline(session, nurse, advance):
    advance(session, through="expectations")
    services.vital_sign_record(session=session, recorded_by=nurse,
                               measured_at=timezone.now(), phase=VitalSign.Phase.PRE_DOSE,
                               systolic_mmhg=100, diastolic_mmhg=60)
    reading = services.vital_sign_record(session=session, recorded_by=nurse,
                                         measured_at=timezone.now(),
                                         phase=VitalSign.Phase.PERIODIC,
                                         systolic_mmhg=140, diastolic_mmhg=70)
    assert [f["code"] for f in reading.flags] == ["systolic_rise"]


def test_vitals_refused_before_evaluation(session, nurse):
    with pytest.raises(WorkflowError, match="medical evaluation"):
        services.vital_sign_record(session=session, recorded_by=nurse,
                                   measured_at=timezone.now(), systolic_mmhg=120,
                                   diastolic_mmhg=80)


# --- side effects -------------------------------------------------------------------------------

def test_side_effect_refused_on_a_session_not_started(session, nurse):
    with pytest.raises(WorkflowError, match="session that has started"):
        services.side_effect_record(session=session, recorded_by=nurse,
                                    symptom=symptom("Nausea"), severity="mild",
                                    onset_at=timezone.now())


def test_side_effect_belongs_to_a_session_or_a_follow_up_not_both(session, nurse):
    with pytest.raises(WorkflowError, match="not both"):
        services.side_effect_record(recorded_by=nurse, symptom=symptom("Nausea"),
                                    severity="mild", onset_at=timezone.now())


def test_withdrawal_symptom_recorded_on_a_follow_up_weeks_later(session, nurse, advance):
    from sessions.models import FollowUp

    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    follow_up = FollowUp.objects.create(patient=session.patient, session=session,
                                        kind="course_30d", due_on=timezone.localdate())
    observation = services.side_effect_record(
        follow_up=follow_up, recorded_by=nurse, symptom=symptom("Insomnia", "withdrawal_sleep"),
        severity="moderate", onset_at=timezone.now() - timedelta(days=3))
    assert observation.session is None and observation.follow_up == follow_up


def test_side_effect_cannot_resolve_before_onset(session, nurse, advance):
    advance(session, through="consultation")
    with pytest.raises(ValidationError) as refused:
        services.side_effect_record(session=session, recorded_by=nurse,
                                    symptom=symptom("Nausea"), severity="mild",
                                    onset_at=timezone.now(),
                                    resolved_at=timezone.now() - timedelta(minutes=5))
    assert "cannot resolve before its onset" in str(refused.value)
    assert not SideEffectObservation.objects.exists()


def test_only_a_clinician_signs_off_a_side_effect(session, nurse, clinician, advance):
    advance(session, through="consultation")
    observation = services.side_effect_record(session=session, recorded_by=nurse,
                                              symptom=symptom("Panic attack", "panic"),
                                              severity="severe", onset_at=timezone.now())
    with pytest.raises(WorkflowError, match="Only a clinician"):
        services.side_effect_sign_off(observation=observation, user=nurse)
    signed = services.side_effect_sign_off(observation=observation, user=clinician)
    assert signed.signed_off_by == clinician and signed.signed_off_at is not None


# --- cancelling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("through", [None, "consultation", "administration"])
def test_session_can_be_cancelled_at_any_point_before_completion(session, advance, through):
    if through:
        advance(session, through=through)
    cancelled = services.session_cancel(session=session, reason="Patient unwell")
    assert cancelled.status == TreatmentSession.Status.CANCELLED
    assert cancelled.cancellation_reason == "Patient unwell"


def test_completed_session_cannot_be_cancelled(session, nurse, advance):
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    with pytest.raises(WorkflowError, match="cannot be cancelled"):
        services.session_cancel(session=session, reason="Oops")


def test_cancel_needs_a_reason(session):
    with pytest.raises(WorkflowError, match="reason"):
        services.session_cancel(session=session, reason=" ")
    session.refresh_from_db()
    assert session.status == TreatmentSession.Status.SCHEDULED


def test_no_show_only_before_the_session_starts(session, advance):
    advance(session, through="consultation")
    with pytest.raises(WorkflowError, match="no-show"):
        services.session_cancel(session=session, reason="Did not attend", no_show=True)


def test_cancelled_session_refuses_further_steps(session, nurse):
    services.session_cancel(session=session, reason="Snow storm")
    with pytest.raises(WorkflowError, match="cancelled; nothing more"):
        services.consultation_record(session=session, recorded_by=nurse, **consultation_data())


# --- scheduling -----------------------------------------------------------------------------------

def test_scheduling_refuses_another_patients_course(session, clinician):
    from tests.factories import CourseFactory, PatientFactory

    other_course = CourseFactory(responsible_clinician=clinician)
    with pytest.raises(WorkflowError, match="another patient"):
        services.session_schedule(patient=PatientFactory(), course=other_course,
                                  clinician=clinician, scheduled_at=timezone.now())


def test_scheduling_refuses_an_archived_patient(session, clinician):
    from patients.services import patient_archive

    patient_archive(patient=session.patient)
    with pytest.raises(WorkflowError, match="archived"):
        services.session_schedule(patient=session.patient, course=session.course,
                                  clinician=clinician, scheduled_at=timezone.now())


def test_reschedule_only_before_start(session, advance):
    later = timezone.now() + timedelta(days=3)
    assert services.session_reschedule(session=session, scheduled_at=later).scheduled_at == later
    advance(session, through="consultation")
    with pytest.raises(WorkflowError, match="not started"):
        services.session_reschedule(session=session, scheduled_at=later)
