"""Writes of the treatment workflow. Every rule of DESIGN.md section 2 is enforced here, so the
admin, the clinician pages and any script get the same refusals.

Each service locks the session row first (a no-op on SQLite, where IMMEDIATE transactions
already serialise writers) so two nurses cannot record the same step at once.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from sessions import reminders, roles, safety, selectors, timing
from sessions.errors import WorkflowError
from sessions.models import (
    STEP_CODES,
    STEP_LABELS,
    Administration,
    Consultation,
    Drug,
    Evaluation,
    ExpectationSetting,
    FollowUp,
    Monitoring,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
    VitalSign,
)

OVERRIDE_PERMISSION = "treatment_sessions.override_evaluation_block"
SIGN_OFF_PERMISSION = roles.CLINICIAN_PERMISSION  # signing off is what makes a clinician
OPEN_STATUSES = (TreatmentSession.Status.SCHEDULED, TreatmentSession.Status.IN_PROGRESS)


class _DryRunRollback(Exception):
    pass


def dry_run(service: Callable[..., Any], /, **kwargs) -> None:
    """Run a service and roll everything back: the admin validates a step this way, so its
    form shows exactly the refusal the real save would raise."""
    try:
        with transaction.atomic():
            service(**kwargs)
            raise _DryRunRollback
    except _DryRunRollback:
        pass


def _lock(session: TreatmentSession) -> TreatmentSession:
    return (
        TreatmentSession.objects.select_for_update(of=("self",))
        .select_related(
            "patient", "course", "consultation", "evaluation", "expectation_setting",
            "administration", "monitoring",
        )
        .get(pk=session.pk)
    )


def _ensure_open(session: TreatmentSession) -> None:
    if session.status not in OPEN_STATUSES:
        raise WorkflowError(
            f"This session is {session.get_status_display().lower()}; nothing more can be "
            "recorded on it."
        )


def step_check(*, session: TreatmentSession, step: str) -> None:
    """Refuse a step recorded out of order, or changed once the next step is recorded."""
    _ensure_open(session)
    index = STEP_CODES.index(step)
    for earlier in STEP_CODES[:index]:
        if session.step_record(earlier) is None:
            raise WorkflowError(
                f"Record the {STEP_LABELS[earlier].lower()} before the "
                f"{STEP_LABELS[step].lower()}."
            )
    later = [code for code in STEP_CODES[index + 1:] if session.step_record(code) is not None]
    if later and session.step_record(step) is not None:
        raise WorkflowError(
            f"The {STEP_LABELS[step].lower()} can no longer be changed: the "
            f"{STEP_LABELS[later[0]].lower()} has been recorded after it."
        )


def _refuse_untimely(session: TreatmentSession | None, **times: tuple[str, datetime | None]
                     ) -> None:
    """Refuse a clinical time in the future (beyond the clock-skew allowance) or, on a
    session, before it started (sessions.timing). `times` maps each form field to (what it
    is, the time entered); the first bad one is refused on its field."""
    now = timezone.now()
    skew = safety.Thresholds.from_settings().clock_skew_minutes
    for field, (what, moment) in times.items():
        if moment is None:
            continue
        if session is None:
            problem = timing.future_problem(moment, what=what, now=now,
                                            clock_skew_minutes=skew)
        else:
            problem = timing.session_time_problem(
                moment, what=what, now=now, clock_skew_minutes=skew,
                opened_at=timing.session_opened_at(scheduled_at=session.scheduled_at,
                                                   started_at=session.started_at))
        if problem:
            raise WorkflowError(problem, field=field)


def role_check(*, user, role: roles.RecordRole, field: str) -> None:
    """Refuse choosing someone for a role in the record that their own role does not allow."""
    if user is not None and not selectors.role_holder_exists(role=role, user=user):
        raise WorkflowError(role.refusal(user), field=field)


def _save_step(*, session: TreatmentSession, step: str, model, recorded_by, fields: dict,
               **derived) -> Any:
    instance = session.step_record(step) or model(session=session, recorded_by=recorded_by)
    for name, value in {**fields, **derived}.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    if session.status == TreatmentSession.Status.SCHEDULED:
        session.status = TreatmentSession.Status.IN_PROGRESS
        session.started_at = timezone.now()
        session.save(update_fields=["status", "started_at", "updated_at"])
    return instance


# --- scheduling ---------------------------------------------------------------------------

@transaction.atomic
def session_schedule(*, patient: Patient, course: TreatmentCourse, clinician,
                     scheduled_at: datetime) -> TreatmentSession:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_archived:
        raise WorkflowError("This patient is archived; restore them before scheduling.")
    if course.patient_id != patient.pk:
        raise WorkflowError("That course belongs to another patient.", field="course")
    if course.status != TreatmentCourse.Status.ACTIVE:
        raise WorkflowError(f"That course is {course.get_status_display().lower()}; "
                            "start a new course to schedule more sessions.", field="course")
    role_check(user=clinician, role=roles.RESPONSIBLE_CLINICIAN, field="clinician")
    session = TreatmentSession(patient=patient, course=course, clinician=clinician,
                               scheduled_at=scheduled_at)
    session.full_clean()
    session.save()
    reminders.session_reminders_schedule(session=session)
    return session


@transaction.atomic
def session_reschedule(*, session: TreatmentSession, scheduled_at: datetime) -> TreatmentSession:
    session = _lock(session)
    if session.status != TreatmentSession.Status.SCHEDULED:
        raise WorkflowError("Only a session that has not started can be rescheduled.")
    session.scheduled_at = scheduled_at
    session.save(update_fields=["scheduled_at", "updated_at"])
    reminders.session_reminders_move(session=session)
    return session


@transaction.atomic
def session_clinician_change(*, session: TreatmentSession, clinician) -> TreatmentSession:
    """Hand the session to another responsible clinician: serious-event and self-harm alerts
    raised from now on go to them."""
    session = _lock(session)
    role_check(user=clinician, role=roles.RESPONSIBLE_CLINICIAN, field="clinician")
    session.clinician = clinician
    session.save(update_fields=["clinician", "updated_at"])
    return session


@transaction.atomic
def session_start(*, session: TreatmentSession) -> TreatmentSession:
    session = _lock(session)
    if session.status != TreatmentSession.Status.SCHEDULED:
        raise WorkflowError(f"This session is already {session.get_status_display().lower()}.")
    if session.patient.is_archived:
        raise WorkflowError("This patient is archived; restore them before starting a session.")
    session.status = TreatmentSession.Status.IN_PROGRESS
    session.started_at = timezone.now()
    session.save(update_fields=["status", "started_at", "updated_at"])
    return session


@transaction.atomic
def session_cancel(*, session: TreatmentSession, reason: str,
                   no_show: bool = False) -> TreatmentSession:
    """Allowed at any point before completion; the steps already recorded stay on record."""
    session = _lock(session)
    if not reason.strip():
        raise WorkflowError("Give a reason for cancelling the session.", field="reason")
    if session.status not in OPEN_STATUSES:
        raise WorkflowError(
            f"This session is {session.get_status_display().lower()} and cannot be cancelled."
        )
    if no_show and session.status != TreatmentSession.Status.SCHEDULED:
        raise WorkflowError("A session that has started cannot be marked as a no-show.")
    session.status = (TreatmentSession.Status.NO_SHOW if no_show
                      else TreatmentSession.Status.CANCELLED)
    session.cancelled_at = timezone.now()
    session.cancellation_reason = reason.strip()
    session.save(update_fields=["status", "cancelled_at", "cancellation_reason", "updated_at"])
    reminders.session_reminders_cancel(session=session)
    return session


# --- the five steps -----------------------------------------------------------------------

@transaction.atomic
def consultation_record(*, session: TreatmentSession, recorded_by, **fields) -> Consultation:
    session = _lock(session)
    step_check(session=session, step="consultation")
    consultation = _save_step(session=session, step="consultation", model=Consultation,
                              recorded_by=recorded_by, fields=fields)
    reminders.self_harm_alert_schedule(consultation=consultation)
    return consultation


def evaluation_findings_for(*, session: TreatmentSession, vitals: safety.Vitals,
                            alcohol_or_drugs_last_24h: bool,
                            active_psychosis: bool) -> list[safety.Finding]:
    """The safety findings for this patient's record and the vitals just taken."""
    patient = session.patient
    return safety.evaluation_findings(
        vitals=vitals,
        condition_kinds=list(patient.conditions.filter(is_active=True)
                             .values_list("kind", flat=True)),
        medications=[
            safety.MedicationFact(name=m.name, drug_class=m.drug_class,
                                  started_on=m.started_on, changed_on=m.changed_on)
            for m in patient.medications.filter(is_active=True)
        ],
        alcohol_or_drugs_last_24h=alcohol_or_drugs_last_24h,
        active_psychosis=active_psychosis,
        today=timezone.localdate(),
        thresholds=safety.Thresholds.from_settings(),
    )


