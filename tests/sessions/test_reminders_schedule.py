"""Reminder rows are written by the workflow services, in the same transaction as their cause
(DESIGN.md section 4): one row per (cause, kind), moved, cancelled, never for a patient who
cannot receive email — except clinician safety alerts, which always go out."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients import services as patient_services
from sessions import reminders, services
from sessions.errors import WorkflowError
from sessions.models import FollowUp, Reminder, TreatmentSession
from tests.factories import CourseFactory, PatientFactory, monitoring_data, symptom

pytestmark = pytest.mark.django_db


def schedule(course, when, clinician=None):
    return services.session_schedule(patient=course.patient, course=course,
                                     clinician=clinician or course.responsible_clinician,
                                     scheduled_at=when)


def wall_clock(moment, hours):
    """`moment` shifted on the New York wall clock (the factories' patient zone)."""
    zone = reminders.ZoneInfo("America/New_York")
    return (moment.astimezone(zone) + timedelta(hours=hours)).astimezone(UTC)


def complete(session, advance, nurse):
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    session.refresh_from_db()
    return session


@pytest.fixture
def course(clinician):
    return CourseFactory(responsible_clinician=clinician)


def test_scheduling_writes_one_upcoming_reminder_24_hours_before(course):
    when = timezone.now() + timedelta(days=3)
    session = schedule(course, when)
    reminder = Reminder.objects.get(session=session)
    assert reminder.kind == Reminder.Kind.UPCOMING_SESSION
    assert reminder.status == Reminder.Status.PENDING
    assert reminder.due_at == wall_clock(when, -24)
    assert reminder.patient == course.patient


def test_scheduling_twice_writes_one_row(course):
    session = schedule(course, timezone.now() + timedelta(days=3))
    reminders.session_reminders_schedule(session=session)
    assert Reminder.objects.filter(session=session).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(kind=Reminder.Kind.UPCOMING_SESSION, cause=f"session:{session.pk}",
                                patient=session.patient, due_at=timezone.now())


def test_session_booked_within_a_day_is_reminded_at_once(course):
    before = timezone.now()
    session = schedule(course, timezone.now() + timedelta(hours=3))
    reminder = Reminder.objects.get(session=session)
    assert before <= reminder.due_at <= timezone.now()


def test_no_reminder_without_email_or_without_opt_in(clinician):
    for patient in (PatientFactory(email=""), PatientFactory(reminders_opt_in=False)):
        course = CourseFactory(patient=patient, responsible_clinician=clinician)
        schedule(course, timezone.now() + timedelta(days=2))
        assert not Reminder.objects.filter(patient=patient).exists()


def test_rescheduling_moves_the_pending_reminder(course):
    session = schedule(course, timezone.now() + timedelta(days=3))
    later = timezone.now() + timedelta(days=5)
    services.session_reschedule(session=session, scheduled_at=later)
    reminder = Reminder.objects.get(session=session)
    assert reminder.due_at == wall_clock(later, -24)
    assert reminder.status == Reminder.Status.PENDING


def test_rescheduling_after_the_reminder_went_out_announces_the_new_time(course):
    session = schedule(course, timezone.now() + timedelta(days=3))
    Reminder.objects.filter(session=session).update(status="sent", sent_at=timezone.now())
    services.session_reschedule(session=session, scheduled_at=timezone.now() + timedelta(days=6))
    assert Reminder.objects.get(session=session).status == Reminder.Status.PENDING


def test_cancelling_or_no_show_cancels_pending_reminders(course):
    first = schedule(course, timezone.now() + timedelta(days=3))
    second = schedule(course, timezone.now() + timedelta(days=4))
    services.session_cancel(session=first, reason="Patient is travelling")
    services.session_cancel(session=second, reason="Did not come", no_show=True)
    statuses = set(Reminder.objects.filter(patient=course.patient).values_list("status", flat=True))
    assert statuses == {Reminder.Status.CANCELLED}


def test_refused_cancel_changes_no_reminder(course):
    session = schedule(course, timezone.now() + timedelta(days=3))
    with pytest.raises(WorkflowError):
        services.session_cancel(session=session, reason="   ")
    assert Reminder.objects.get(session=session).status == Reminder.Status.PENDING


def test_completing_a_session_schedules_the_check_in_24_hours_later(course, advance, nurse):
    session = schedule(course, timezone.now() - timedelta(hours=3))
    session = complete(session, advance, nurse)
    check_in = Reminder.objects.get(session=session, kind=Reminder.Kind.POST_SESSION_CHECKIN)
    assert check_in.due_at == wall_clock(session.completed_at, 24)
    # the upcoming reminder of a session that started is no longer sent (checked at send time)
    assert session.status == TreatmentSession.Status.COMPLETED


def test_ending_a_course_schedules_follow_ups_at_7_and_30_days_with_follow_up_records(
        course, advance, nurse, settings):
    settings.CLINIC_REMINDERS = {"follow_up_local_time": "10:30"}
    course.patient.time_zone = "Europe/London"
    course.patient.save()
    session = complete(schedule(course, timezone.now() - timedelta(hours=3)), advance, nurse)
    services.course_end(course=course)
    follow_ups = FollowUp.objects.filter(course=course).order_by("due_on")
    assert [f.kind for f in follow_ups] == ["course_7d", "course_30d"]
    last_day = session.completed_at.astimezone(reminders.ZoneInfo("Europe/London")).date()
    assert [f.due_on for f in follow_ups] == [last_day + timedelta(days=7),
                                              last_day + timedelta(days=30)]
    rows = Reminder.objects.filter(course=course, kind=Reminder.Kind.FOLLOW_UP_CHECK)
    assert {r.follow_up_id for r in rows} == {f.pk for f in follow_ups}
    for row in rows:
        local = row.due_at.astimezone(reminders.ZoneInfo("Europe/London"))
        assert (local.hour, local.minute) == (10, 30)
        assert local.date() == row.follow_up.due_on


def test_follow_up_records_are_created_even_for_an_opted_out_patient(clinician):
    patient = PatientFactory(reminders_opt_in=False)
    course = CourseFactory(patient=patient, responsible_clinician=clinician)
    services.course_end(course=course)
    assert FollowUp.objects.filter(course=course).count() == 2
    assert not Reminder.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("severity, serious, alerts", [
    ("mild", False, 0), ("moderate", False, 0), ("severe", False, 1),
    ("life_threatening", False, 1), ("moderate", True, 1),
])
def test_severe_or_serious_side_effect_alerts_the_responsible_clinician_at_once(
        session, advance, nurse, clinician, severity, serious, alerts):
    advance(session, through="administration")
    services.side_effect_record(session=session, recorded_by=nurse,
                                symptom=symptom("Nausea"), severity=severity,
                                is_serious=serious, onset_at=timezone.now())
    rows = Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT)
    assert rows.count() == alerts
    if alerts:
        assert rows.get().recipient_user == clinician
        assert rows.get().due_at <= timezone.now()


