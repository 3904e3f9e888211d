"""Safety findings for the medical evaluation and post-treatment monitoring.

Pure rules, no database access: services gather the patient's conditions, medications and the
vitals just taken, call these functions, and store or refuse based on the findings. Every number
comes from `Thresholds`, because the thresholds are clinic policy (configured in
`settings.CLINIC_SAFETY`), not constants of nature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sessions.policy import OUT_OF_RANGE, PolicyError, configured, field_errors, policy_field

BLOCK = "block"
WARN = "warn"
LEVELS = (BLOCK, WARN)

# Condition kinds stored on patients.Condition.
ANXIETY = "anxiety"
PANIC_DISORDER = "panic_disorder"
TRAUMA_PTSD = "trauma_ptsd"
DEPRESSION = "depression"
BIPOLAR = "bipolar"
PSYCHOSIS = "psychosis"
HYPERTENSION = "hypertension"
CARDIOVASCULAR = "cardiovascular"
SUBSTANCE_USE = "substance_use"
PREGNANCY = "pregnancy"
OTHER_CONDITION = "other"

CONDITION_KINDS = (
    ANXIETY,
    PANIC_DISORDER,
    TRAUMA_PTSD,
    DEPRESSION,
    BIPOLAR,
    PSYCHOSIS,
    HYPERTENSION,
    CARDIOVASCULAR,
    SUBSTANCE_USE,
    PREGNANCY,
    OTHER_CONDITION,
)
CONDITION_KIND_LABELS: dict[str, str] = {
    ANXIETY: "Anxiety",
    PANIC_DISORDER: "Panic disorder",
    TRAUMA_PTSD: "Trauma / PTSD",
    DEPRESSION: "Depression",
    BIPOLAR: "Bipolar disorder",
    PSYCHOSIS: "Psychosis",
    HYPERTENSION: "Hypertension",
    CARDIOVASCULAR: "Cardiovascular disease",
    SUBSTANCE_USE: "Substance use",
    PREGNANCY: "Pregnancy",
    OTHER_CONDITION: "Other",
}
# Shared with patients.risk so the header flags and the evaluation findings never disagree.
PANIC_RISK_CONDITION_KINDS = (ANXIETY, PANIC_DISORDER, TRAUMA_PTSD)
CARDIOVASCULAR_RISK_CONDITION_KINDS = (HYPERTENSION, CARDIOVASCULAR)

# Drug classes stored on patients.Medication.
MAOI = "maoi"
PSYCHOSTIMULANT = "psychostimulant"
BENZODIAZEPINE = "benzodiazepine"
SEDATIVE = "sedative"
OPIOID = "opioid"
LAMOTRIGINE = "lamotrigine"
ANTIDEPRESSANT = "antidepressant"
ANTIPSYCHOTIC = "antipsychotic"
MOOD_STABILIZER = "mood_stabilizer"
ANTIHYPERTENSIVE = "antihypertensive"
OTHER_DRUG_CLASS = "other"

DRUG_CLASSES = (
    MAOI,
    PSYCHOSTIMULANT,
    BENZODIAZEPINE,
    SEDATIVE,
    OPIOID,
    LAMOTRIGINE,
    ANTIDEPRESSANT,
    ANTIPSYCHOTIC,
    MOOD_STABILIZER,
    ANTIHYPERTENSIVE,
    OTHER_DRUG_CLASS,
)
DRUG_CLASS_LABELS: dict[str, str] = {
    MAOI: "MAOI",
    PSYCHOSTIMULANT: "Psychostimulant",
    BENZODIAZEPINE: "Benzodiazepine",
    SEDATIVE: "Sedative",
    OPIOID: "Opioid",
    LAMOTRIGINE: "Lamotrigine",
    ANTIDEPRESSANT: "Antidepressant",
    ANTIPSYCHOTIC: "Antipsychotic",
    MOOD_STABILIZER: "Mood stabilizer",
    ANTIHYPERTENSIVE: "Antihypertensive",
    OTHER_DRUG_CLASS: "Other",
}
INTERACTING_DRUG_CLASSES = (MAOI, PSYCHOSTIMULANT, BENZODIAZEPINE, SEDATIVE, OPIOID, LAMOTRIGINE)
ANTIDEPRESSANT_CLASSES = (ANTIDEPRESSANT, MAOI)


SAFETY_SETTING = "CLINIC_SAFETY"


@dataclass(frozen=True)
class Thresholds:
    """Clinic safety policy; defaults are documented starting points, not medical advice.

    The bounds of each key catch a typo (a digit too many, a negative number), not a clinical
    judgment: anything inside them is the clinic's call.
    """

    hold_systolic_mmhg: int = policy_field(160, low=1, high=300)
    hold_diastolic_mmhg: int = policy_field(100, low=1, high=300)
    warn_systolic_mmhg: int = policy_field(140, low=1, high=300)
    warn_diastolic_mmhg: int = policy_field(90, low=1, high=300)
    warn_heart_rate_bpm: int = policy_field(110, low=1, high=300)
    min_spo2_percent: int = policy_field(92, low=1, high=100)
    monitoring_systolic_rise_mmhg: int = policy_field(40, low=1, high=300)
    monitoring_diastolic_rise_mmhg: int = policy_field(25, low=1, high=300)
    min_observation_minutes: int = policy_field(120, low=1, high=24 * 60)  # REMS minimum: 120
    antidepressant_change_days: int = policy_field(28, low=0, high=366)
    rems_submission_days: int = policy_field(7, low=1, high=366)
    # How far ahead of the server's clock a clinical time may be (a ward clock or a tablet a
    # few minutes fast); anything later is refused as "in the future".
    clock_skew_minutes: int = policy_field(5, low=0, high=60)
    # An entry made this long after the time it records is shown as charted late.
    late_entry_minutes: int = policy_field(30, low=1, high=24 * 60)

    @classmethod
    def policy_errors(cls, mapping: object) -> list[PolicyError]:
        """Every problem of `mapping` as CLINIC_SAFETY; empty when it can be used."""
        errors = field_errors(cls, mapping, setting=SAFETY_SETTING)
        if errors:
            return errors
        thresholds = cls(**mapping)  # type: ignore[arg-type]
        for pressure in ("systolic", "diastolic"):
            warn = getattr(thresholds, f"warn_{pressure}_mmhg")
            hold = getattr(thresholds, f"hold_{pressure}_mmhg")
            if warn > hold:
                errors.append(PolicyError(
                    f"{SAFETY_SETTING} warning blood pressure thresholds must not be above the "
                    f"hold thresholds: warn_{pressure}_mmhg is {warn}, hold_{pressure}_mmhg is "
                    f"{hold}.",
                    setting=SAFETY_SETTING, key=f"warn_{pressure}_mmhg", problem=OUT_OF_RANGE))
        return errors

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> Thresholds:
        """Defaults overridden by `mapping`; a typo in a key must fail loudly, not be ignored."""
        errors = cls.policy_errors(mapping)
        if errors:
            raise errors[0]
        return cls(**mapping)  # type: ignore[arg-type]

    @classmethod
    def settings_errors(cls) -> list[PolicyError]:
        """Every problem of `settings.CLINIC_SAFETY` (imported lazily: this module stays pure)."""
        from django.conf import settings

        return cls.policy_errors(configured(getattr(settings, SAFETY_SETTING, None)))

    @classmethod
    def from_settings(cls) -> Thresholds:
        """Thresholds from `settings.CLINIC_SAFETY`."""
        from django.conf import settings

        return cls.from_mapping(configured(getattr(settings, SAFETY_SETTING, None)))


@dataclass(frozen=True)
class Finding:
    """One safety finding: a stable `code` for logic, a `message` a nurse can act on."""

    code: str
    level: str
    message: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Finding level must be one of {LEVELS}, got {self.level!r}.")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form, for storing the findings with the evaluation."""
        return asdict(self)


