"""Reads for the clinician pages: each returns everything its page shows in a fixed number of
queries (select_related for the one-to-one steps, prefetches for the many-rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.permissions import sees_clinician_alerts
from patients.models import DrugClass, Patient
from sessions import roles, safety, scales, timing
from sessions.models import (
    STEP_CODES,
    STEP_LABELS,
    Monitoring,
    Reminder,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)
from sessions.reminders import PATIENT_KINDS

STEP_RELATIONS = ("consultation", "evaluation", "expectation_setting", "administration",
                  "monitoring")
SERIOUS_SEVERITIES = (SideEffectObservation.Severity.SEVERE,
                      SideEffectObservation.Severity.LIFE_THREATENING)
SERIOUS_Q = Q(is_serious=True) | Q(severity__in=SERIOUS_SEVERITIES)
# Concomitant medications the esketamine REMS monitoring form asks about.
REMS_CONCOMITANT_CLASSES = {
    DrugClass.BENZODIAZEPINE: "Sedative (benzodiazepine)",
    DrugClass.SEDATIVE: "Sedative / hypnotic",
    DrugClass.PSYCHOSTIMULANT: "Psychostimulant",
    DrugClass.MAOI: "MAOI",
    DrugClass.OPIOID: "Opioid",
}


def _vitals_prefetch() -> Prefetch:
    return Prefetch("vital_signs", queryset=VitalSign.objects.filter(is_archived=False)
                    .select_related("recorded_by").order_by("measured_at", "id"))


def _side_effects_prefetch() -> Prefetch:
    return Prefetch("side_effects", queryset=SideEffectObservation.objects
                    .filter(is_archived=False).select_related("symptom", "recorded_by")
                    .order_by("onset_at", "id"))


def session_with_steps() -> QuerySet[TreatmentSession]:
    return TreatmentSession.objects.select_related("patient", "course", "clinician",
                                                   *STEP_RELATIONS)


def session_get(*, session_id: int) -> TreatmentSession:
    """A session with its five steps (and who recorded them), vitals and side effects loaded
    (404 when unknown)."""
    return get_object_or_404(
        session_with_steps()
        .select_related(*(f"{relation}__recorded_by" for relation in STEP_RELATIONS))
        .prefetch_related(_vitals_prefetch(), _side_effects_prefetch()),
        pk=session_id,
    )


# --- when things happened, and when they were entered ---------------------------------------

@dataclass(frozen=True)
class Entry:
    """Who entered a record and when, beside when what it records happened: charting after
    the fact is allowed, and shows (sessions.timing.entered_late)."""

    happened_at: datetime | None
    entered_at: datetime
    entered_by: str
    late: bool


def entry_of(*, happened_at: datetime | None, entered_at: datetime, entered_by,
             late_entry_minutes: int) -> Entry:
    return Entry(happened_at=happened_at, entered_at=entered_at,
                 entered_by=entered_by.get_full_name() or entered_by.get_username(),
                 late=timing.entered_late(happened_at=happened_at, entered_at=entered_at,
                                          late_entry_minutes=late_entry_minutes))


@dataclass(frozen=True)
class Reading:
    """One set of vitals on the session page: the evaluation's or a later reading."""

    measured_at: datetime
    label: str
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int | None
    spo2_percent: int | None
    flags: list
    entry: Entry


def session_readings(*, session: TreatmentSession, late_entry_minutes: int) -> list[Reading]:
    """The evaluation's vitals and every reading since, in the order they were taken (not the
    order they were entered). `session` comes from session_get."""
    readings = []
    evaluation = session.step_record("evaluation")
    if evaluation is not None:
        readings.append((evaluation.happened_at or evaluation.recorded_at, "Evaluation",
                         evaluation, evaluation.recorded_at))
    readings += [(v.measured_at, v.get_phase_display(), v, v.created_at)
                 for v in session.vital_signs.all()]
    readings.sort(key=lambda reading: reading[0])
    return [Reading(measured_at=measured_at, label=label, systolic_mmhg=source.systolic_mmhg,
                    diastolic_mmhg=source.diastolic_mmhg, heart_rate_bpm=source.heart_rate_bpm,
                    spo2_percent=source.spo2_percent, flags=getattr(source, "flags", []),
                    entry=entry_of(happened_at=measured_at, entered_at=entered_at,
                                   entered_by=source.recorded_by,
                                   late_entry_minutes=late_entry_minutes))
            for measured_at, label, source, entered_at in readings]