def test_side_effect_upgraded_to_severe_alerts_once(session, advance, nurse):
    advance(session, through="administration")
    observation = services.side_effect_record(session=session, recorded_by=nurse,
                                              symptom=symptom("Nausea"), severity="moderate",
                                              onset_at=timezone.now())
    services.side_effect_update(observation=observation, severity="severe")
    services.side_effect_update(observation=observation, is_serious=True)
    assert Reminder.objects.filter(observation=observation).count() == 1


def test_clinician_alert_goes_out_even_if_the_patient_opted_out(session, advance, nurse):
    session.patient.reminders_opt_in = False
    session.patient.email = ""
    session.patient.save()
    advance(session, through="administration")
    services.side_effect_record(session=session, recorded_by=nurse,
                                symptom=symptom("Nausea"), severity="severe",
                                onset_at=timezone.now())
    assert Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT).count() == 1


def test_phq9_item_9_above_zero_alerts_the_clinician(session, advance, clinician):
    advance(session, through="consultation", consultation={"phq9_item_9": 1})
    alert = Reminder.objects.get(kind=Reminder.Kind.CLINICIAN_ALERT)
    assert alert.recipient_user == clinician
    assert alert.cause == f"consultation:{session.consultation.pk}"


def test_phq9_item_9_zero_raises_no_alert(session, advance):
    advance(session, through="consultation")
    assert not Reminder.objects.filter(kind=Reminder.Kind.CLINICIAN_ALERT).exists()


