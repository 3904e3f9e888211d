"""Reads for the patient pages: the search list and the history a clinician reviews.

`patient_history` loads a patient's whole record in a fixed number of queries whatever the
number of sessions (tests/patients/test_views.py holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import (
    BigIntegerField,
    Count,
    Exists,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.html import json_script
from django.utils.safestring import SafeString

from patients.models import Condition, Medication, Patient
from patients.risk import RiskFlags, risk_flags
from sessions import safety, timing
from sessions.models import (
    GAD7_FIELDS,
    PHQ9_FIELDS,
    STEP_CODES,
    STEP_LABELS,
    Evaluation,
    PatientChangeStamp,
    SessionChangeStamp,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)
from sessions.safety import (
    CARDIOVASCULAR_RISK_CONDITION_KINDS,
    INTERACTING_DRUG_CLASSES,
    PANIC_RISK_CONDITION_KINDS,
    BloodPressure,
    blood_pressure_baseline_and_peak,
)
from sessions.selectors import Bounded

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
                   include_archived: bool = False,
                   with_risk_flags: bool = True) -> QuerySet[Patient]:
    """Patients matching a name, MRN or date of birth, narrowed by risk flag / active course.

    Each word of the query must match a first name, last name or MRN; a date matches the date
    of birth. Unknown risk filters are ignored by the form before they get here.
    ``with_risk_flags=False`` (a user who may not see them) neither filters by a risk flag nor
    reads the conditions and medications the flags come from.
    """
    if not with_risk_flags:
        risk = ""
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
    patients = patients.annotate(has_active_course=has_active_course)
    if with_risk_flags:
        patients = patients.prefetch_related(
            Prefetch("conditions", queryset=Condition.objects.filter(is_active=True)),
            Prefetch("medications", queryset=Medication.objects.filter(is_active=True)))
    return patients.order_by("last_name", "first_name", "id")


def patient_risk_flags(patient: Patient) -> RiskFlags:
    """Risk flags from prefetched active conditions and medications."""
    return risk_flags(condition_kinds=[c.kind for c in patient.conditions.all()],
                      drug_classes=[m.drug_class for m in patient.medications.all()])


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# --- history ---------------------------------------------------------------------------------
#
# The history of a patient with hundreds of sessions must cost little more than one with a
# few. So the page never reads every session's steps and vitals: the charts (every session)
# come from one narrow row a session that the database's triggers keep up to date whenever the
# session changes (its chart point, sessions/change_stamps.py), and only the sessions of the
# timeline page being shown (a few recent ones, HISTORY_TIMELINE_PAGE_SIZE) are loaded whole,
# with their steps, vitals and side effects, and rendered as cards.
#
# Both are cached (patients/history_cache.py) under change stamps that database triggers
# replace whenever a session or anything recorded for it changes (sessions/change_stamps.py):
# the charts and session list under the patient's stamp, each card under its session's. A stamp
# is always read before what is cached under it, so a change committed in between can only
# leave a newer record under an older stamp that nobody asks for again.

# The side lists of the history show the newest few; a patient of many years has hundreds
# of follow-ups and reminders (the admin and the CSV exports have them all).
HISTORY_COURSES_SHOWN = 10
HISTORY_FOLLOW_UPS_SHOWN = 10
HISTORY_REMINDERS_SHOWN = 10


@dataclass(frozen=True)
class TimelineEntry:
    """One session of the timeline, with the text the page shows for it."""

    session: TreatmentSession
    when: str
    steps: list[tuple[str, bool]]  # (label, recorded?), in workflow order
    charted_late: list[str]  # the steps entered long after they happened (sessions.timing)
    consultation: dict | None
    evaluation: dict | None
    administration: dict | None
    monitoring: dict | None
    vitals: list[dict]
    side_effects: list[dict]
    baseline_bp: BloodPressure | None
    peak_bp: BloodPressure | None


@dataclass
class PatientHistory:
    patient: Patient
    age: int
    flags: RiskFlags
    conditions: list[Condition]
    medications: list[Medication]
    current_findings: list[dict]
    current_findings_on: datetime | None
    courses: Bounded  # of TreatmentCourse, newest first, at most HISTORY_COURSES_SHOWN
    timeline: Page  # a page of rendered session cards (SafeString), newest first
    session_count: int
    follow_ups: Bounded  # of FollowUp, newest due date first, at most HISTORY_FOLLOW_UPS_SHOWN
    reminders: Bounded  # of Reminder, newest first, at most HISTORY_REMINDERS_SHOWN
    chart_script: SafeString  # the charts' series, as <script id="chart-data"> (json_script)


class _CardText:
    """What a card's text needs once per page rather than once per vital: the active time
    zone and the choices' labels. Looking the zone up, a label up through get_FOO_display(),
    or a day's or month's name up through dateformat reads Django's per-request state (asgiref
    locals) each time: building 10 cards took 12.9 ms instead of 10.7."""

    def __init__(self):
        self.late_entry_minutes = safety.Thresholds.from_settings().late_entry_minutes
        self.zone = timezone.get_current_timezone()
        self.phase = _labels(VitalSign.Phase)
        self.severity = _labels(SideEffectObservation.Severity)
        self.intervention = _labels(SideEffectObservation.Intervention, lower=True)

    def when(self, moment: datetime) -> str:
        """dateformat's "D j M Y, H:i" (Tue 1 Dec 2026, 14:05) without a translation lookup
        for the day's and the month's names: the clinic's pages are in English."""
        local = moment.astimezone(self.zone)
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"

    def time(self, moment: datetime | None) -> str:
        """dateformat's "H:i" at half the cost: a card shows a time for every vital."""
        return moment.astimezone(self.zone).strftime("%H:%M") if moment else ""


    def late(self, happened_at: datetime | None, entered_at: datetime | None) -> bool:
        return timing.entered_late(happened_at=happened_at, entered_at=entered_at,
                                   late_entry_minutes=self.late_entry_minutes)


