"""Baseline and peak blood pressure of a session, as the history's charts and timeline and
the sessions CSV show them (a plain function: no database)."""

from sessions.models import VitalSign
from sessions.safety import PRE_DOSE_PHASE, blood_pressure_baseline_and_peak

PRE, POST_40, PERIODIC = "pre_dose", "post_dose_40", "periodic"


def test_baseline_is_the_last_pre_dose_reading_and_peak_the_highest_after_dosing():
    vitals = [(PRE, 150, 95), (PRE, 128, 84), (PERIODIC, 150, 80), (POST_40, 150, 92),
              (PERIODIC, 149, 99)]
    assert blood_pressure_baseline_and_peak(vitals, evaluation_bp=(120, 80)) == (
        (128, 84), (150, 92))


def test_baseline_falls_back_to_the_evaluation_and_peak_is_absent_before_dosing():
    assert blood_pressure_baseline_and_peak([], evaluation_bp=(122, 78)) == ((122, 78), None)
    assert blood_pressure_baseline_and_peak([(PRE, 130, 85)], evaluation_bp=None) == (
        (130, 85), None)
    assert blood_pressure_baseline_and_peak([], evaluation_bp=None) == (None, None)


def test_the_rule_names_the_pre_dose_phase_the_model_stores():
    assert PRE_DOSE_PHASE == VitalSign.Phase.PRE_DOSE