def session_step_entries(*, session: TreatmentSession, late_entry_minutes: int
                         ) -> dict[str, Entry]:
    """Each recorded step's entry, by step code. `session` comes from session_get."""
    return {code: entry_of(happened_at=record.happened_at, entered_at=record.recorded_at,
                           entered_by=record.recorded_by, late_entry_minutes=late_entry_minutes)
            for code in STEP_CODES if (record := session.step_record(code)) is not None}


# --- dashboard -------------------------------------------------------------------------------
#
# A clinic network has thousands of sessions a day: every list of the dashboard is bounded (its
# first rows and how many there are in all), so the page costs the same for one clinic or fifty.

@dataclass(frozen=True)
class Bounded:
    """The first rows of a list (dashboard, a history's side lists) and how many it has."""

    rows: list
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)

    def __iter__(self):
        return iter(self.rows)


def courses_schedulable(*, patient_id: int | None = None) -> QuerySet[TreatmentCourse]:
    """The courses a new session may join (session_schedule refuses any other): active ones, of
    one patient when given. Their label names the patient, so the patient is fetched along."""
    courses = TreatmentCourse.objects.filter(status=TreatmentCourse.Status.ACTIVE)
    if patient_id is not None:
        courses = courses.filter(patient_id=patient_id)
    return courses.select_related("patient")


def _bounded(rows: QuerySet, limit: int, wrap=None) -> Bounded:
    shown = list(rows[:limit])
    return Bounded(rows=[wrap(row) for row in shown] if wrap else shown, total=rows.count())


@dataclass(frozen=True)
class InMonitoring:
    session: TreatmentSession
    elapsed_minutes: int
    minimum_minutes: int

    @property
    def remaining_minutes(self) -> int:
        return max(0, self.minimum_minutes - self.elapsed_minutes)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.elapsed_minutes / max(1, self.minimum_minutes)))


@dataclass(frozen=True)
class RemsDue:
    monitoring: Monitoring
    due_on: date
    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime(day.year, day.month, day.day))
    return start, start + timedelta(days=1)


def _sessions_on(day: date) -> QuerySet[TreatmentSession]:
    start, end = _local_day_bounds(day)
    return TreatmentSession.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end,
                                           is_archived=False)


def sessions_today(*, today: date) -> QuerySet[TreatmentSession]:
    """Today's sessions in time order with what the schedule shows (paginate it)."""
    # The steps (for the current step) are fetched for the page's rows only: joined in, they
    # made PostgreSQL join the whole day's sessions before cutting the page.
    return (_sessions_on(today).select_related("patient", "course")
            .prefetch_related(*STEP_RELATIONS).order_by("scheduled_at", "id"))


# The step a session is at, worked out by the database (the same rule as
# TreatmentSession.current_step_label) so a whole day is counted in one query. Each step is an
# EXISTS, not a join: the database stops at the first step missing, so a session still waiting
# for its consultation (most of a morning's) costs one index probe instead of five (a day of
# 1,776 sessions: 24 -> 15 ms).
_STEP_AT = Case(
    When(status__in=(TreatmentSession.Status.CANCELLED, TreatmentSession.Status.NO_SHOW),
         then=F("status")),
    *(When(~Exists(TreatmentSession._meta.get_field(relation).related_model.objects
                   .filter(session=OuterRef("pk"))), then=Value(code))
      for relation, code in zip(STEP_RELATIONS, STEP_CODES, strict=True)),
    default=Value("done"),
)
STEP_COUNT_LABELS = {**STEP_LABELS, "done": "Done",
                     TreatmentSession.Status.CANCELLED: "Cancelled",
                     TreatmentSession.Status.NO_SHOW: "No-show"}


def sessions_today_by_step(*, today: date) -> list[tuple[str, int]]:
    """(step label, number of today's sessions at it), in workflow order, zeros left out."""
    counts = dict(_sessions_on(today).annotate(step_at=_STEP_AT).order_by()
                  .values_list("step_at").annotate(count=Count("id")))
    return [(label, counts[code]) for code, label in STEP_COUNT_LABELS.items() if code in counts]


