"""Reads for the patient pages: the search list and the history a clinician reviews.

`patient_history` loads a patient's whole record in a fixed number of queries whatever the
number of sessions (tests/patients/test_history_queries.py holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from patients.models import Condition, Medication, Patient
from patients.risk import RiskFlags, risk_flags
from sessions.models import (
    STEP_CODES,
    STEP_LABELS,
    FollowUp,
    Reminder,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)
from sessions.safety import (
    CARDIOVASCULAR_RISK_CONDITION_KINDS,
    INTERACTING_DRUG_CLASSES,
    PANIC_RISK_CONDITION_KINDS,
)

RISK_FILTERS = {
    "panic": ("Panic risk", "conditions", PANIC_RISK_CONDITION_KINDS),
    "cardiovascular": ("Cardiovascular risk", "conditions", CARDIOVASCULAR_RISK_CONDITION_KINDS),
    "interaction": ("Interaction risk", "medications", INTERACTING_DRUG_CLASSES),
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")


def _parse_date(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def patient_search(*, query: str = "", risk: str = "", active_course: bool = False,
                   include_archived: bool = False) -> QuerySet[Patient]:
    """Patients matching a name, MRN or date of birth, narrowed by risk flag / active course.

    Each word of the query must match a first name, last name or MRN; a date matches the date
    of birth. Unknown risk filters are ignored by the form before they get here.
    """
    patients = Patient.objects.all() if include_archived else Patient.objects.active()
    for word in query.split():
        born = _parse_date(word)
        if born is not None:
            patients = patients.filter(date_of_birth=born)
        else:
            patients = patients.filter(Q(first_name__icontains=word)
                                       | Q(last_name__icontains=word) | Q(mrn__icontains=word))
    if risk in RISK_FILTERS:
        _, relation, values = RISK_FILTERS[risk]
        if relation == "conditions":
            related = Condition.objects.filter(patient=OuterRef("pk"), is_active=True,
                                               kind__in=values)
        else:
            related = Medication.objects.filter(patient=OuterRef("pk"), is_active=True,
                                                drug_class__in=values)
        patients = patients.filter(Exists(related))
    has_active_course = Exists(TreatmentCourse.objects.filter(
        patient=OuterRef("pk"), status=TreatmentCourse.Status.ACTIVE, is_archived=False))
    if active_course:
        patients = patients.filter(has_active_course)
    return (patients.annotate(has_active_course=has_active_course)
            .prefetch_related(
                Prefetch("conditions", queryset=Condition.objects.filter(is_active=True)),
                Prefetch("medications", queryset=Medication.objects.filter(is_active=True)))
            .order_by("last_name", "first_name", "id"))


def patient_risk_flags(patient: Patient) -> RiskFlags:
    """Risk flags from prefetched active conditions and medications."""
    return risk_flags(condition_kinds=[c.kind for c in patient.conditions.all()],
                      drug_classes=[m.drug_class for m in patient.medications.all()])


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- history ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SessionSummary:
    """One session of the timeline, with what the page derives from it."""

    session: TreatmentSession
    steps: list[tuple[str, object]]  # (label, step record or None), in workflow order
    vitals: list[VitalSign]
    side_effects: list[SideEffectObservation]
    baseline_bp: tuple[int, int] | None
    peak_bp: tuple[int, int] | None

    @property
    def administration(self):
        return self.session.step_record("administration")


@dataclass
class PatientHistory:
    patient: Patient
    age: int
    flags: RiskFlags
    conditions: list[Condition]
    medications: list[Medication]
    current_findings: list[dict]
    current_findings_on: datetime | None
    courses: list[TreatmentCourse]
    sessions: list[SessionSummary]  # newest first
    follow_ups: list[FollowUp]
    reminders: list[Reminder]
    chart: dict = field(default_factory=dict)


def _summary(session: TreatmentSession) -> SessionSummary:
    vitals = list(session.vital_signs.all())
    evaluation = session.step_record("evaluation")
    pre_dose = [v for v in vitals if v.phase == VitalSign.Phase.PRE_DOSE]
    baseline_source = pre_dose[-1] if pre_dose else evaluation
    baseline = ((baseline_source.systolic_mmhg, baseline_source.diastolic_mmhg)
                if baseline_source else None)
    after_dose = [v for v in vitals if v.phase != VitalSign.Phase.PRE_DOSE]
    peak_source = max(after_dose, key=lambda v: (v.systolic_mmhg, v.diastolic_mmhg),
                      default=None)
    peak = (peak_source.systolic_mmhg, peak_source.diastolic_mmhg) if peak_source else None
    return SessionSummary(
        session=session,
        steps=[(STEP_LABELS[code], session.step_record(code)) for code in STEP_CODES],
        vitals=vitals, side_effects=list(session.side_effects.all()),
        baseline_bp=baseline, peak_bp=peak,
    )


def _chart_data(summaries: list[SessionSummary]) -> dict:
    """Series over sessions, oldest first, for static/js/history-charts.js (json_script)."""
    points = [s for s in reversed(summaries)
              if s.session.step_record("consultation") or s.session.step_record("monitoring")]
    labels, phq9, gad7, cadss = [], [], [], []
    baseline_sys, baseline_dia, peak_sys, peak_dia = [], [], [], []
    for summary in points:
        session = summary.session
        consultation = session.step_record("consultation")
        monitoring = session.step_record("monitoring")
        labels.append(timezone.localtime(session.scheduled_at).strftime("%Y-%m-%d"))
        phq9.append(consultation.phq9_total if consultation else None)
        gad7.append(consultation.gad7_total if consultation else None)
        cadss.append(monitoring.cadss_score if monitoring else None)
        baseline_sys.append(summary.baseline_bp[0] if summary.baseline_bp else None)
        baseline_dia.append(summary.baseline_bp[1] if summary.baseline_bp else None)
        peak_sys.append(summary.peak_bp[0] if summary.peak_bp else None)
        peak_dia.append(summary.peak_bp[1] if summary.peak_bp else None)
    return {"labels": labels, "phq9": phq9, "gad7": gad7, "cadss": cadss,
            "baseline_systolic": baseline_sys, "baseline_diastolic": baseline_dia,
            "peak_systolic": peak_sys, "peak_diastolic": peak_dia}


def patient_history(*, patient_id: int, today: date | None = None) -> PatientHistory:
    """A patient's whole record in nine queries, however many sessions they have had."""
    patient = get_object_or_404(Patient, pk=patient_id)
    conditions = list(patient.conditions.filter(is_active=True))
    medications = list(patient.medications.filter(is_active=True))
    flags = risk_flags(condition_kinds=[c.kind for c in conditions],
                       drug_classes=[m.drug_class for m in medications])
    courses = list(patient.courses.filter(is_archived=False).select_related(
        "responsible_clinician"))
    sessions = (
        TreatmentSession.objects.filter(patient=patient, is_archived=False)
        .select_related("course", "clinician", "consultation", "evaluation",
                        "expectation_setting", "administration__administered_by", "monitoring")
        .prefetch_related(
            Prefetch("vital_signs", queryset=VitalSign.objects.filter(is_archived=False)
                     .order_by("measured_at", "id")),
            Prefetch("side_effects", queryset=SideEffectObservation.objects
                     .filter(is_archived=False).select_related("symptom")
                     .order_by("onset_at", "id")),
        )
        .order_by("-scheduled_at", "-id")
    )
    summaries = [_summary(s) for s in sessions]
    latest_evaluation = next((s.session.evaluation for s in summaries
                              if s.session.step_record("evaluation")), None)
    follow_ups = list(patient.follow_ups.filter(is_archived=False).order_by("-due_on", "-id"))
    reminders = list(patient.reminders.order_by("-due_at", "-id")[:100])
    history = PatientHistory(
        patient=patient, age=age_on(patient.date_of_birth, today or timezone.localdate()),
        flags=flags, conditions=conditions, medications=medications,
        current_findings=latest_evaluation.findings if latest_evaluation else [],
        current_findings_on=latest_evaluation.recorded_at if latest_evaluation else None,
        courses=courses, sessions=summaries, follow_ups=follow_ups, reminders=reminders,
    )
    history.chart = _chart_data(summaries)
    return history