@transaction.atomic
def evaluation_record(*, session: TreatmentSession, recorded_by: AbstractBaseUser,
                      decision: str, override_reason: str = "", **fields) -> Evaluation:
    session = _lock(session)
    step_check(session=session, step="evaluation")
    fields["measured_at"] = fields.get("measured_at") or timezone.now()
    _refuse_untimely(session, measured_at=("time the vitals were taken", fields["measured_at"]))
    vitals = safety.Vitals(
        systolic_mmhg=fields["systolic_mmhg"], diastolic_mmhg=fields["diastolic_mmhg"],
        heart_rate_bpm=fields.get("heart_rate_bpm"), spo2_percent=fields.get("spo2_percent"),
    )
    findings = evaluation_findings_for(
        session=session, vitals=vitals,
        alcohol_or_drugs_last_24h=fields.get("alcohol_or_drugs_last_24h", False),
        active_psychosis=fields.get("active_psychosis", False),
    )
    blocked = safety.has_block(findings)
    override_reason = (override_reason or "").strip()
    if decision == Evaluation.Decision.CLEARED and blocked:
        blocks = "; ".join(f.message for f in findings if f.level == safety.BLOCK)
        if not recorded_by.has_perm(OVERRIDE_PERMISSION):
            raise WorkflowError(
                f"The patient cannot be cleared: {blocks} Hold the patient, or ask a clinician "
                "with override permission to clear them with a written reason.",
                field="decision",
            )
        if not override_reason:
            raise WorkflowError(
                f"Clearing despite block findings needs a written reason ({blocks})",
                field="override_reason",
            )
    return _save_step(
        session=session, step="evaluation", model=Evaluation, recorded_by=recorded_by,
        fields=fields, decision=decision, override_reason=override_reason,
        findings=[f.as_dict() for f in findings], blocked=blocked,
    )


