"""Safety findings: every rule just below and at its threshold, and the arithmetic around dosing."""

from dataclasses import FrozenInstanceError, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import django.conf
import pytest
from django.core.exceptions import ImproperlyConfigured

from sessions.safety import (
    BLOCK,
    CONDITION_KINDS,
    DRUG_CLASSES,
    INTERACTING_DRUG_CLASSES,
    WARN,
    Finding,
    MedicationFact,
    Thresholds,
    Vitals,
    blood_pressure_in_range,
    dose_mg_per_kg,
    evaluation_findings,
    has_block,
    monitoring_flags,
    observation_minutes,
)

TODAY = date(2025, 3, 31)
DEFAULTS = Thresholds()
NORMAL = Vitals(systolic_mmhg=120, diastolic_mmhg=80, heart_rate_bpm=72, spo2_percent=98)


def evaluate(
    vitals=NORMAL,
    *,
    conditions=(),
    medications=(),
    alcohol_or_drugs=False,
    active_psychosis=False,
    thresholds=DEFAULTS,
):
    return evaluation_findings(
        vitals=vitals,
        condition_kinds=conditions,
        medications=medications,
        alcohol_or_drugs_last_24h=alcohol_or_drugs,
        active_psychosis=active_psychosis,
        today=TODAY,
        thresholds=thresholds,
    )


def codes(findings):
    return [finding.code for finding in findings]


def bp(systolic, diastolic):
    return Vitals(systolic_mmhg=systolic, diastolic_mmhg=diastolic, heart_rate_bpm=72)


# --- Thresholds -------------------------------------------------------------------------------


def test_thresholds_defaults_match_the_documented_clinic_policy():
    assert Thresholds() == Thresholds(
        hold_systolic_mmhg=160,
        hold_diastolic_mmhg=100,
        warn_systolic_mmhg=140,
        warn_diastolic_mmhg=90,
        warn_heart_rate_bpm=110,
        min_spo2_percent=92,
        monitoring_systolic_rise_mmhg=40,
        monitoring_diastolic_rise_mmhg=25,
        min_observation_minutes=120,
        antidepressant_change_days=28,
        rems_submission_days=7,
    )


def test_thresholds_cannot_be_changed_after_loading():
    with pytest.raises(FrozenInstanceError):
        DEFAULTS.hold_systolic_mmhg = 200


def test_thresholds_from_mapping_overrides_given_keys_and_keeps_other_defaults():
    thresholds = Thresholds.from_mapping({"hold_systolic_mmhg": 150, "min_observation_minutes": 90})
    assert thresholds.hold_systolic_mmhg == 150
    assert thresholds.min_observation_minutes == 90
    assert thresholds.hold_diastolic_mmhg == 100
    assert thresholds.rems_submission_days == 7


def test_thresholds_from_empty_mapping_are_the_defaults():
    assert Thresholds.from_mapping({}) == DEFAULTS


def test_thresholds_from_mapping_rejects_unknown_keys_by_name():
    with pytest.raises(ImproperlyConfigured, match="hold_systolic"):
        Thresholds.from_mapping({"hold_systolic": 150})


@pytest.mark.parametrize("value", ["150", 150.0, True, -1, None])
def test_thresholds_from_mapping_rejects_values_that_are_not_whole_numbers(value):
    with pytest.raises(ImproperlyConfigured, match="hold_systolic_mmhg"):
        Thresholds.from_mapping({"hold_systolic_mmhg": value})


def test_thresholds_from_mapping_rejects_warning_above_hold():
    with pytest.raises(ImproperlyConfigured, match="must not be above the hold"):
        Thresholds.from_mapping({"warn_diastolic_mmhg": 105})


def test_thresholds_from_mapping_rejects_something_other_than_a_dict():
    with pytest.raises(ImproperlyConfigured, match="must be a dict"):
        Thresholds.from_mapping([("hold_systolic_mmhg", 150)])


def test_thresholds_from_settings_reads_clinic_safety(monkeypatch):
    monkeypatch.setattr(
        django.conf, "settings", SimpleNamespace(CLINIC_SAFETY={"min_spo2_percent": 90})
    )
    assert Thresholds.from_settings() == Thresholds(min_spo2_percent=90)


def test_thresholds_from_settings_without_clinic_safety_are_the_defaults(monkeypatch):
    monkeypatch.setattr(django.conf, "settings", SimpleNamespace())
    assert Thresholds.from_settings() == DEFAULTS