@dataclass(frozen=True)
class Vitals:
    """One set of vital signs; heart rate and SpO2 may not have been measured."""

    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int | None = None
    spo2_percent: int | None = None

    def __post_init__(self) -> None:
        for name in ("systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "spo2_percent"):
            value = getattr(self, name)
            if value is None and name in ("heart_rate_bpm", "spo2_percent"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
        if self.spo2_percent is not None and self.spo2_percent > 100:
            raise ValueError(f"spo2_percent cannot be above 100, got {self.spo2_percent}.")

    @property
    def blood_pressure(self) -> str:
        return f"{self.systolic_mmhg}/{self.diastolic_mmhg}"


@dataclass(frozen=True)
class MedicationFact:
    """What the rules need to know about one of the patient's active medications."""

    name: str
    drug_class: str
    started_on: date | None = None
    changed_on: date | None = None

    def __post_init__(self) -> None:
        # An unknown class would silently skip the interaction check; refuse it instead.
        if self.drug_class not in DRUG_CLASSES:
            raise ValueError(
                f"Unknown drug class {self.drug_class!r} for {self.name}; "
                f"expected one of {', '.join(DRUG_CLASSES)}."
            )

    @property
    def class_label(self) -> str:
        return DRUG_CLASS_LABELS[self.drug_class]


def validated_condition_kinds(condition_kinds: Iterable[str]) -> frozenset[str]:
    """The kinds as a set; an unknown kind (a typo) would silently skip a rule, so refuse it."""
    kinds = frozenset(condition_kinds)
    unknown = sorted(kinds.difference(CONDITION_KINDS))
    if unknown:
        raise ValueError(
            f"Unknown condition kind(s) {', '.join(map(repr, unknown))}; "
            f"expected any of {', '.join(CONDITION_KINDS)}."
        )
    return kinds


def _bp_at_or_above(vitals: Vitals, systolic_mmhg: int, diastolic_mmhg: int) -> bool:
    return vitals.systolic_mmhg >= systolic_mmhg or vitals.diastolic_mmhg >= diastolic_mmhg


def blood_pressure_in_range(vitals: Vitals, thresholds: Thresholds) -> bool:
    """True when both numbers are below the hold threshold (the REMS "in range" answer)."""
    return not _bp_at_or_above(
        vitals, thresholds.hold_systolic_mmhg, thresholds.hold_diastolic_mmhg
    )


def _low_spo2_finding(vitals: Vitals, thresholds: Thresholds, *, level: str) -> Finding | None:
    if vitals.spo2_percent is None or vitals.spo2_percent >= thresholds.min_spo2_percent:
        return None
    action = (
        "Hold treatment, recheck the reading and call the clinician."
        if level == BLOCK
        else "Check the patient's breathing, recheck the reading and call the clinician."
    )
    return Finding(
        "low_spo2",
        level,
        f"SpO2 {vitals.spo2_percent}% is below the minimum of "
        f"{thresholds.min_spo2_percent}%. {action}",
    )


def _days_ago(days: int) -> str:
    if days == 0:
        return "today"
    if days < 0:
        return f"in {-days} day{'' if days == -1 else 's'}"
    return f"{days} day{'' if days == 1 else 's'} ago"


def _antidepressant_change_finding(
    medication: MedicationFact, *, today: date, thresholds: Thresholds
) -> Finding | None:
    """Warn when the antidepressant was started or changed within the review window.

    A future date (a planned start or change) counts too: the regimen is not yet stable.
    """
    window = thresholds.antidepressant_change_days
    events = [
        (event_date, event)
        for event_date, event in (
            (medication.changed_on, "changed"),
            (medication.started_on, "started"),
        )
        if event_date is not None and (today - event_date).days <= window
    ]
    if not events:
        return None
    event_date, event = max(events, key=lambda pair: pair[0])
    days = (today - event_date).days
    when = f"was {event}" if days >= 0 else f"is due to be {event}"
    return Finding(
        "antidepressant_change",
        WARN,
        f"{medication.name} ({medication.class_label}) {when} on {event_date.isoformat()} "
        f"({_days_ago(days)}), within the {window}-day review window. "
        "Confirm with the prescriber that treatment should go ahead.",
    )


def _listed(kinds: list[str]) -> str:
    labels = [CONDITION_KIND_LABELS[kind].lower() for kind in kinds]
    labels = [label.replace("ptsd", "PTSD") for label in labels]
    if len(labels) == 1:
        return labels[0]
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


def evaluation_findings(
    *,
    vitals: Vitals,
    condition_kinds: Iterable[str],
    medications: Iterable[MedicationFact],
    alcohol_or_drugs_last_24h: bool,
    active_psychosis: bool,
    today: date,
    thresholds: Thresholds,
) -> list[Finding]:
    """All findings of a medical evaluation, blocks first, then warnings.

    A block means treatment is held unless a clinician with the override permission clears the
    patient with a written reason. A warning is never repeated for a reason already blocked.
    """
    kinds = validated_condition_kinds(condition_kinds)
    medications = list(medications)
    blocks: list[Finding] = []
    warns: list[Finding] = []

    bp_hold = _bp_at_or_above(vitals, thresholds.hold_systolic_mmhg, thresholds.hold_diastolic_mmhg)
    if bp_hold:
        blocks.append(
            Finding(
                "bp_hold",
                BLOCK,
                f"Blood pressure {vitals.blood_pressure} mmHg is at or above the hold threshold "
                f"of {thresholds.hold_systolic_mmhg}/{thresholds.hold_diastolic_mmhg} mmHg. "
                "Hold treatment, let the patient rest, recheck and call the clinician.",
            )
        )
    if alcohol_or_drugs_last_24h:
        blocks.append(
            Finding(
                "alcohol_or_drugs",
                BLOCK,
                "Patient reports alcohol or recreational drug use in the last 24 hours. "
                "Hold treatment and reschedule the session.",
            )
        )
    if active_psychosis:
        blocks.append(
            Finding(
                "active_psychosis",
                BLOCK,
                "Signs of active psychosis were observed at evaluation. "
                "Hold treatment and call the clinician.",
            )
        )
    if PREGNANCY in kinds:
        blocks.append(
            Finding(
                "pregnancy",
                BLOCK,
                "Patient's record lists pregnancy. "
                "Hold treatment until a clinician has reviewed it.",
            )
        )
    low_spo2 = _low_spo2_finding(vitals, thresholds, level=BLOCK)
    if low_spo2 is not None:
        blocks.append(low_spo2)

    if not bp_hold and _bp_at_or_above(
        vitals, thresholds.warn_systolic_mmhg, thresholds.warn_diastolic_mmhg
    ):
        warns.append(
            Finding(
                "bp_warn",
                WARN,
                f"Blood pressure {vitals.blood_pressure} mmHg is at or above the warning "
                f"threshold of {thresholds.warn_systolic_mmhg}/{thresholds.warn_diastolic_mmhg} "
                "mmHg. Recheck before dosing and watch blood pressure closely during monitoring.",
            )
        )
    if (
        vitals.heart_rate_bpm is not None
        and vitals.heart_rate_bpm >= thresholds.warn_heart_rate_bpm
    ):
        warns.append(
            Finding(
                "tachycardia",
                WARN,
                f"Heart rate {vitals.heart_rate_bpm} bpm is at or above the warning threshold "
                f"of {thresholds.warn_heart_rate_bpm} bpm. Recheck after rest before dosing.",
            )
        )
    cardiovascular = [k for k in CARDIOVASCULAR_RISK_CONDITION_KINDS if k in kinds]
    if cardiovascular:
        warns.append(
            Finding(
                "cardiovascular_history",
                WARN,
                f"Patient's record lists {_listed(cardiovascular)}. Ketamine raises blood "
                "pressure: check vitals closely during monitoring.",
            )
        )
    panic = [k for k in PANIC_RISK_CONDITION_KINDS if k in kinds]
    if panic:
        warns.append(
            Finding(
                "panic_risk",
                WARN,
                f"Patient has a history of {_listed(panic)} (panic risk). Go over the plan for "
                "managing panic during treatment: deep breathing, grounding, telling staff.",
            )
        )
    for medication in medications:
        if medication.drug_class in INTERACTING_DRUG_CLASSES:
            warns.append(
                Finding(
                    "interacting_medication",
                    WARN,
                    f"{medication.name} ({medication.class_label}) interacts with ketamine. "
                    "Confirm its timing and dose with the prescriber before treatment.",
                )
            )
    for medication in medications:
        if medication.drug_class in ANTIDEPRESSANT_CLASSES:
            change = _antidepressant_change_finding(medication, today=today, thresholds=thresholds)
            if change is not None:
                warns.append(change)
    if BIPOLAR in kinds:
        warns.append(
            Finding(
                "bipolar_history",
                WARN,
                "Patient has a history of bipolar disorder; ketamine can trigger mania. "
                "Ask about elevated mood and tell the clinician.",
            )
        )
    # Observed active psychosis already blocks; a second, weaker finding would be noise.
    if PSYCHOSIS in kinds and not active_psychosis:
        warns.append(
            Finding(
                "psychosis_history",
                WARN,
                "Patient has a history of psychosis; ketamine can worsen psychotic symptoms. "
                "Watch for perceptual changes and tell the clinician.",
            )
        )
    if SUBSTANCE_USE in kinds:
        warns.append(
            Finding(
                "substance_use_history",
                WARN,
                "Patient has a history of substance use; ketamine can be misused. "
                "Ask about cravings and tell the clinician.",
            )
        )
    return blocks + warns


def has_block(findings: Iterable[Finding]) -> bool:
    """True when any finding holds treatment."""
    return any(finding.level == BLOCK for finding in findings)


def monitoring_flags(*, baseline: Vitals, reading: Vitals, thresholds: Thresholds) -> list[Finding]:
    """Warnings for one monitoring reading compared with the pre-dose baseline."""
    flags: list[Finding] = []
    systolic_rise = reading.systolic_mmhg - baseline.systolic_mmhg
    if systolic_rise >= thresholds.monitoring_systolic_rise_mmhg:
        flags.append(
            Finding(
                "systolic_rise",
                WARN,
                f"Systolic pressure {reading.systolic_mmhg} mmHg is {systolic_rise} mmHg above "
                f"the baseline of {baseline.systolic_mmhg} mmHg (flagged from a rise of "
                f"{thresholds.monitoring_systolic_rise_mmhg} mmHg). "
                "Recheck and tell the clinician.",
            )
        )
    diastolic_rise = reading.diastolic_mmhg - baseline.diastolic_mmhg
    if diastolic_rise >= thresholds.monitoring_diastolic_rise_mmhg:
        flags.append(
            Finding(
                "diastolic_rise",
                WARN,
                f"Diastolic pressure {reading.diastolic_mmhg} mmHg is {diastolic_rise} mmHg "
                f"above the baseline of {baseline.diastolic_mmhg} mmHg (flagged from a rise of "
                f"{thresholds.monitoring_diastolic_rise_mmhg} mmHg). "
                "Recheck and tell the clinician.",
            )
        )
    low_spo2 = _low_spo2_finding(reading, thresholds, level=WARN)
    if low_spo2 is not None:
        flags.append(low_spo2)
    return flags


_HUNDREDTH = Decimal("0.01")


BloodPressure = tuple[int, int]  # (systolic mmHg, diastolic mmHg)
PRE_DOSE_PHASE = "pre_dose"  # VitalSign.Phase.PRE_DOSE (this module does not import models)


def blood_pressure_baseline_and_peak(
    vitals: Iterable[tuple[str, int, int]], *, evaluation_bp: BloodPressure | None,
) -> tuple[BloodPressure | None, BloodPressure | None]:
    """Baseline: the last pre-dose reading, else the evaluation's. Peak: the highest reading
    after dosing (by systolic, then diastolic). `vitals` are (phase, systolic, diastolic) in
    the order they were measured."""
    baseline, peak = evaluation_bp, None
    last_pre_dose = None
    for phase, systolic, diastolic in vitals:
        if phase == PRE_DOSE_PHASE:
            last_pre_dose = (systolic, diastolic)
        elif peak is None or (systolic, diastolic) > peak:
            peak = (systolic, diastolic)
    return last_pre_dose or baseline, peak


def dose_mg_per_kg(dose_mg: Decimal, weight_kg: Decimal) -> Decimal:
    """Weight-based dose, rounded half up to 0.01 mg/kg as charted.

    Decimal only: a float weight would carry binary rounding error into a clinical record.
    """
    for name, value in (("dose_mg", dose_mg), ("weight_kg", weight_kg)):
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}.")
        if not Decimal(value).is_finite() or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}.")
    return (Decimal(dose_mg) / Decimal(weight_kg)).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def observation_minutes(first_dose_at: datetime, ended_at: datetime) -> int:
    """Whole minutes from first dose to end of monitoring, rounded down.

    Rounded down so 119 min 59 s never counts as the 120-minute minimum.
    """
    if ended_at < first_dose_at:
        raise ValueError(
            f"Monitoring cannot end ({ended_at.isoformat()}) before the first dose "
            f"({first_dose_at.isoformat()})."
        )
    return (ended_at - first_dose_at) // timedelta(minutes=1)