def _labels(choices, *, lower: bool = False) -> dict:
    """{value: label}, as get_FOO_display() shows it (an unknown value shows as itself)."""
    return {value: str(label).lower() if lower else str(label)
            for value, label in choices.choices}


def _timeline_entry(session: TreatmentSession, vitals: list[dict],
                    side_effects: list[SideEffectObservation], text: _CardText
                    ) -> TimelineEntry:
    consultation = session.step_record("consultation")
    evaluation = session.step_record("evaluation")
    administration = session.step_record("administration")
    monitoring = session.step_record("monitoring")
    baseline, peak = blood_pressure_baseline_and_peak(
        ((v["phase"], v["systolic_mmhg"], v["diastolic_mmhg"]) for v in vitals),
        evaluation_bp=((evaluation.systolic_mmhg, evaluation.diastolic_mmhg)
                       if evaluation else None))
    return TimelineEntry(
        session=session,
        when=text.when(session.scheduled_at),
        charted_late=[STEP_LABELS[code].lower() for code in STEP_CODES
                      if (record := session.step_record(code)) is not None
                      and text.late(record.happened_at, record.recorded_at)],
        steps=[(STEP_LABELS[code], session.step_record(code) is not None)
               for code in STEP_CODES],
        consultation=consultation and {
            "phq9_total": consultation.phq9_total,
            "phq9_band": consultation.phq9_band.label.lower(),
            "gad7_total": consultation.gad7_total,
            "self_harm": consultation.self_harm_flag,
            "panic_attacks": consultation.panic_attacks_since_last_session,
        },
        evaluation=evaluation and {
            "decision": evaluation.get_decision_display().lower(),
            "blocked": evaluation.blocked,
            "overridden": bool(evaluation.override_reason),
        },
        administration=administration and {
            "drug": administration.get_drug_display(),
            "dose_mg": str(administration.dose_mg),
            "dose_mg_per_kg": str(administration.dose_mg_per_kg),
            "route": administration.get_route_display().lower(),
            "lot_number": administration.lot_number,
        },
        monitoring=monitoring and {
            "observation_minutes": str(monitoring.observation_minutes),
            "cadss": str(monitoring.cadss_score),
            "moaas": str(monitoring.moaas_score),
            "discharged_with": monitoring.discharged_with,
        },
        vitals=[{
            "time": text.time(v["measured_at"]),
            "phase": text.phase.get(v["phase"], v["phase"]),
            "blood_pressure": f"{v['systolic_mmhg']}/{v['diastolic_mmhg']}",
            "heart_rate": "–" if v["heart_rate_bpm"] is None else str(v["heart_rate_bpm"]),
            "spo2": "–" if v["spo2_percent"] is None else str(v["spo2_percent"]),
            "flags": [flag["code"] for flag in v["flags"]],
            "entered_late": (text.time(v["created_at"])
                             if text.late(v["measured_at"], v["created_at"]) else ""),
        } for v in vitals],
        side_effects=[{
            "symptom": o.symptom.name,
            "severity": text.severity.get(o.severity, o.severity),
            "alert": o.needs_clinician_alert,
            "serious": o.is_serious,
            "intervention": text.intervention.get(o.intervention, o.intervention),
            "resolved": text.time(o.resolved_at),
            "entered_late": (text.time(o.created_at)
                             if text.late(o.onset_at, o.created_at) else ""),
        } for o in side_effects],
        baseline_bp=baseline, peak_bp=peak,
    )