def sessions_in_monitoring(*, now: datetime, limit: int) -> Bounded:
    """Dosed, not yet discharged: how long each patient has been observed so far (the longest
    observed first: they are the next to be discharged)."""
    thresholds = safety.Thresholds.from_settings()
    sessions = (TreatmentSession.objects.select_related("patient", "administration")
                .filter(status=TreatmentSession.Status.IN_PROGRESS, administration__isnull=False,
                        monitoring__isnull=True)
                .order_by("administration__started_at", "id"))
    return _bounded(sessions, limit, lambda s: InMonitoring(
        session=s,
        elapsed_minutes=safety.observation_minutes(s.administration.started_at,
                                                   max(now, s.administration.started_at)),
        minimum_minutes=thresholds.min_observation_minutes))


def side_effects_serious_recent(*, now: datetime, limit: int, days: int = 7) -> Bounded:
    """Severe, life-threatening or serious side effects of the last `days`, newest first, each
    with its patient (through the session or the follow-up the observation belongs to)."""
    observations = (
        SideEffectObservation.objects.filter(SERIOUS_Q, is_archived=False,
                                             onset_at__gte=now - timedelta(days=days))
        .select_related("symptom", "session__patient", "follow_up__patient", "signed_off_by")
        .order_by("-onset_at", "-id")
    )
    return _bounded(observations, limit, lambda o: (
        o, o.session.patient if o.session_id else o.follow_up.patient))


def rems_due(*, today: date, limit: int, within_days: int = 7) -> Bounded:
    """Esketamine monitoring records not yet submitted, due (or overdue) within `within_days`,
    the most overdue first."""
    submission_days = safety.Thresholds.from_settings().rems_submission_days
    # due on = local discharge day + submission_days; listed while due on <= today + within.
    _, last_discharge_end = _local_day_bounds(
        today + timedelta(days=within_days - submission_days))
    records = (Monitoring.objects.filter(rems_required=True, rems_submitted_on__isnull=True,
                                         discharged_at__lt=last_discharge_end)
               .select_related("session__patient").order_by("discharged_at", "id"))

    def due(record: Monitoring) -> RemsDue:
        due_on = timezone.localdate(record.discharged_at) + timedelta(days=submission_days)
        return RemsDue(monitoring=record, due_on=due_on, days_left=(due_on - today).days)

    return _bounded(records, limit, due)


def reminders_visible(*, user, reminders: QuerySet[Reminder] | None = None) -> QuerySet[Reminder]:
    """The reminders `user` may see, of `reminders` (all of them by default).

    A clinician safety alert is clinical data: that it exists says the patient had a severe
    side effect or answered the self-harm question. Whoever may not read those
    (clinic.permissions.sees_clinician_alerts) sees the patient's own emails only, listed by
    kind so that a kind added later stays hidden until someone decides otherwise. Every list,
    inline and page of reminders reads through here.
    """
    reminders = Reminder.objects.all() if reminders is None else reminders
    if sees_clinician_alerts(user):
        return reminders
    return reminders.filter(kind__in=PATIENT_KINDS)


def reminders_failed(*, user, limit: int) -> Bounded:
    failed = Reminder.objects.filter(status=Reminder.Status.FAILED)
    return _bounded(reminders_visible(user=user, reminders=failed)
                    .select_related("patient").order_by("-due_at", "-id"), limit)


# --- REMS monitoring record ------------------------------------------------------------------

@dataclass(frozen=True)
class BloodPressureReading:
    label: str
    vital: VitalSign | None
    systolic_mmhg: int | None
    diastolic_mmhg: int | None
    measured_at: datetime | None
    in_range: bool | None

    @property
    def text(self) -> str:
        if self.systolic_mmhg is None:
            return "not recorded"
        return f"{self.systolic_mmhg}/{self.diastolic_mmhg} mmHg"


@dataclass(frozen=True)
class RemsRecord:
    session: TreatmentSession
    patient: Patient
    monitoring: Monitoring | None
    dose_mg: object
    lot_number: str
    first_dose_at: datetime | None
    monitoring_ended_at: datetime | None
    minutes_first_dose_to_end: int | None
    blood_pressures: list[BloodPressureReading]
    sedation_score: int | None
    sedation_label: str
    dissociation_score: int | None
    serious_events: list[SideEffectObservation]
    concomitant: list[tuple[str, str]]  # (REMS category, medication name)
    due_on: date | None

    @property
    def complete(self) -> bool:
        return self.monitoring is not None


