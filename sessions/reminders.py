"""Writes of the reminder outbox (DESIGN.md section 4).

Every function here is called by a workflow service inside that service's transaction, so a
reminder row exists exactly when its cause was committed: a session scheduled, rescheduled,
cancelled or completed, a course ended, a serious side effect or a self-harm answer recorded,
a patient archived or opted out. One row per (cause, kind) — the unique constraint makes a
repeated call a no-op, never a second email.

Local times are computed with zoneinfo in the patient's own zone: "24 h before a 09:00
appointment" is 09:00 the day before on the wall clock, also across a daylight-saving change.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from patients.models import Patient
from sessions.errors import WorkflowError
from sessions.models import (
    Consultation,
    FollowUp,
    Reminder,
    SideEffectObservation,
    TreatmentCourse,
    TreatmentSession,
)
from sessions.policy import HH_MM, OUT_OF_RANGE, PolicyError, configured, field_errors, policy_field

Kind = Reminder.Kind
Status = Reminder.Status
PATIENT_KINDS = (Kind.UPCOMING_SESSION, Kind.POST_SESSION_CHECKIN, Kind.FOLLOW_UP_CHECK)
OPEN_STATUSES = (Status.PENDING, Status.SENDING)

DEFAULT_PREPARATION_TEXT = (
    "Please do not eat for 2 hours and do not drink for 1 hour before your appointment. "
    "Arrange for someone to take you home afterwards: you should not drive, cycle or operate "
    "machinery for the rest of the day. Plan to stay with us for about two to three hours."
)

REMINDERS_SETTING = "CLINIC_REMINDERS"
WEEK_HOURS = 7 * 24
WEB_ADDRESS = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class ReminderSettings:
    """Clinic policy for reminders; override any key with the CLINIC_REMINDERS setting."""

    upcoming_session_hours_before: int = policy_field(24, low=1, high=4 * WEEK_HOURS)
    post_session_hours_after: int = policy_field(24, low=1, high=4 * WEEK_HOURS)
    follow_up_first_days: int = policy_field(7, low=1, high=366)
    follow_up_second_days: int = policy_field(30, low=1, high=366)
    follow_up_local_time: str = policy_field(  # in the patient's zone
        "09:00", pattern=HH_MM, expects='a time of day as "HH:MM", e.g. "09:00"')
    sender_name: str = policy_field("Appointments")  # neutral: a clinic's name can disclose care
    preparation_text: str = policy_field(DEFAULT_PREPARATION_TEXT)
    appointment_minutes: int = policy_field(180, low=1, high=24 * 60)  # the calendar event
    location: str = policy_field("")
    site_url: str = policy_field("http://127.0.0.1:8000", pattern=WEB_ADDRESS,
                                 expects="a web address starting with http:// or https://")
    batch_size: int = policy_field(100, low=1)  # rows claimed per dispatcher transaction
    # Reminders per send task. One task per reminder spent more on the broker message, the
    # task start and its database connection than on the email; a batch still locks, checks
    # and marks each row on its own. Keep a batch well inside the task's soft time limit.
    send_batch_size: int = policy_field(50, low=1)
    lease_seconds: int = policy_field(600, low=1)  # a row "sending" this long is reclaimed
    max_attempts: int = policy_field(6, low=1)  # sends tried before the row is marked failed
    # First retry delay, doubling each attempt up to the maximum, which stays well below the
    # lease and the broker's visibility timeout.
    retry_backoff_seconds: float = policy_field(15.0, low=0)
    retry_backoff_max_seconds: float = policy_field(240.0, low=0)

    @classmethod
    def policy_errors(cls, mapping: object, *, email_timeout: float) -> list[PolicyError]:
        """Every problem of `mapping` as CLINIC_REMINDERS; empty when it can be used.

        A retry must come back before the lease ends, or a dispatcher would reclaim the row
        while its retry is still queued and the reminder could go out twice.
        """
        errors = field_errors(cls, mapping, setting=REMINDERS_SETTING)
        if errors:
            return errors
        config = cls(**mapping)
        if config.follow_up_second_days <= config.follow_up_first_days:
            errors.append(PolicyError(
                f"{REMINDERS_SETTING}['follow_up_second_days'] must be after the first "
                f"follow-up: {config.follow_up_second_days} days is not more than "
                f"follow_up_first_days ({config.follow_up_first_days}).",
                setting=REMINDERS_SETTING, key="follow_up_second_days", problem=OUT_OF_RANGE))
        if config.retry_backoff_max_seconds + email_timeout >= config.lease_seconds:
            errors.append(PolicyError(
                f"{REMINDERS_SETTING}: retry_backoff_max_seconds plus EMAIL_TIMEOUT must be "
                f"below lease_seconds ({config.retry_backoff_max_seconds} + {email_timeout} >= "
                f"{config.lease_seconds}).",
                setting=REMINDERS_SETTING, key="retry_backoff_max_seconds",
                problem=OUT_OF_RANGE))
        return errors

    @classmethod
    def settings_errors(cls) -> list[PolicyError]:
        """Every problem of settings.CLINIC_REMINDERS, read with the EMAIL_TIMEOUT it allows."""
        return cls.policy_errors(configured(getattr(settings, REMINDERS_SETTING, None)),
                                 email_timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 0)

    @classmethod
    def from_settings(cls) -> "ReminderSettings":
        errors = cls.settings_errors()
        if errors:
            raise errors[0]
        return cls(**configured(getattr(settings, REMINDERS_SETTING, None)))

    @property
    def follow_up_time(self) -> time:
        return time.fromisoformat(self.follow_up_local_time)


def patient_zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.time_zone)


def local_shift(moment: datetime, zone: ZoneInfo, *, hours: float) -> datetime:
    """`moment` moved by `hours` on the wall clock of `zone`, returned in UTC.

    Python adds a timedelta to an aware datetime in wall-clock time of its own tzinfo, which is
    exactly "same local time the day before" for an appointment across a DST change.
    """
    local = moment.astimezone(zone)
    return (local + timedelta(hours=hours)).astimezone(ZoneInfo("UTC"))


def local_at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC"))


def patient_can_receive(patient: Patient) -> bool:
    return bool(patient.email) and patient.reminders_opt_in and not patient.is_archived


def _upsert(*, kind: str, cause: str, patient: Patient, due_at: datetime, rearm: bool = False,
            **links) -> Reminder | None:
    """Create the row for (cause, kind), or move it if still pending.

    `rearm` puts a reminder that was already sent back to pending (a rescheduled appointment
    must be announced again). Cancelled and failed rows are left alone: an opt-out or a
    permanent bounce is not undone by a later event.
    """
    existing = Reminder.objects.select_for_update().filter(cause=cause, kind=kind).first()
    if existing is None:
        return Reminder.objects.create(kind=kind, cause=cause, patient=patient, due_at=due_at,
                                       **links)
    if existing.status == Status.PENDING or (rearm and existing.status == Status.SENT):
        existing.status = Status.PENDING
        existing.due_at = due_at
        existing.attempts = 0
        existing.claimed_at = None
        existing.attempt_started_at = None
        existing.sent_at = None
        existing.save(update_fields=["status", "due_at", "attempts", "claimed_at",
                                     "attempt_started_at", "sent_at", "updated_at"])
    return existing


def _cancel(queryset, *, reason: str) -> int:
    return queryset.filter(status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED, last_error=reason, updated_at=timezone.now(),
    )


# --- patient reminders --------------------------------------------------------------------

def upcoming_session_due_at(session: TreatmentSession) -> datetime:
    config = ReminderSettings.from_settings()
    return local_shift(session.scheduled_at, patient_zone(session.patient),
                       hours=-config.upcoming_session_hours_before)


def session_reminders_schedule(*, session: TreatmentSession, rearm: bool = False) -> None:
    """Upcoming-session reminder for a scheduled session in the future.

    Booked less than the offset ahead: the reminder is due at once.
    """
    now = timezone.now()
    if not patient_can_receive(session.patient) or session.scheduled_at <= now:
        return
    _upsert(kind=Kind.UPCOMING_SESSION, cause=f"session:{session.pk}", patient=session.patient,
            session=session, due_at=max(upcoming_session_due_at(session), now), rearm=rearm)


def session_reminders_move(*, session: TreatmentSession) -> None:
    """A rescheduled session moves its pending reminder, or announces the new time again."""
    if session.scheduled_at <= timezone.now():
        _cancel(session.reminders.filter(kind=Kind.UPCOMING_SESSION),
                reason="Session rescheduled into the past.")
        return
    session_reminders_schedule(session=session, rearm=True)


def session_reminders_cancel(*, session: TreatmentSession) -> int:
    return _cancel(session.reminders.filter(kind__in=PATIENT_KINDS),
                   reason=f"Session {session.get_status_display().lower()}.")


def session_completed_reminders_schedule(*, session: TreatmentSession) -> None:
    """Post-session check-in, 24 h (wall clock, patient's zone) after completion."""
    if not patient_can_receive(session.patient):
        return
    config = ReminderSettings.from_settings()
    due_at = local_shift(session.completed_at, patient_zone(session.patient),
                         hours=config.post_session_hours_after)
    _upsert(kind=Kind.POST_SESSION_CHECKIN, cause=f"session:{session.pk}",
            patient=session.patient, session=session, due_at=due_at)


FOLLOW_UP_KINDS = (("first", FollowUp.Kind.COURSE_7_DAYS), ("second", FollowUp.Kind.COURSE_30_DAYS))


def course_follow_ups_schedule(*, course: TreatmentCourse) -> list[FollowUp]:
    """Follow-up checks for withdrawal symptoms after a course's last session.

    Each creates a FollowUp for the clinician to record the contact (always), and a reminder
    email to the patient at the configured local time (if they can receive one).
    """
    config = ReminderSettings.from_settings()
    patient = course.patient
    zone = patient_zone(patient)
    last = (course.sessions.filter(status=TreatmentSession.Status.COMPLETED)
            .order_by("-completed_at").values_list("completed_at", flat=True).first())
    last_day = last.astimezone(zone).date() if last else course.ended_on
    follow_ups = []
    for which, follow_up_kind in FOLLOW_UP_KINDS:
        days = getattr(config, f"follow_up_{which}_days")
        due_on = last_day + timedelta(days=days)
        follow_up, _ = FollowUp.objects.get_or_create(
            course=course, kind=follow_up_kind, is_archived=False,
            defaults={"patient": patient, "due_on": due_on},
        )
        follow_ups.append(follow_up)
        if patient_can_receive(patient):
            _upsert(kind=Kind.FOLLOW_UP_CHECK, cause=f"course:{course.pk}:{follow_up_kind}",
                    patient=patient, course=course, follow_up=follow_up,
                    due_at=max(local_at(due_on, config.follow_up_time, zone), timezone.now()))
    return follow_ups


def patient_reminders_cancel(*, patient: Patient, reason: str) -> int:
    """Archiving or opting out cancels the patient's own emails; clinician safety alerts stay."""
    return _cancel(Reminder.objects.filter(patient=patient, kind__in=PATIENT_KINDS), reason=reason)


# --- clinician alerts ---------------------------------------------------------------------

def _alert(*, cause: str, patient: Patient, clinician, **links) -> Reminder:
    """Always scheduled, whatever the patient's email preferences: it goes to staff."""
    if clinician is None:
        raise WorkflowError("No responsible clinician to alert; set one on the course first.")
    reminder = _upsert(kind=Kind.CLINICIAN_ALERT, cause=cause, patient=patient,
                       due_at=timezone.now(), **links)
    if reminder.recipient_user_id is None:
        reminder.recipient_user = clinician
        reminder.save(update_fields=["recipient_user", "updated_at"])
    return reminder


def side_effect_alert_schedule(*, observation: SideEffectObservation) -> Reminder | None:
    """A side effect recorded (or later updated) as severe or serious alerts at once, once."""
    if not observation.needs_clinician_alert or observation.is_archived:
        return None
    if observation.session_id:
        session = observation.session
        patient, clinician = session.patient, session.clinician
    else:
        follow_up = observation.follow_up
        patient = follow_up.patient
        course = follow_up.course or patient.courses.order_by("-started_on", "-id").first()
        clinician = course.responsible_clinician if course else None
    return _alert(cause=f"observation:{observation.pk}", patient=patient, clinician=clinician,
                  session=observation.session, observation=observation)


def self_harm_alert_schedule(*, consultation: Consultation) -> Reminder | None:
    """PHQ-9 item 9 above 0 raises a same-day safety alert to the responsible clinician."""
    if not consultation.self_harm_flag:
        return None
    session = consultation.session
    return _alert(cause=f"consultation:{consultation.pk}", patient=session.patient,
                  clinician=session.clinician, session=session)


# --- staff actions (admin) ----------------------------------------------------------------

def reminders_cancel(*, queryset) -> int:
    return _cancel(queryset, reason="Cancelled by staff.")


def reminders_retry_failed(*, queryset) -> int:
    """Failed rows go back to pending, due now, with a fresh attempt budget."""
    return queryset.filter(status=Status.FAILED).update(
        status=Status.PENDING, due_at=timezone.now(), attempts=0, claimed_at=None,
        attempt_started_at=None, updated_at=timezone.now(),
    )


def reminders_make_due_now(*, queryset) -> list[int]:
    """Pending or failed rows become due now; returns their ids (the caller dispatches them)."""
    now = timezone.now()
    ids = list(queryset.filter(Q(status=Status.PENDING) | Q(status=Status.FAILED))
               .values_list("pk", flat=True))
    Reminder.objects.filter(pk__in=ids).update(
        status=Status.PENDING, due_at=now, attempts=0, claimed_at=None, attempt_started_at=None,
        updated_at=now,
    )
    return ids