# One session's point on the charts: (label, PHQ-9, GAD-7, CADSS, baseline systolic, baseline
# diastolic, peak systolic, peak diastolic); None where a value is missing. Plain tuples: a
# patient's record is cached and unpickled as a whole (patients/history_cache.py).
CHART_SERIES = ("labels", "phq9", "gad7", "cadss", "baseline_systolic", "baseline_diastolic",
                "peak_systolic", "peak_diastolic")
# What the triggers keep of each session (sessions/change_stamps.py), as the record reads it:
# the time as whole seconds since the epoch (`scheduled_epoch`), which is all a chart label
# needs.
CHART_POINT_FIELDS = ("session_id", "stamp", "scheduled_epoch", "evaluation_id", "phq9_total",
                      "gad7_total", "cadss_score", "baseline_systolic_mmhg",
                      "baseline_diastolic_mmhg", "peak_systolic_mmhg", "peak_diastolic_mmhg")


class EpochSeconds(Func):
    """A time as whole seconds since 1970 (UTC). Django hands each timestamp read to a Python
    loader that puts the connection's zone on it: 500 sessions' times cost 2 ms to read that
    way, their seconds almost nothing."""

    output_field = BigIntegerField()
    template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS bigint)"

    def as_sqlite(self, compiler, connection, **extra_context):
        # '%%%%s': formatting the template leaves '%%s', which the parameters' formatting
        # leaves as strftime's '%s'.
        return self.as_sql(compiler, connection,
                           template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)",
                           **extra_context)


def _chart_series(points: list[tuple]) -> dict:
    """Series over sessions, oldest first, for static/js/history-charts.js (json_script)."""
    return dict(zip(CHART_SERIES, (list(series) for series in zip(*points, strict=True)),
                    strict=True)) if points else {name: [] for name in CHART_SERIES}


# What a card shows of a session and its steps (and what the scores and the blood pressure need):
# only these columns are read. A session row with its five steps is some 90 columns, most of them
# notes and timestamps a card never shows; reading them all cost twice the time. A field used
# and not listed costs a query per card, which the history's query-count test catches.
CARD_SESSION_FIELDS = (
    "scheduled_at", "status", "cancellation_reason",
    *(f"consultation__{name}" for name in (*PHQ9_FIELDS, *GAD7_FIELDS,
                                           "panic_attacks_since_last_session")),
    "consultation__recorded_at",
    *(f"evaluation__{name}" for name in ("decision", "blocked", "override_reason",
                                         "systolic_mmhg", "diastolic_mmhg", "measured_at",
                                         "recorded_at")),
    "expectation_setting__consent_signed_at", "expectation_setting__recorded_at",
    *(f"administration__{name}" for name in ("drug", "route", "dose_mg", "dose_mg_per_kg",
                                             "lot_number", "started_at", "recorded_at")),
    *(f"monitoring__{name}" for name in ("observation_minutes", "cadss_score", "moaas_score",
                                         "discharged_with", "discharged_at", "recorded_at")),
)
CARD_VITAL_FIELDS = ("session_id", "measured_at", "phase", "systolic_mmhg", "diastolic_mmhg",
                     "heart_rate_bpm", "spo2_percent", "flags", "created_at")