def test_thresholds_from_settings_rejects_unknown_keys(monkeypatch):
    monkeypatch.setattr(django.conf, "settings", SimpleNamespace(CLINIC_SAFETY={"hold_bp": 150}))
    with pytest.raises(ImproperlyConfigured, match="hold_bp"):
        Thresholds.from_settings()


# --- Evaluation: blood pressure --------------------------------------------------------------


def test_normal_evaluation_has_no_findings():
    assert evaluate() == []


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (139, 89, []),
        (140, 80, ["bp_warn"]),
        (120, 90, ["bp_warn"]),
        (159, 99, ["bp_warn"]),
        (160, 80, ["bp_hold"]),
        (120, 100, ["bp_hold"]),
        (165, 95, ["bp_hold"]),
        (180, 110, ["bp_hold"]),
    ],
)
def test_blood_pressure_warns_from_140_90_and_holds_from_160_100(systolic, diastolic, expected):
    assert codes(evaluate(bp(systolic, diastolic))) == expected


def test_blood_pressure_hold_is_a_block_and_warning_is_not():
    assert has_block(evaluate(bp(160, 80)))
    assert not has_block(evaluate(bp(159, 99)))


def test_blood_pressure_hold_message_gives_reading_and_threshold():
    (finding,) = evaluate(bp(165, 95))
    assert finding.level == BLOCK
    assert finding.message.startswith(
        "Blood pressure 165/95 mmHg is at or above the hold threshold of 160/100 mmHg."
    )


def test_blood_pressure_warning_message_gives_reading_and_threshold():
    (finding,) = evaluate(bp(145, 85))
    assert finding.level == WARN
    assert "145/85 mmHg" in finding.message
    assert "warning threshold of 140/90 mmHg" in finding.message


def test_blood_pressure_thresholds_come_from_configuration():
    strict = Thresholds(hold_systolic_mmhg=150, warn_systolic_mmhg=130)
    assert codes(evaluate(bp(150, 80), thresholds=strict)) == ["bp_hold"]
    assert codes(evaluate(bp(130, 80), thresholds=strict)) == ["bp_warn"]
    assert "150/100 mmHg" in evaluate(bp(150, 80), thresholds=strict)[0].message


@pytest.mark.parametrize(
    ("systolic", "diastolic", "in_range"),
    [(159, 99, True), (160, 99, False), (159, 100, False), (120, 80, True)],
)
def test_blood_pressure_in_range_means_below_hold_on_both_numbers(systolic, diastolic, in_range):
    assert blood_pressure_in_range(bp(systolic, diastolic), DEFAULTS) is in_range


# --- Evaluation: other vitals ---------------------------------------------------------------


@pytest.mark.parametrize(("spo2", "expected"), [(91, ["low_spo2"]), (92, []), (None, [])])
def test_evaluation_blocks_spo2_below_92(spo2, expected):
    vitals = Vitals(systolic_mmhg=120, diastolic_mmhg=80, spo2_percent=spo2)
    findings = evaluate(vitals)
    assert codes(findings) == expected
    assert all(finding.level == BLOCK for finding in findings)


def test_low_spo2_message_gives_reading_and_minimum():
    (finding,) = evaluate(Vitals(systolic_mmhg=120, diastolic_mmhg=80, spo2_percent=89))
    assert "SpO2 89% is below the minimum of 92%" in finding.message


@pytest.mark.parametrize(
    ("heart_rate", "expected"), [(109, []), (110, ["tachycardia"]), (None, [])]
)
def test_evaluation_warns_heart_rate_from_110(heart_rate, expected):
    vitals = Vitals(systolic_mmhg=120, diastolic_mmhg=80, heart_rate_bpm=heart_rate)
    findings = evaluate(vitals)
    assert codes(findings) == expected
    assert all(finding.level == WARN for finding in findings)


def test_tachycardia_message_gives_reading_and_threshold():
    (finding,) = evaluate(Vitals(systolic_mmhg=120, diastolic_mmhg=80, heart_rate_bpm=118))
    assert "Heart rate 118 bpm" in finding.message
    assert "110 bpm" in finding.message


@pytest.mark.parametrize(
    "vitals_kwargs",
    [
        {"systolic_mmhg": 0, "diastolic_mmhg": 80},
        {"systolic_mmhg": 120, "diastolic_mmhg": -1},
        {"systolic_mmhg": 120.5, "diastolic_mmhg": 80},
        {"systolic_mmhg": 120, "diastolic_mmhg": 80, "spo2_percent": 101},
        {"systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate_bpm": 0},
    ],
)
def test_vitals_refuse_impossible_readings(vitals_kwargs):
    with pytest.raises(ValueError):
        Vitals(**vitals_kwargs)