@transaction.atomic
def expectations_record(*, session: TreatmentSession, recorded_by,
                        **fields) -> ExpectationSetting:
    session = _lock(session)
    step_check(session=session, step="expectations")
    if not fields.get("consent_signed"):
        fields["consent_signed_at"] = None
    elif not fields.get("consent_signed_at"):
        fields["consent_signed_at"] = timezone.now()
    _refuse_untimely(session, consent_signed_at=("time consent was signed",
                                                 fields["consent_signed_at"]))
    return _save_step(session=session, step="expectations", model=ExpectationSetting,
                      recorded_by=recorded_by, fields=fields)


def _ensure_administration_allowed(session: TreatmentSession, drug: str) -> None:
    if not session.evaluation.is_cleared:
        raise WorkflowError("Administration is refused: the patient was held at the medical "
                            "evaluation, not cleared.")
    expectations = session.expectation_setting
    if not expectations.consent_signed:
        raise WorkflowError("Administration is refused: signed consent is not recorded. Record "
                            "the consent in the setting-expectations step first.")
    if not expectations.transport_arranged:
        raise WorkflowError("Administration is refused: no transport home is arranged (the "
                            "patient must not drive after treatment).")
    if drug != session.course.drug:
        raise WorkflowError(
            f"This course is for {session.course.get_drug_display().lower()}; the drug given "
            "must match the course.", field="drug",
        )


@transaction.atomic
def administration_record(*, session: TreatmentSession, recorded_by, drug: str, dose_mg,
                          administered_by=None, **fields) -> Administration:
    session = _lock(session)
    step_check(session=session, step="administration")
    _ensure_administration_allowed(session, drug)
    weight_kg = session.evaluation.weight_kg
    if dose_mg is None or dose_mg <= 0:
        raise WorkflowError("Enter a dose above 0 mg.", field="dose_mg")
    _refuse_untimely(session, started_at=("first dose", fields.get("started_at")),
                     ended_at=("end of dosing", fields.get("ended_at")))
    administered_by = administered_by or recorded_by
    role_check(user=administered_by, role=roles.ADMINISTERS, field="administered_by")
    return _save_step(
        session=session, step="administration", model=Administration, recorded_by=recorded_by,
        fields=fields, drug=drug, dose_mg=dose_mg, weight_kg=weight_kg,
        dose_mg_per_kg=safety.dose_mg_per_kg(dose_mg, weight_kg),
        administered_by=administered_by,
    )


