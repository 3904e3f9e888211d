"""`seed_demo --patients N` bulk data: the counts asked for, the same data for the same seed,
and every generated row obeys the rules the services enforce (not only the constraints)."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from patients.models import Condition, Medication, Patient
from sessions import safety
from sessions.bulk_demo import bulk_fingerprint, bulk_patients, bulk_seed, bulk_tag
from sessions.models import (
    STEP_ACCESSORS,
    STEP_CODES,
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    FollowUp,
    Monitoring,
    Reminder,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)

pytestmark = pytest.mark.django_db

ANCHOR = date(2026, 3, 2)
STEP_SELECT = ("patient", "course", *STEP_ACCESSORS.values())


@pytest.fixture
def loaded(db):
    """12 patients × 9 sessions, seed 11."""
    return bulk_seed(patients=12, sessions_per_patient=9, seed=11, anchor=ANCHOR)


def _sessions(tag="s11"):
    return (TreatmentSession.objects.filter(patient__in=bulk_patients(tag))
            .select_related(*STEP_SELECT).prefetch_related("vital_signs", "side_effects"))


def test_command_loads_the_requested_numbers_of_patients_and_sessions(db):
    out = StringIO()
    call_command("seed_demo", "--patients", "7", "--sessions-per-patient", "5", "--seed", "3",
                 "--anchor", "2026-03-02", stdout=out)
    assert bulk_patients(bulk_tag(3)).count() == 7
    assert TreatmentSession.objects.filter(patient__in=bulk_patients("s3")).count() == 35
    text = out.getvalue()
    assert "Bulk data: 7 patients" in text and "rows/s" in text
    assert "demo-nurse-pass-2026" in text  # the demo logins still work with bulk data


def test_every_generated_patient_has_the_whole_picture(loaded):
    assert loaded.patients == 12
    assert loaded.rows["sessions"] == 12 * 9
    for patient in bulk_patients("s11"):
        assert Condition.objects.filter(patient=patient).exists()
        assert TreatmentCourse.objects.filter(patient=patient).exists()
        assert TreatmentSession.objects.filter(patient=patient).count() == 9
    # Across the data set: medications, every step, a vitals series, side effects (some
    # serious, some at follow-ups), follow-ups, reminders sent and pending.
    assert Medication.objects.filter(patient__in=bulk_patients("s11")).exists()
    for model in (Consultation, Evaluation, ExpectationSetting, Administration, Monitoring):
        assert model.objects.filter(session__patient__in=bulk_patients("s11")).exists(), model
    phases = set(VitalSign.objects.values_list("phase", flat=True))
    assert {"pre_dose", "post_dose_40", "periodic", "pre_discharge"} <= phases
    assert SideEffectObservation.objects.filter(session__isnull=False).exists()
    assert FollowUp.objects.filter(patient__in=bulk_patients("s11")).exists()
    statuses = set(Reminder.objects.values_list("status", flat=True))
    assert {"sent", "pending"} <= statuses
    assert set(TreatmentSession.objects.values_list("status", flat=True)) >= {
        "completed", "scheduled"}
    # The numbers the command reports are the rows in the database.
    assert loaded.rows["vitals"] == VitalSign.objects.count()
    assert loaded.rows["reminders"] == Reminder.objects.count()


def test_rare_states_appear_at_a_larger_size(db):
    """Serious side effects, withdrawal symptoms at follow-ups, held, cancelled and
    in-progress sessions are a few per cent each: present in a couple of thousand sessions."""
    bulk_seed(patients=120, sessions_per_patient=20, seed=5, anchor=ANCHOR)
    assert SideEffectObservation.objects.filter(is_serious=True).exists()
    withdrawal = SideEffectObservation.objects.filter(
        follow_up__isnull=False, symptom__category__startswith="withdrawal")
    assert withdrawal.exists()
    statuses = set(TreatmentSession.objects.values_list("status", flat=True))
    assert statuses == {"scheduled", "in_progress", "completed", "cancelled", "no_show"}
    assert Evaluation.objects.filter(decision="held").exists()
    assert Reminder.objects.filter(kind="clinician_alert").exists()
    assert Reminder.objects.filter(status="failed").exists()
    assert not Reminder.objects.filter(patient__reminders_opt_in=False).exclude(
        kind="clinician_alert").exists()


def test_generated_sessions_obey_the_workflow_rules(loaded):
    thresholds = safety.Thresholds()
    checked_completed = 0
    for session in _sessions():
        recorded = [code for code in STEP_CODES if session.step_record(code) is not None]
        # Steps in order: what is recorded is always a prefix of the five steps.
        assert recorded == list(STEP_CODES[:len(recorded)]), session.pk
        if session.status == "completed":
            checked_completed += 1
            assert recorded == list(STEP_CODES)
        else:
            assert "monitoring" not in recorded  # monitoring only closes a completed session
        if session.status == "scheduled":
            assert recorded == []
        evaluation = session.step_record("evaluation")
        if evaluation is not None:
            _assert_evaluation_findings_recomputed(session, evaluation, thresholds)
        administration = session.step_record("administration")
        if administration is not None:
            assert evaluation.decision == "cleared"
            assert session.expectation_setting.consent_signed
            assert administration.weight_kg == evaluation.weight_kg
            assert administration.dose_mg_per_kg == safety.dose_mg_per_kg(
                administration.dose_mg, evaluation.weight_kg)
            if administration.drug == "esketamine":
                assert administration.route == "intranasal"
        monitoring = session.step_record("monitoring")
        if monitoring is not None:
            assert monitoring.observation_minutes >= thresholds.min_observation_minutes
            assert monitoring.observation_minutes == safety.observation_minutes(
                administration.started_at, monitoring.discharged_at)
            _assert_vitals_series(session, administration, monitoring, thresholds)
            for effect in session.side_effects.all():
                if effect.needs_clinician_alert:
                    assert effect.resolved_at <= monitoring.discharged_at
                    assert effect.signed_off_by_id is not None
    assert checked_completed > 50


def _assert_evaluation_findings_recomputed(session, evaluation, thresholds):
    patient = session.patient
    findings = safety.evaluation_findings(
        vitals=safety.Vitals(systolic_mmhg=evaluation.systolic_mmhg,
                             diastolic_mmhg=evaluation.diastolic_mmhg,
                             heart_rate_bpm=evaluation.heart_rate_bpm,
                             spo2_percent=evaluation.spo2_percent),
        condition_kinds=list(patient.conditions.values_list("kind", flat=True)),
        medications=[safety.MedicationFact(name=m.name, drug_class=m.drug_class,
                                           started_on=m.started_on, changed_on=m.changed_on)
                     for m in patient.medications.all()],
        alcohol_or_drugs_last_24h=evaluation.alcohol_or_drugs_last_24h,
        active_psychosis=evaluation.active_psychosis,
        today=session.scheduled_at.astimezone(safety_zone()).date(), thresholds=thresholds,
    )
    assert evaluation.findings == [f.as_dict() for f in findings]
    assert evaluation.blocked == safety.has_block(findings)
    if evaluation.blocked and evaluation.decision == "cleared":
        assert evaluation.override_reason


def safety_zone():
    import zoneinfo

    from django.conf import settings
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _assert_vitals_series(session, administration, monitoring, thresholds):
    vitals = sorted(session.vital_signs.all(), key=lambda v: v.measured_at)
    phases = [v.phase for v in vitals]
    assert phases[0] == "pre_dose" and phases[-1] == "pre_discharge"
    assert "post_dose_40" in phases
    if administration.route == "iv":
        assert phases.count("during") >= 2  # every 15 minutes during an infusion
    baseline = vitals[0]
    base = safety.Vitals(systolic_mmhg=baseline.systolic_mmhg,
                         diastolic_mmhg=baseline.diastolic_mmhg,
                         heart_rate_bpm=baseline.heart_rate_bpm,
                         spo2_percent=baseline.spo2_percent)
    for vital in vitals[1:]:
        reading = safety.Vitals(systolic_mmhg=vital.systolic_mmhg,
                                diastolic_mmhg=vital.diastolic_mmhg,
                                heart_rate_bpm=vital.heart_rate_bpm,
                                spo2_percent=vital.spo2_percent)
        expected = safety.monitoring_flags(baseline=base, reading=reading, thresholds=thresholds)
        assert vital.flags == [f.as_dict() for f in expected]
    assert vitals[-1].measured_at <= monitoring.discharged_at


def test_a_sample_of_every_generated_model_passes_full_clean(loaded):
    models = (Patient, Condition, Medication, TreatmentCourse, TreatmentSession, Consultation,
              Evaluation, ExpectationSetting, Administration, Monitoring, VitalSign, FollowUp,
              SideEffectObservation, Reminder)
    for model in models:
        sample = list(model.objects.order_by("?")[:25])
        assert sample, model
        for instance in sample:
            instance.full_clean()  # field validators, uniqueness and every check constraint


def test_same_seed_gives_the_same_data_and_another_seed_does_not(db):
    fingerprints = []
    for seed in (21, 21, 22):
        with transaction.atomic():
            bulk_seed(patients=6, sessions_per_patient=6, seed=seed, anchor=ANCHOR,
                      tag="fingerprint")
            fingerprints.append(bulk_fingerprint("fingerprint"))
            transaction.set_rollback(True)
    assert fingerprints[0] == fingerprints[1]
    assert fingerprints[0] != fingerprints[2]


def test_loading_the_same_seed_twice_is_refused_and_adds_nothing(loaded):
    before = TreatmentSession.objects.count()
    with pytest.raises(CommandError, match="already loaded"):
        call_command("seed_demo", "--patients", "3", "--seed", "11", stdout=StringIO())
    assert TreatmentSession.objects.count() == before


@pytest.mark.parametrize("option", ["--patients", "--sessions-per-patient"])
def test_sizes_below_one_are_refused_with_a_message(db, option):
    args = {"--patients": ["--patients", "0"],
            "--sessions-per-patient": ["--patients", "2", "--sessions-per-patient", "0"]}
    with pytest.raises(CommandError, match="at least 1"):
        call_command("seed_demo", *args[option], stdout=StringIO())
    assert Patient.objects.count() == 0


def test_generated_doses_are_plausible(loaded):
    for administration in Administration.objects.all():
        if administration.drug == "esketamine":
            assert administration.dose_mg in (Decimal("56"), Decimal("84"))
        else:
            assert Decimal("0.4") <= administration.dose_mg_per_kg <= Decimal("1.1")