def timeline_entries(session_ids: list[int]) -> dict[int, TimelineEntry]:
    """The given sessions loaded whole (steps, vitals, side effects), ready to show; the other
    sessions of the patient are never instantiated."""
    # No ORDER BY: the caller puts the cards in order (the model's default cost 0.5 ms).
    sessions = {s.pk: s for s in TreatmentSession.objects.filter(pk__in=session_ids)
                .select_related("consultation", "evaluation", "expectation_setting",
                                "administration", "monitoring")
                .only(*CARD_SESSION_FIELDS).order_by()}
    # The readings as values, not instances: a page of cards shows dozens, and building a
    # model per reading cost more than the query.
    vitals: dict[int, list] = {pk: [] for pk in sessions}
    for vital in (VitalSign.objects.filter(session_id__in=session_ids, is_archived=False)
                  .order_by("measured_at", "id").values(*CARD_VITAL_FIELDS)):
        vitals[vital["session_id"]].append(vital)
    side_effects: dict[int, list] = {pk: [] for pk in sessions}
    for observation in (SideEffectObservation.objects
                        .filter(session_id__in=session_ids, is_archived=False)
                        .select_related("symptom").order_by("onset_at", "id")):
        side_effects[observation.session_id].append(observation)
    text = _CardText()
    return {pk: _timeline_entry(session, vitals[pk], side_effects[pk], text)
            for pk, session in sessions.items()}


@dataclass(frozen=True)
class PatientRecord:
    """What the history shows over all of a patient's sessions; cached under the patient's
    change stamp."""

    session_stamps: dict[int, int]  # session id -> change stamp, timeline order
    # The charts' series as the page embeds them: encoded once when the record is built, not
    # on every view (500 sessions' series are 20 KB of JSON).
    chart_script: SafeString
    current_findings: list[dict]
    current_findings_on: datetime | None

    @property
    def session_ids(self) -> list[int]:
        """Newest first."""
        return list(self.session_stamps)


def patient_record(patient: Patient) -> PatientRecord:
    """Charts over every session, the timeline's order with each session's change stamp, and
    the latest evaluation's findings: two queries, and one narrow row per session, whatever the
    number of sessions. The database's triggers keep each session's stamp and chart point
    together, worked out from its steps and vitals whenever they change
    (sessions/change_stamps.py), so no session's steps or vitals are read here and every
    stamp comes with its point, from one snapshot."""
    rows = (SessionChangeStamp.objects.filter(patient_id=patient.pk, is_archived=False)
            .annotate(scheduled_epoch=EpochSeconds("scheduled_at"))
            .order_by("-scheduled_at", "-session_id").values_list(*CHART_POINT_FIELDS))
    zone = timezone.get_current_timezone()  # once: looking it up per session cost 40 %
    stamps, points, latest_evaluation_id = {}, [], None
    for pk, stamp, scheduled_epoch, evaluation_id, phq9, gad7, cadss, *blood_pressure in rows:
        stamps[pk] = stamp
        latest_evaluation_id = latest_evaluation_id or evaluation_id
        # A session has a point once its consultation (or its monitoring) is recorded.
        if phq9 is not None or cadss is not None:
            points.append((datetime.fromtimestamp(scheduled_epoch, zone).date().isoformat(),
                           phq9, gad7, cadss, *blood_pressure))
    # filter().first(): an evaluation removed since its session's point was read shows none.
    latest = (Evaluation.objects.only("findings", "recorded_at")
              .filter(pk=latest_evaluation_id).first() if latest_evaluation_id else None)
    return PatientRecord(
        session_stamps=stamps,
        chart_script=json_script(_chart_series(points[::-1]), "chart-data"),
        current_findings=latest.findings if latest else [],
        current_findings_on=latest.recorded_at if latest else None)