@transaction.atomic
def monitoring_record(*, session: TreatmentSession, recorded_by, discharged_at: datetime,
                      discharge_criteria_met: bool, **fields) -> Monitoring:
    """Close monitoring and discharge the patient; this completes the session."""
    session = _lock(session)
    step_check(session=session, step="monitoring")
    thresholds = safety.Thresholds.from_settings()
    first_dose_at = session.administration.started_at
    now = timezone.now()
    problem = timing.discharge_problem(discharged_at, first_dose_at=first_dose_at, now=now)
    if problem:
        raise WorkflowError(problem, field="discharged_at")
    minutes = safety.observation_minutes(first_dose_at, discharged_at)
    if minutes < thresholds.min_observation_minutes:
        earliest = first_dose_at + timedelta(minutes=thresholds.min_observation_minutes)
        raise WorkflowError(
            f"Monitoring cannot be closed yet: {minutes} minutes observed since the first dose, "
            f"the minimum is {thresholds.min_observation_minutes}. Discharge at "
            f"{timing.local_text(earliest, now=now)} at the earliest.",
            field="discharged_at",
        )
    if not discharge_criteria_met:
        raise WorkflowError("Monitoring cannot be closed: discharge criteria are not met. Keep "
                            "observing until they are.", field="discharge_criteria_met")
    unresolved = [
        o for o in session.side_effects.filter(is_archived=False, resolved_at__isnull=True)
        .select_related("symptom")
        if o.needs_clinician_alert
    ]
    if unresolved:
        names = ", ".join(o.symptom.name for o in unresolved)
        raise WorkflowError(f"Monitoring cannot be closed while a severe side effect is "
                            f"unresolved ({names}). Record its resolution first.")
    monitoring = _save_step(
        session=session, step="monitoring", model=Monitoring, recorded_by=recorded_by,
        fields=fields, discharged_at=discharged_at, observation_minutes=minutes,
        discharge_criteria_met=discharge_criteria_met,
        rems_required=session.administration.drug == Drug.ESKETAMINE,
    )
    session.monitoring = monitoring
    session_complete(session=session)
    return monitoring


@transaction.atomic
def session_complete(*, session: TreatmentSession) -> TreatmentSession:
    session = _lock(session)
    _ensure_open(session)
    if session.step_record("monitoring") is None:
        raise WorkflowError("A session is completed by closing its monitoring step.")
    session.status = TreatmentSession.Status.COMPLETED
    session.completed_at = timezone.now()
    session.save(update_fields=["status", "completed_at", "updated_at"])
    reminders.session_completed_reminders_schedule(session=session)
    return session


# --- vitals and side effects --------------------------------------------------------------

def _baseline(session: TreatmentSession) -> safety.Vitals:
    """Before-dosing vitals: the last pre-dose reading, else the evaluation's."""
    pre_dose = (session.vital_signs.filter(phase=VitalSign.Phase.PRE_DOSE, is_archived=False)
                .order_by("-measured_at").first())
    source = pre_dose or session.evaluation
    return safety.Vitals(systolic_mmhg=source.systolic_mmhg, diastolic_mmhg=source.diastolic_mmhg,
                         heart_rate_bpm=source.heart_rate_bpm, spo2_percent=source.spo2_percent)


@transaction.atomic
def vital_sign_record(*, session: TreatmentSession, recorded_by, measured_at: datetime,
                      systolic_mmhg: int, diastolic_mmhg: int, **fields) -> VitalSign:
    session = _lock(session)
    _ensure_open(session)
    if session.step_record("evaluation") is None:
        raise WorkflowError("Record the medical evaluation (the baseline vitals) first.")
    _refuse_untimely(session, measured_at=("time of these vitals", measured_at))
    vital = VitalSign(session=session, recorded_by=recorded_by, measured_at=measured_at,
                      systolic_mmhg=systolic_mmhg, diastolic_mmhg=diastolic_mmhg, **fields)
    vital.full_clean()
    if vital.phase != VitalSign.Phase.PRE_DOSE:
        reading = safety.Vitals(systolic_mmhg=systolic_mmhg, diastolic_mmhg=diastolic_mmhg,
                                heart_rate_bpm=vital.heart_rate_bpm,
                                spo2_percent=vital.spo2_percent)
        vital.flags = [f.as_dict() for f in safety.monitoring_flags(
            baseline=_baseline(session), reading=reading,
            thresholds=safety.Thresholds.from_settings())]
    vital.save()
    return vital