# --- Evaluation: today's observations and the record ----------------------------------------


def test_alcohol_or_drugs_in_last_24_hours_blocks():
    findings = evaluate(alcohol_or_drugs=True)
    assert codes(findings) == ["alcohol_or_drugs"]
    assert findings[0].level == BLOCK


def test_active_psychosis_blocks():
    findings = evaluate(active_psychosis=True)
    assert codes(findings) == ["active_psychosis"]
    assert findings[0].level == BLOCK


def test_pregnancy_blocks():
    findings = evaluate(conditions=["pregnancy"])
    assert codes(findings) == ["pregnancy"]
    assert findings[0].level == BLOCK


@pytest.mark.parametrize("kind", ["hypertension", "cardiovascular"])
def test_cardiovascular_history_warns(kind):
    findings = evaluate(conditions=[kind])
    assert codes(findings) == ["cardiovascular_history"]
    assert findings[0].level == WARN


def test_hypertension_and_cardiovascular_disease_give_one_warning_naming_both():
    (finding,) = evaluate(conditions=["hypertension", "cardiovascular"])
    assert "hypertension and cardiovascular disease" in finding.message


@pytest.mark.parametrize("kind", ["anxiety", "panic_disorder", "trauma_ptsd"])
def test_anxiety_panic_or_trauma_history_warns_of_panic_risk(kind):
    findings = evaluate(conditions=[kind])
    assert codes(findings) == ["panic_risk"]
    assert findings[0].level == WARN


def test_several_anxiety_conditions_give_one_panic_risk_warning():
    findings = evaluate(conditions=["anxiety", "panic_disorder", "trauma_ptsd", "anxiety"])
    assert codes(findings) == ["panic_risk"]
    assert "trauma / PTSD" in findings[0].message


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("bipolar", "bipolar_history"),
        ("psychosis", "psychosis_history"),
        ("substance_use", "substance_use_history"),
    ],
)
def test_psychiatric_and_substance_history_warns(kind, code):
    findings = evaluate(conditions=[kind])
    assert codes(findings) == [code]
    assert findings[0].level == WARN


@pytest.mark.parametrize("kind", ["depression", "other"])
def test_conditions_without_a_rule_give_no_findings(kind):
    assert evaluate(conditions=[kind]) == []


def test_psychosis_history_not_repeated_when_active_psychosis_already_blocks():
    findings = evaluate(conditions=["psychosis"], active_psychosis=True)
    assert codes(findings) == ["active_psychosis"]


def test_unknown_condition_kind_is_refused_rather_than_ignored():
    with pytest.raises(ValueError, match="cardiac"):
        evaluate(conditions=["cardiac"])


# --- Evaluation: medications -----------------------------------------------------------------


@pytest.mark.parametrize("drug_class", INTERACTING_DRUG_CLASSES)
def test_each_interacting_drug_class_warns(drug_class):
    findings = evaluate(medications=[MedicationFact("Some drug", drug_class)])
    assert "interacting_medication" in codes(findings)
    assert all(finding.level == WARN for finding in findings)


@pytest.mark.parametrize(
    "drug_class",
    ["antidepressant", "antipsychotic", "mood_stabilizer", "antihypertensive", "other"],
)
def test_non_interacting_drug_classes_do_not_warn_of_interaction(drug_class):
    findings = evaluate(medications=[MedicationFact("Some drug", drug_class)])
    assert "interacting_medication" not in codes(findings)


def test_one_interaction_warning_per_medication_naming_drug_and_class():
    findings = evaluate(
        medications=[
            MedicationFact("Lorazepam", "benzodiazepine"),
            MedicationFact("Oxycodone", "opioid"),
            MedicationFact("Lisinopril", "antihypertensive"),
        ]
    )
    assert codes(findings) == ["interacting_medication", "interacting_medication"]
    assert "Lorazepam (Benzodiazepine)" in findings[0].message
    assert "Oxycodone (Opioid)" in findings[1].message


def test_unknown_drug_class_is_refused_rather_than_ignored():
    with pytest.raises(ValueError, match="benzo"):
        MedicationFact("Lorazepam", "benzo")


