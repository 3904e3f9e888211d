"""Risk flags in the patient header: panic, cardiovascular and interaction risk."""

import pytest

from patients.risk import RiskFlags, risk_flags
from sessions.safety import CONDITION_KINDS, DRUG_CLASSES, INTERACTING_DRUG_CLASSES


def test_patient_with_no_history_has_no_risk_flags():
    flags = risk_flags(condition_kinds=[], drug_classes=[])
    assert flags == RiskFlags(panic=False, cardiovascular=False, interaction=False)
    assert flags.labels() == []


@pytest.mark.parametrize("kind", ["anxiety", "panic_disorder", "trauma_ptsd"])
def test_anxiety_panic_or_trauma_history_sets_panic_risk(kind):
    flags = risk_flags(condition_kinds=[kind], drug_classes=[])
    assert flags == RiskFlags(panic=True, cardiovascular=False, interaction=False)
    assert flags.labels() == ["Panic risk"]


@pytest.mark.parametrize("kind", ["hypertension", "cardiovascular"])
def test_hypertension_or_cardiovascular_disease_sets_cardiovascular_risk(kind):
    flags = risk_flags(condition_kinds=[kind], drug_classes=[])
    assert flags == RiskFlags(panic=False, cardiovascular=True, interaction=False)
    assert flags.labels() == ["Cardiovascular risk"]


@pytest.mark.parametrize("drug_class", INTERACTING_DRUG_CLASSES)
def test_each_interacting_drug_class_sets_interaction_risk(drug_class):
    flags = risk_flags(condition_kinds=[], drug_classes=[drug_class])
    assert flags == RiskFlags(panic=False, cardiovascular=False, interaction=True)
    assert flags.labels() == ["Interaction risk"]


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in CONDITION_KINDS
        if k not in {"anxiety", "panic_disorder", "trauma_ptsd", "hypertension", "cardiovascular"}
    ],
)
def test_other_conditions_set_no_risk_flag(kind):
    assert risk_flags(condition_kinds=[kind], drug_classes=[]).labels() == []


@pytest.mark.parametrize(
    "drug_class", [c for c in DRUG_CLASSES if c not in INTERACTING_DRUG_CLASSES]
)
def test_non_interacting_drug_classes_set_no_risk_flag(drug_class):
    assert risk_flags(condition_kinds=[], drug_classes=[drug_class]).labels() == []


def test_all_flags_listed_in_a_fixed_order():
    flags = risk_flags(
        condition_kinds=["hypertension", "panic_disorder"],
        drug_classes=["opioid", "antidepressant"],
    )
    assert flags.labels() == ["Panic risk", "Cardiovascular risk", "Interaction risk"]


def test_risk_flags_accept_any_iterable_including_generators():
    flags = risk_flags(
        condition_kinds=(kind for kind in ["anxiety"]),
        drug_classes=iter(["sedative"]),
    )
    assert flags.labels() == ["Panic risk", "Interaction risk"]


def test_unknown_condition_kind_is_refused_rather_than_ignored():
    with pytest.raises(ValueError, match="panic"):
        risk_flags(condition_kinds=["panic"], drug_classes=[])


def test_unknown_drug_class_is_refused_rather_than_ignored():
    with pytest.raises(ValueError, match="benzo"):
        risk_flags(condition_kinds=[], drug_classes=["benzo"])