@transaction.atomic
def side_effect_record(*, recorded_by, symptom, severity: str, onset_at: datetime,
                       session: TreatmentSession | None = None,
                       follow_up: FollowUp | None = None, **fields) -> SideEffectObservation:
    if (session is None) == (follow_up is None):
        raise WorkflowError("A side effect belongs to a session or to a follow-up, not both.")
    if session is not None:
        session = _lock(session)
        if session.status not in (TreatmentSession.Status.IN_PROGRESS,
                                  TreatmentSession.Status.COMPLETED):
            raise WorkflowError("Side effects are recorded on a session that has started.")
    if not symptom.is_active:
        raise WorkflowError(f"“{symptom.name}” is retired from the catalogue.", field="symptom")
    _refuse_untimely(session, onset_at=("onset", onset_at),
                     resolved_at=("resolution", fields.get("resolved_at")))
    observation = SideEffectObservation(
        session=session, follow_up=follow_up, recorded_by=recorded_by, symptom=symptom,
        severity=severity, onset_at=onset_at, **fields,
    )
    observation.full_clean()
    observation.save()
    reminders.side_effect_alert_schedule(observation=observation)
    return observation


@transaction.atomic
def side_effect_update(*, observation: SideEffectObservation, **fields) -> SideEffectObservation:
    """Record a resolution, an intervention or notes as the event unfolds."""
    observation = SideEffectObservation.objects.select_for_update().get(pk=observation.pk)
    allowed = {"resolved_at", "intervention", "notes", "severity", "is_serious"}
    unknown = set(fields) - allowed
    if unknown:
        names = ", ".join(sorted(unknown))
        raise WorkflowError(f"These cannot be changed after recording: {names}.")
    session = observation.session
    if "resolved_at" in fields:
        _refuse_untimely(session, resolved_at=("resolution", fields["resolved_at"]))
    for name, value in fields.items():
        setattr(observation, name, value)
    observation.full_clean()
    observation.save()
    reminders.side_effect_alert_schedule(observation=observation)
    return observation


@transaction.atomic
def side_effect_sign_off(*, observation: SideEffectObservation, user) -> SideEffectObservation:
    observation = SideEffectObservation.objects.select_for_update().get(pk=observation.pk)
    if not user.has_perm(SIGN_OFF_PERMISSION):
        raise WorkflowError("Only a clinician can sign off a side effect.")
    if observation.signed_off_at is not None:
        raise WorkflowError("This side effect is already signed off.")
    observation.signed_off_by = user
    observation.signed_off_at = timezone.now()
    observation.save(update_fields=["signed_off_by", "signed_off_at", "updated_at"])
    return observation


# --- courses and archiving ----------------------------------------------------------------

@transaction.atomic
def course_create(*, patient: Patient, responsible_clinician, **fields) -> TreatmentCourse:
    role_check(user=responsible_clinician, role=roles.RESPONSIBLE_CLINICIAN,
               field="responsible_clinician")
    course = TreatmentCourse(patient=patient, responsible_clinician=responsible_clinician,
                             **fields)
    course.full_clean()
    course.save()
    return course


@transaction.atomic
def course_update(*, course: TreatmentCourse, **fields) -> TreatmentCourse:
    """Change a course's details; a new responsible clinician must be a clinician (one chosen
    before that rule stays until someone changes it: the data check lists them)."""
    course = TreatmentCourse.objects.select_for_update().get(pk=course.pk)
    clinician = fields.get("responsible_clinician")
    if clinician is not None and clinician.pk != course.responsible_clinician_id:
        role_check(user=clinician, role=roles.RESPONSIBLE_CLINICIAN,
                   field="responsible_clinician")
    for name, value in fields.items():
        setattr(course, name, value)
    course.full_clean()
    course.save()
    return course


@transaction.atomic
def course_end(*, course: TreatmentCourse, stopped_early: bool = False,
               ended_on=None) -> TreatmentCourse:
    course = TreatmentCourse.objects.select_for_update().get(pk=course.pk)
    if course.status != TreatmentCourse.Status.ACTIVE:
        raise WorkflowError("This course has already ended.")
    open_sessions = course.sessions.filter(status=TreatmentSession.Status.IN_PROGRESS).count()
    if open_sessions:
        raise WorkflowError("A session of this course is still in progress; finish it first.")
    course.status = (TreatmentCourse.Status.STOPPED if stopped_early
                     else TreatmentCourse.Status.COMPLETED)
    course.ended_on = ended_on or timezone.localdate()
    course.full_clean()
    course.save()
    reminders.course_follow_ups_schedule(course=course)
    return course


# --- esketamine REMS monitoring record ----------------------------------------------------