def test_archiving_cancels_patient_reminders_but_keeps_clinician_alerts(session, advance, nurse):
    advance(session, through="administration")
    services.side_effect_record(session=session, recorded_by=nurse, symptom=symptom("Nausea"),
                                severity="severe", onset_at=timezone.now())
    services.session_cancel(session=session, reason="Stopped after the reaction")
    upcoming = schedule(session.course, timezone.now() + timedelta(days=3))
    patient_services.patient_archive(patient=session.patient)
    assert Reminder.objects.get(session=upcoming).status == Reminder.Status.CANCELLED
    assert Reminder.objects.get(kind="clinician_alert").status == Reminder.Status.PENDING


def test_opting_out_cancels_pending_reminders_and_changes_only_the_opt_in(course):
    session = schedule(course, timezone.now() + timedelta(days=3))
    other = schedule(CourseFactory(responsible_clinician=course.responsible_clinician),
                     timezone.now() + timedelta(days=3))
    patient_services.patient_reminders_opt_out(patient=course.patient)
    course.patient.refresh_from_db()
    assert course.patient.reminders_opt_in is False
    assert Reminder.objects.get(session=session).status == Reminder.Status.CANCELLED
    assert Reminder.objects.get(session=other).status == Reminder.Status.PENDING
    assert other.patient.reminders_opt_in is True


def test_a_refused_service_writes_no_reminder(course):
    course.status = "completed"
    course.save()
    with pytest.raises(WorkflowError):
        schedule(course, timezone.now() + timedelta(days=2))
    assert not Reminder.objects.exists()


# --- daylight saving: 09:00 local stays 09:00 local ---------------------------------------

@pytest.mark.parametrize("appointment_local, expected_utc", [
    # New York springs forward on 2027-03-14 at 02:00 (EST -5 -> EDT -4).
    (datetime(2027, 3, 14, 9), datetime(2027, 3, 13, 14, tzinfo=UTC)),  # reminder in EST
    (datetime(2027, 3, 15, 9), datetime(2027, 3, 14, 13, tzinfo=UTC)),  # reminder in EDT
    # ... and falls back on 2027-11-07.
    (datetime(2027, 11, 7, 9), datetime(2027, 11, 6, 13, tzinfo=UTC)),
    (datetime(2027, 11, 8, 9), datetime(2027, 11, 7, 14, tzinfo=UTC)),
])
def test_upcoming_reminder_is_0900_local_the_day_before_across_dst(
        course, appointment_local, expected_utc, monkeypatch):
    zone = reminders.ZoneInfo("America/New_York")
    scheduled_at = appointment_local.replace(tzinfo=zone)
    monkeypatch.setattr(timezone, "now", lambda: datetime(2027, 3, 1, tzinfo=UTC))
    session = schedule(course, scheduled_at)
    reminder = Reminder.objects.get(session=session)
    assert reminder.due_at == expected_utc
    local = reminder.due_at.astimezone(zone)
    assert (local.hour, local.minute) == (9, 0)
    assert local.date() == appointment_local.date() - timedelta(days=1)


def test_retry_backoff_stays_inside_the_lease_and_the_broker_visibility_timeout(settings):
    config = reminders.ReminderSettings.from_settings()
    worst_attempt = config.retry_backoff_max_seconds + settings.EMAIL_TIMEOUT
    assert worst_attempt < config.lease_seconds
    if "visibility_timeout" in settings.CELERY_BROKER_TRANSPORT_OPTIONS:
        assert config.lease_seconds < settings.CELERY_BROKER_TRANSPORT_OPTIONS[
            "visibility_timeout"]
    settings.CLINIC_REMINDERS = {"lease_seconds": 60, "retry_backoff_max_seconds": 120}
    with pytest.raises(ImproperlyConfigured, match="below lease_seconds"):
        reminders.ReminderSettings.from_settings()


def test_severe_withdrawal_symptom_at_a_follow_up_alerts_the_course_clinician(
        clinician, nurse):
    course = CourseFactory(responsible_clinician=clinician)
    services.course_end(course=course)
    follow_up = FollowUp.objects.filter(course=course).first()
    services.side_effect_record(follow_up=follow_up, recorded_by=nurse,
                                symptom=symptom("Insomnia", "withdrawal_sleep"),
                                severity="severe", onset_at=timezone.now())
    alert = Reminder.objects.get(kind=Reminder.Kind.CLINICIAN_ALERT)
    assert alert.recipient_user == clinician and alert.patient == course.patient