@pytest.mark.parametrize(
    ("days_ago", "warned"), [(0, True), (1, True), (27, True), (28, True), (29, False)]
)
def test_antidepressant_changed_within_28_days_warns(days_ago, warned):
    sertraline = MedicationFact(
        "Sertraline", "antidepressant", changed_on=TODAY - timedelta(days=days_ago)
    )
    assert (codes(evaluate(medications=[sertraline])) == ["antidepressant_change"]) is warned


@pytest.mark.parametrize(("days_ago", "warned"), [(28, True), (29, False)])
def test_antidepressant_started_within_28_days_warns(days_ago, warned):
    sertraline = MedicationFact(
        "Sertraline", "antidepressant", started_on=TODAY - timedelta(days=days_ago)
    )
    assert (codes(evaluate(medications=[sertraline])) == ["antidepressant_change"]) is warned


def test_antidepressant_change_message_names_drug_date_and_window():
    sertraline = MedicationFact(
        "Sertraline",
        "antidepressant",
        started_on=date(2024, 1, 1),
        changed_on=TODAY - timedelta(days=10),
    )
    (finding,) = evaluate(medications=[sertraline])
    assert finding.message.startswith(
        "Sertraline (Antidepressant) was changed on 2025-03-21 (10 days ago), "
        "within the 28-day review window."
    )


def test_antidepressant_change_planned_for_a_future_date_warns():
    sertraline = MedicationFact(
        "Sertraline", "antidepressant", changed_on=TODAY + timedelta(days=3)
    )
    (finding,) = evaluate(medications=[sertraline])
    assert finding.code == "antidepressant_change"
    assert "is due to be changed on 2025-04-03" in finding.message


def test_long_stable_antidepressant_or_one_without_dates_does_not_warn():
    stable = MedicationFact("Sertraline", "antidepressant", started_on=date(2023, 5, 1))
    undated = MedicationFact("Fluoxetine", "antidepressant")
    assert evaluate(medications=[stable, undated]) == []


def test_recently_started_maoi_warns_of_interaction_and_antidepressant_change():
    phenelzine = MedicationFact("Phenelzine", "maoi", started_on=TODAY - timedelta(days=5))
    assert codes(evaluate(medications=[phenelzine])) == [
        "interacting_medication",
        "antidepressant_change",
    ]


def test_recent_change_of_a_non_antidepressant_does_not_warn():
    quetiapine = MedicationFact("Quetiapine", "antipsychotic", changed_on=TODAY)
    assert evaluate(medications=[quetiapine]) == []


def test_antidepressant_change_window_comes_from_configuration():
    sertraline = MedicationFact(
        "Sertraline", "antidepressant", changed_on=TODAY - timedelta(days=20)
    )
    short_window = Thresholds(antidepressant_change_days=14)
    assert evaluate(medications=[sertraline], thresholds=short_window) == []


# --- Evaluation: the whole list --------------------------------------------------------------


def test_findings_list_blocks_before_warnings_with_distinct_codes():
    findings = evaluate(
        Vitals(systolic_mmhg=170, diastolic_mmhg=85, heart_rate_bpm=120, spo2_percent=90),
        conditions=[
            "anxiety",
            "hypertension",
            "bipolar",
            "psychosis",
            "substance_use",
            "pregnancy",
        ],
        medications=[
            MedicationFact("Lamotrigine", "lamotrigine"),
            MedicationFact("Sertraline", "antidepressant", changed_on=TODAY),
        ],
        alcohol_or_drugs=True,
        active_psychosis=False,
    )
    assert codes(findings) == [
        "bp_hold",
        "alcohol_or_drugs",
        "pregnancy",
        "low_spo2",
        "tachycardia",
        "cardiovascular_history",
        "panic_risk",
        "interacting_medication",
        "antidepressant_change",
        "bipolar_history",
        "psychosis_history",
        "substance_use_history",
    ]
    assert [finding.level for finding in findings] == [BLOCK] * 4 + [WARN] * 8


def test_every_condition_kind_and_drug_class_is_accepted():
    medications = [MedicationFact(f"Drug {cls}", cls) for cls in DRUG_CLASSES]
    assert evaluate(conditions=CONDITION_KINDS, medications=medications)


def test_has_block_is_false_for_warnings_only_and_no_findings():
    assert has_block([]) is False
    assert has_block(evaluate(conditions=["anxiety"])) is False
    assert has_block(evaluate(conditions=["anxiety"], alcohol_or_drugs=True)) is True


def test_finding_as_dict_is_json_ready():
    finding = Finding("bp_warn", WARN, "Recheck.")
    assert finding.as_dict() == {"code": "bp_warn", "level": "warn", "message": "Recheck."}
    assert [field.name for field in fields(Finding)] == ["code", "level", "message"]