@transaction.atomic
def monitoring_rems_submit(*, monitoring: Monitoring, submitted_on) -> Monitoring:
    """Record that the REMS monitoring record was submitted (it is due within 7 days)."""
    monitoring = (Monitoring.objects.select_for_update(of=("self",))
                  .select_related("session__administration").get(pk=monitoring.pk))
    administration = monitoring.session.step_record("administration")
    if administration is None or administration.drug != "esketamine":
        raise WorkflowError("A REMS monitoring record is submitted only for esketamine sessions.")
    if monitoring.rems_submitted_on is not None:
        raise WorkflowError(
            f"The REMS record was already submitted on {monitoring.rems_submitted_on:%Y-%m-%d}."
        )
    if submitted_on is None:
        raise WorkflowError("Enter the date the record was submitted.", field="submitted_on")
    if submitted_on > timezone.localdate():
        raise WorkflowError("The submission date cannot be in the future.", field="submitted_on")
    if submitted_on < timezone.localdate(monitoring.discharged_at):
        raise WorkflowError("The submission date cannot be before the session's discharge.",
                            field="submitted_on")
    monitoring.rems_submitted_on = submitted_on
    monitoring.save(update_fields=["rems_submitted_on", "updated_at"])
    return monitoring


def session_lock(*, session_id: int) -> None:
    """Hold the session's row for the rest of the transaction (the request's, with
    ATOMIC_REQUESTS): two step pages posted at once for one session are then checked and saved
    one after the other, so the second sees the first's record and is refused as stale instead
    of overwriting it."""
    TreatmentSession.objects.select_for_update().filter(pk=session_id).exists()


# --- follow-ups ---------------------------------------------------------------------------
# Kept in their own section: the contact time is a clinical time like any other, checked
# against the clock (with the clock-skew allowance) and against what the follow-up follows.

def _follow_up_contact_check(*, session: TreatmentSession | None,
                             course: TreatmentCourse | None, status: str,
                             contacted_at: datetime | None, method: str) -> None:
    if status == FollowUp.Status.DONE:
        if contacted_at is None:
            raise WorkflowError("A follow-up marked done needs the contact time.",
                                field="contacted_at")
        if not method:
            raise WorkflowError("A follow-up marked done needs how the patient was contacted.",
                                field="method")
    if contacted_at is None:
        return
    # A follow-up of a session: contact is a time of that session's record (sessions.timing).
    _refuse_untimely(session, contacted_at=("contact time", contacted_at))
    if course is not None and timezone.localdate(contacted_at) < course.started_on:
        raise WorkflowError(
            "The contact time cannot be before the course it follows started "
            f"({course.started_on:%Y-%m-%d}).", field="contacted_at")


@transaction.atomic
def follow_up_create(*, patient: Patient, kind: str, due_on, recorded_by,
                     session: TreatmentSession | None = None,
                     course: TreatmentCourse | None = None,
                     status: str = FollowUp.Status.DUE, contacted_at: datetime | None = None,
                     method: str = "", notes: str = "") -> FollowUp:
    """A follow-up added by staff (the scheduled ones are written with their reminders)."""
    if session is not None and session.patient_id != patient.pk:
        raise WorkflowError("That session belongs to another patient.", field="session")
    if course is not None and course.patient_id != patient.pk:
        raise WorkflowError("That course belongs to another patient.", field="course")
    _follow_up_contact_check(session=session, course=course, status=status,
                             contacted_at=contacted_at, method=method)
    follow_up = FollowUp(patient=patient, session=session, course=course, kind=kind,
                         due_on=due_on, status=status, contacted_at=contacted_at,
                         method=method, notes=notes, recorded_by=recorded_by)
    follow_up.full_clean()
    follow_up.save()
    return follow_up


@transaction.atomic
def follow_up_record(*, follow_up: FollowUp, recorded_by, status: str,
                     contacted_at: datetime | None, method: str, notes: str) -> FollowUp:
    """Record the outcome of a follow-up: whether and when the patient was reached, and how."""
    follow_up = (FollowUp.objects.select_for_update(of=("self",))
                 .select_related("session", "course").get(pk=follow_up.pk))
    _follow_up_contact_check(session=follow_up.session, course=follow_up.course, status=status,
                             contacted_at=contacted_at, method=method)
    follow_up.status = status
    follow_up.contacted_at = contacted_at
    follow_up.method = method
    follow_up.notes = notes
    follow_up.recorded_by = recorded_by
    follow_up.full_clean()
    follow_up.save()
    return follow_up