def _reading(label: str, vital, thresholds, *, fallback=None) -> BloodPressureReading:
    source = vital or fallback
    if source is None:
        return BloodPressureReading(label, None, None, None, None, None)
    in_range = safety.blood_pressure_in_range(
        safety.Vitals(systolic_mmhg=source.systolic_mmhg, diastolic_mmhg=source.diastolic_mmhg),
        thresholds)
    measured_at = getattr(source, "measured_at", None) or getattr(source, "recorded_at", None)
    return BloodPressureReading(label, vital, source.systolic_mmhg, source.diastolic_mmhg,
                                measured_at, in_range)


def _closest_to(vitals: list[VitalSign], moment: datetime) -> VitalSign | None:
    if not vitals:
        return None
    return min(vitals, key=lambda v: abs((v.measured_at - moment).total_seconds()))


def rems_record_for(*, session: TreatmentSession) -> RemsRecord:
    """The esketamine REMS monitoring record, derived from the session as recorded.

    `session` must come from `session_get` (vitals and side effects prefetched); the patient's
    medications cost one more query.
    """
    thresholds = safety.Thresholds.from_settings()
    administration = session.step_record("administration")
    monitoring = session.step_record("monitoring")
    vitals = list(session.vital_signs.all())
    by_phase: dict[str, list[VitalSign]] = {}
    for vital in vitals:
        by_phase.setdefault(vital.phase, []).append(vital)
    pre_dose = (by_phase.get(VitalSign.Phase.PRE_DOSE) or [None])[-1]
    at_40 = (by_phase.get(VitalSign.Phase.POST_DOSE_40) or [None])[0]
    if at_40 is None and administration is not None:
        after = [v for v in vitals if v.measured_at > administration.started_at]
        at_40 = _closest_to(after, administration.started_at + timedelta(minutes=40))
    before_discharge = (by_phase.get(VitalSign.Phase.PRE_DISCHARGE) or [None])[-1]
    blood_pressures = [
        _reading("Before dosing", pre_dose, thresholds,
                 fallback=session.step_record("evaluation")),
        _reading("About 40 minutes after dosing", at_40, thresholds),
        _reading("Before discharge", before_discharge, thresholds),
    ]
    serious = [o for o in session.side_effects.all() if o.needs_clinician_alert]
    concomitant = [
        (REMS_CONCOMITANT_CLASSES[m.drug_class], m.name)
        for m in session.patient.medications.filter(is_active=True)
        if m.drug_class in REMS_CONCOMITANT_CLASSES
    ]
    due_on = None
    if monitoring is not None:
        due_on = (timezone.localdate(monitoring.discharged_at)
                  + timedelta(days=thresholds.rems_submission_days))
    return RemsRecord(
        session=session, patient=session.patient, monitoring=monitoring,
        dose_mg=administration.dose_mg if administration else None,
        lot_number=administration.lot_number if administration else "",
        first_dose_at=administration.started_at if administration else None,
        monitoring_ended_at=monitoring.discharged_at if monitoring else None,
        minutes_first_dose_to_end=monitoring.observation_minutes if monitoring else None,
        blood_pressures=blood_pressures,
        sedation_score=monitoring.moaas_score if monitoring else None,
        sedation_label=scales.moaas_label(monitoring.moaas_score) if monitoring else "",
        dissociation_score=monitoring.cadss_score if monitoring else None,
        serious_events=serious, concomitant=concomitant, due_on=due_on,
    )


# --- CSV export ------------------------------------------------------------------------------

SESSION_CSV_HEADER = (
    "session_id", "scheduled_at", "status", "drug", "route", "dose_mg", "dose_mg_per_kg",
    "lot_number", "first_dose_at", "discharged_at", "observation_minutes", "phq9_total",
    "gad7_total", "cadss_score", "moaas_score", "evaluation_decision", "evaluation_findings",
    "baseline_bp", "peak_bp",
)
SIDE_EFFECT_CSV_HEADER = (
    "session_id", "follow_up_id", "symptom", "category", "severity", "serious", "onset_at",
    "resolved_at", "intervention", "notes",
)