def _newest(rows: QuerySet, shown: int) -> Bounded:
    """The first `shown` rows and how many there are, in one query: a patient's own rows are
    few enough to count in a window, where the dashboard's lists count in a query of their
    own (sessions.selectors._bounded)."""
    page = list(rows.annotate(total=Window(Count("id")))[:shown])
    return Bounded(rows=page, total=page[0].total if page else 0)


def with_change_stamp(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Each patient with its change stamp (`change_stamp`), read with the patient row: before
    anything cached under it (patients/history_cache.py)."""
    return patients.annotate(change_stamp=Subquery(
        PatientChangeStamp.objects.filter(patient_id=OuterRef("pk")).values("stamp")))


def patients_with_sessions_around(*, day: date, days: int = 0) -> QuerySet[Patient]:
    """Patients with a session (not archived) scheduled within `days` of the clinic's local
    `day`, with their change stamps: whose histories the clinic will open
    (history_cache.warm)."""
    start = timezone.make_aware(datetime(day.year, day.month, day.day)) - timedelta(days=days)
    return with_change_stamp(Patient.objects.filter(Exists(TreatmentSession.objects.filter(
        patient=OuterRef("pk"), is_archived=False, scheduled_at__gte=start,
        scheduled_at__lt=start + timedelta(days=2 * days + 1))))).order_by("pk")


def patient_history(*, patient_id: int, page=1, page_size: int | None = None,
                    today: date | None = None) -> PatientHistory:
    """A patient's whole record for the history page, in the same number of queries and
    nearly the same time whatever the number of sessions: charts over every session, and
    one page of the timeline (newest first) in full."""
    from patients import history_cache

    patient = get_object_or_404(with_change_stamp(Patient.objects.all()), pk=patient_id)
    conditions = list(patient.conditions.filter(is_active=True))
    medications = list(patient.medications.filter(is_active=True))
    flags = risk_flags(condition_kinds=[c.kind for c in conditions],
                       drug_classes=[m.drug_class for m in medications])
    # The side lists read the columns the page shows (and the patient's, which the related
    # manager sets on each row): a reminder row is 19 columns, 6 of them times to parse.
    courses = _newest(patient.courses.filter(is_archived=False).order_by("-started_on", "-id")
                      .only("patient", "drug", "indication", "started_on", "status"),
                      HISTORY_COURSES_SHOWN)
    page_size = page_size or settings.HISTORY_TIMELINE_PAGE_SIZE
    cache = history_cache.HistoryCache()
    record = cache.patient_record(patient)
    timeline = Paginator(record.session_ids, page_size).get_page(page)
    timeline.object_list = cache.session_cards(
        {pk: record.session_stamps[pk] for pk in timeline.object_list})
    cache.save()
    follow_ups = _newest(patient.follow_ups.filter(is_archived=False).order_by("-due_on", "-id")
                         .only("patient", "kind", "due_on", "status", "notes"),
                         HISTORY_FOLLOW_UPS_SHOWN)
    reminders = _newest(patient.reminders.order_by("-due_at", "-id")
                        .only("patient", "kind", "due_at", "status"), HISTORY_REMINDERS_SHOWN)
    return PatientHistory(
        patient=patient, age=age_on(patient.date_of_birth, today or timezone.localdate()),
        flags=flags, conditions=conditions, medications=medications,
        current_findings=record.current_findings,
        current_findings_on=record.current_findings_on,
        courses=courses, timeline=timeline, session_count=len(record.session_ids),
        follow_ups=follow_ups, reminders=reminders, chart_script=record.chart_script,
    )