def test_finding_refuses_an_unknown_level():
    with pytest.raises(ValueError, match="level"):
        Finding("bp_warn", "info", "Recheck.")


# --- Monitoring ------------------------------------------------------------------------------

BASELINE = Vitals(systolic_mmhg=130, diastolic_mmhg=80, heart_rate_bpm=75, spo2_percent=98)


def monitor(systolic=130, diastolic=80, spo2=98, thresholds=DEFAULTS):
    reading = Vitals(systolic_mmhg=systolic, diastolic_mmhg=diastolic, spo2_percent=spo2)
    return monitoring_flags(baseline=BASELINE, reading=reading, thresholds=thresholds)


@pytest.mark.parametrize(("systolic", "expected"), [(169, []), (170, ["systolic_rise"])])
def test_monitoring_flags_systolic_rise_from_40_over_baseline(systolic, expected):
    assert codes(monitor(systolic=systolic)) == expected


@pytest.mark.parametrize(("diastolic", "expected"), [(104, []), (105, ["diastolic_rise"])])
def test_monitoring_flags_diastolic_rise_from_25_over_baseline(diastolic, expected):
    assert codes(monitor(diastolic=diastolic)) == expected


@pytest.mark.parametrize(("spo2", "expected"), [(91, ["low_spo2"]), (92, []), (None, [])])
def test_monitoring_flags_spo2_below_92(spo2, expected):
    assert codes(monitor(spo2=spo2)) == expected


def test_monitoring_flags_are_warnings():
    flags = monitor(systolic=180, diastolic=110, spo2=88)
    assert codes(flags) == ["systolic_rise", "diastolic_rise", "low_spo2"]
    assert all(flag.level == WARN for flag in flags)


def test_monitoring_does_not_flag_a_fall_in_blood_pressure():
    assert monitor(systolic=90, diastolic=50) == []


def test_monitoring_rise_message_gives_reading_baseline_and_rise():
    (flag,) = monitor(systolic=172)
    assert "Systolic pressure 172 mmHg is 42 mmHg above the baseline of 130 mmHg" in flag.message
    assert "40 mmHg" in flag.message


def test_monitoring_rise_thresholds_come_from_configuration():
    sensitive = Thresholds(monitoring_systolic_rise_mmhg=30)
    assert codes(monitor(systolic=160, thresholds=sensitive)) == ["systolic_rise"]


# --- Dose and observation time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose_mg", "weight_kg", "expected"),
    [
        ("35", "70", "0.50"),
        ("56", "84", "0.67"),  # 0.666... rounds up
        ("50", "75", "0.67"),
        ("1.25", "10", "0.13"),  # exactly half a hundredth rounds up, not to even
        ("1.249", "10", "0.12"),
        ("84", "56", "1.50"),
    ],
)
def test_dose_mg_per_kg_rounds_half_up_to_hundredths(dose_mg, weight_kg, expected):
    result = dose_mg_per_kg(Decimal(dose_mg), Decimal(weight_kg))
    assert result == Decimal(expected)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("dose_mg", "weight_kg"),
    [("0", "70"), ("-35", "70"), ("35", "0"), ("35", "-70"), ("NaN", "70"), ("35", "Infinity")],
)
def test_dose_mg_per_kg_refuses_non_positive_inputs(dose_mg, weight_kg):
    with pytest.raises(ValueError, match="must be a positive number"):
        dose_mg_per_kg(Decimal(dose_mg), Decimal(weight_kg))


def test_dose_mg_per_kg_refuses_floats():
    with pytest.raises(TypeError, match="Decimal"):
        dose_mg_per_kg(35.0, Decimal("70"))


FIRST_DOSE = datetime(2025, 3, 31, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "minutes"),
    [
        (timedelta(0), 0),
        (timedelta(seconds=59), 0),
        (timedelta(minutes=119, seconds=59), 119),
        (timedelta(minutes=120), 120),
        (timedelta(hours=3, minutes=5, seconds=30), 185),
    ],
)
def test_observation_minutes_counts_whole_minutes_rounded_down(elapsed, minutes):
    assert observation_minutes(FIRST_DOSE, FIRST_DOSE + elapsed) == minutes


def test_observation_minutes_refuses_end_before_first_dose():
    with pytest.raises(ValueError, match="before the first dose"):
        observation_minutes(FIRST_DOSE, FIRST_DOSE - timedelta(seconds=1))