def _iso(moment: datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="minutes") if moment else ""


def sessions_csv_rows(*, patient: Patient) -> list[list[object]]:
    sessions = (session_with_steps().filter(patient=patient)
                .prefetch_related(_vitals_prefetch()).order_by("scheduled_at", "id"))
    rows = []
    for s in sessions:
        consultation, evaluation = s.step_record("consultation"), s.step_record("evaluation")
        administration, monitoring = s.step_record("administration"), s.step_record("monitoring")
        _, peak = safety.blood_pressure_baseline_and_peak(
            ((v.phase, v.systolic_mmhg, v.diastolic_mmhg) for v in s.vital_signs.all()),
            evaluation_bp=None)  # the peak after dosing, as the history page shows it
        rows.append([
            s.pk, _iso(s.scheduled_at), s.get_status_display(),
            administration.get_drug_display() if administration else "",
            administration.get_route_display() if administration else "",
            administration.dose_mg if administration else "",
            administration.dose_mg_per_kg if administration else "",
            administration.lot_number if administration else "",
            _iso(administration.started_at) if administration else "",
            _iso(monitoring.discharged_at) if monitoring else "",
            monitoring.observation_minutes if monitoring else "",
            consultation.phq9_total if consultation else "",
            consultation.gad7_total if consultation else "",
            monitoring.cadss_score if monitoring else "",
            monitoring.moaas_score if monitoring else "",
            evaluation.get_decision_display() if evaluation else "",
            " | ".join(f["message"] for f in evaluation.findings) if evaluation else "",
            f"{evaluation.systolic_mmhg}/{evaluation.diastolic_mmhg}" if evaluation else "",
            f"{peak[0]}/{peak[1]}" if peak else "",
        ])
    return rows


def side_effects_csv_rows(*, patient: Patient) -> list[list[object]]:
    observations = (SideEffectObservation.objects
                    .filter(Q(session__patient=patient) | Q(follow_up__patient=patient),
                            is_archived=False)
                    .select_related("symptom").order_by("onset_at", "id"))
    return [
        [o.session_id or "", o.follow_up_id or "", o.symptom.name,
         o.symptom.get_category_display(), o.get_severity_display(),
         "yes" if o.is_serious else "no", _iso(o.onset_at), _iso(o.resolved_at),
         o.get_intervention_display(), o.notes]
        for o in observations
    ]


# --- who may be chosen for a role in the record ----------------------------------------------

def role_holders(*, role: roles.RecordRole, active_only: bool = True) -> QuerySet:
    """Active users who hold the role's permission through one of their groups or directly.

    Being a superuser is not enough: `has_perm` says yes to a superuser for everything, and an
    operator's account must not become the clinician alerted to a serious event. A superuser
    who is also a clinician is in the Clinician group like any other.
    """
    app_label, codename = role.permission.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    User = get_user_model()
    through_group = User.groups.through.objects.filter(group__permissions__in=permission)
    directly = User.user_permissions.through.objects.filter(permission__in=permission)
    holders = User.objects.filter(Q(pk__in=through_group.values("user_id"))
                                  | Q(pk__in=directly.values("user_id")))
    return holders.filter(is_active=True) if active_only else holders


def role_holder_exists(*, role: roles.RecordRole, user) -> bool:
    return role_holders(role=role).filter(pk=user.pk).exists()


def role_choices(*, role: roles.RecordRole, current_id: int | None = None) -> QuerySet:
    """A form's choice list for the role: its holders, and the person already on the record
    (chosen before the rule, or since left the role) so that an unchanged form saves as
    rendered; the service refuses choosing anyone else without the role."""
    holders = role_holders(role=role)
    if current_id is not None:
        holders = holders | get_user_model().objects.filter(pk=current_id)
    return holders.order_by("first_name", "last_name", "username")


def role_misassignments(*, role: roles.RecordRole, model, field: str) -> QuerySet:
    """Rows of `model` whose `field` names someone who does not hold the role (the data check).

    Someone who held it and has since left (deactivated) is not a wrong choice: the dose they
    gave stays theirs on the record.
    """
    holders = role_holders(role=role, active_only=False)
    return model.objects.exclude(**{f"{field}__in": holders}).order_by("pk")
