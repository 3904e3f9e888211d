"""Dispatch and send against a real SMTP server (aiosmtpd): what the recipient receives, and
what happens on 451, 550, a hung server, a cancel or an opt-out before the send."""

from datetime import timedelta
from email.utils import parseaddr

import pytest
from django.utils import timezone

from patients import services as patient_services
from sessions import services
from sessions.dispatch import reminder_dispatch_due
from sessions.models import Reminder
from tests.factories import CourseFactory, PatientFactory, monitoring_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks, eager_celery):
    def _dispatch():
        with django_capture_on_commit_callbacks(execute=True):
            return reminder_dispatch_due()
    return _dispatch


def make_due(queryset):
    """Time passes: the rows' due time is now in the past."""
    queryset.update(due_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def upcoming(clinician):
    patient = PatientFactory(first_name="Robin", email="robin@example.test",
                             time_zone="Europe/London")
    course = CourseFactory(patient=patient, responsible_clinician=clinician, drug="esketamine")
    session = services.session_schedule(
        patient=patient, course=course, clinician=clinician,
        scheduled_at=timezone.now() + timedelta(days=3))
    reminder = Reminder.objects.get(session=session)
    make_due(Reminder.objects.filter(pk=reminder.pk))
    return reminder


def test_completed_session_check_in_reaches_the_patient_and_row_is_sent(
        session, advance, nurse, smtp_server, dispatch):
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    check_in = Reminder.objects.get(session=session, kind="post_session_checkin")
    assert dispatch().claimed == []  # not due for 24 hours
    make_due(Reminder.objects.filter(pk=check_in.pk))
    assert dispatch().claimed == [check_in.pk]
    check_in.refresh_from_db()
    assert check_in.status == Reminder.Status.SENT and check_in.sent_at and check_in.attempts == 1
    [received] = smtp_server.handler.received
    assert received.envelope_to == [session.patient.email]
    assert received.message_id == check_in.message_id
    assert "Checking in after your visit" in received.message["Subject"]


def test_upcoming_email_has_local_time_preparation_ics_and_one_click_opt_out(
        upcoming, smtp_server, dispatch, settings):
    settings.CLINIC_REMINDERS = {"sender_name": "Riverside Appointments",
                                 "preparation_text": "Nothing to eat after 7am."}
    dispatch()
    [received] = smtp_server.handler.received
    message = received.message
    assert parseaddr(message["From"])[0] == "Riverside Appointments"
    local = upcoming.session.scheduled_at.astimezone(timezone.get_fixed_timezone(0))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    hour = local.strftime("%I").lstrip("0")
    expected_time = f"{local:%A %d %B %Y} at {hour}:{local:%M %p} (GMT)"
    assert expected_time in text and expected_time in message["Subject"]
    assert "Nothing to eat after 7am." in text and "Nothing to eat after 7am." in html
    [ics] = [part for part in message.iter_attachments()
             if part.get_content_type() == "text/calendar"]
    calendar = ics.get_content()
    assert "BEGIN:VEVENT" in calendar
    assert f"DTSTART:{upcoming.session.scheduled_at:%Y%m%dT%H%M%SZ}" in calendar
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    opt_out_url = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert opt_out_url in text and opt_out_url in html
    assert opt_out_url.startswith("http://127.0.0.1:8000/reminders/opt-out/")


def test_smtp_451_is_retried_then_sent(upcoming, smtp_server, dispatch, fast_retries):
    smtp_server.handler.answers = ["451 4.3.0 Try again later"]
    dispatch()
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.SENT
    assert upcoming.attempts == 2
    assert "451" in upcoming.last_error
    assert len(smtp_server.handler.received) == 1


def test_smtp_550_fails_at_once_without_a_retry_loop(upcoming, smtp_server, dispatch,
                                                    fast_retries):
    smtp_server.handler.reject_recipients = True
    dispatch()
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.FAILED
    assert upcoming.attempts == 1
    assert "550" in upcoming.last_error
    assert dispatch().claimed == []  # a failed row is not picked up again
    assert smtp_server.handler.received == []


def test_550_answer_to_the_message_fails_it(upcoming, smtp_server, dispatch, fast_retries):
    smtp_server.handler.answers = ["550 5.7.1 Message rejected"]
    dispatch()
    upcoming.refresh_from_db()
    assert (upcoming.status, upcoming.attempts) == (Reminder.Status.FAILED, 1)
    assert smtp_server.handler.data_commands == 1


def test_hung_smtp_server_times_out_and_is_retried(upcoming, smtp_server, dispatch,
                                                  fast_retries):
    smtp_server.handler.answers = ["hang"]
    dispatch()
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.SENT
    assert upcoming.attempts == 2
    assert "timed out" in upcoming.last_error.lower()


def test_persistent_451_gives_up_after_the_attempt_budget(upcoming, smtp_server, dispatch,
                                                         fast_retries):
    smtp_server.handler.answers = ["451 4.3.0 Busy"] * 10
    dispatch()
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.FAILED
    assert upcoming.attempts == 4
    assert upcoming.last_error.startswith("Gave up after 4 attempts")


def test_cancel_before_dispatch_sends_nothing(upcoming, smtp_server, dispatch):
    services.session_cancel(session=upcoming.session, reason="Patient called to cancel")
    assert dispatch().claimed == []
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.CANCELLED
    assert smtp_server.handler.received == []


def test_cancel_after_claim_but_before_send_sends_nothing(upcoming, smtp_server, eager_celery):
    from sessions.tasks import reminder_send_task

    reminder_dispatch_due()  # claimed; the send task is still waiting in the broker
    services.session_cancel(session=upcoming.session, reason="Patient called to cancel")
    reminder_send_task.apply(args=[upcoming.pk])
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.CANCELLED
    assert smtp_server.handler.received == []


def test_opt_out_after_claim_sends_nothing(upcoming, smtp_server, eager_celery):
    from sessions.tasks import reminder_send_task

    reminder_dispatch_due()
    patient_services.patient_reminders_opt_out(patient=upcoming.patient)
    reminder_send_task.apply(args=[upcoming.pk])
    assert smtp_server.handler.received == []
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.CANCELLED


def test_upcoming_reminder_not_sent_once_the_session_started(upcoming, smtp_server, dispatch):
    services.session_start(session=upcoming.session)
    dispatch()
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.CANCELLED
    assert "in progress" in upcoming.last_error
    assert smtp_server.handler.received == []


def test_a_redelivered_send_task_does_not_send_twice(upcoming, smtp_server, dispatch):
    from sessions.tasks import reminder_send_task

    dispatch()
    reminder_send_task.apply(args=[upcoming.pk])  # the broker delivers the message again
    assert len(smtp_server.handler.received) == 1


def test_dispatching_twice_claims_each_row_once(upcoming, smtp_server, eager_celery):
    first = reminder_dispatch_due()
    second = reminder_dispatch_due()
    assert first.claimed == [upcoming.pk]
    assert second.claimed == []


def test_row_stuck_in_sending_past_the_lease_is_reclaimed_and_sent(
        upcoming, smtp_server, dispatch, settings):
    settings.CLINIC_REMINDERS = {"lease_seconds": 60, "retry_backoff_max_seconds": 30}
    # A worker claimed it and died: status sending, attempt started, nobody finishing it.
    Reminder.objects.filter(pk=upcoming.pk).update(
        status="sending", attempts=1, claimed_at=timezone.now() - timedelta(seconds=30),
        attempt_started_at=timezone.now() - timedelta(seconds=30))
    assert dispatch().claimed == []  # lease still running
    Reminder.objects.filter(pk=upcoming.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=61),
        attempt_started_at=timezone.now() - timedelta(seconds=61))
    assert dispatch().claimed == [upcoming.pk]
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.SENT and upcoming.attempts == 2
    assert len(smtp_server.handler.received) == 1


def test_row_whose_workers_keep_dying_is_failed_after_the_attempt_budget(
        upcoming, smtp_server, dispatch, settings):
    settings.CLINIC_REMINDERS = {"lease_seconds": 60, "max_attempts": 3,
                                 "retry_backoff_max_seconds": 30}
    long_ago = timezone.now() - timedelta(minutes=5)
    Reminder.objects.filter(pk=upcoming.pk).update(
        status="sending", attempts=3, claimed_at=long_ago, attempt_started_at=long_ago)
    result = dispatch()
    upcoming.refresh_from_db()
    assert result.gave_up == 1 and upcoming.status == Reminder.Status.FAILED
    assert "Gave up after 3 attempts" in upcoming.last_error
    assert smtp_server.handler.received == []


def test_clinician_alert_reaches_the_clinician_without_identifying_or_clinical_detail(
        session, advance, clinician, smtp_server, dispatch):
    advance(session, through="consultation", consultation={"phq9_item_9": 2})
    dispatch()
    [received] = smtp_server.handler.received
    assert received.envelope_to == [clinician.email]
    assert received.message["Subject"] == "A patient needs your review"
    assert session.patient.mrn not in received.message.as_string()
    assert session.patient.last_name not in received.message.as_string()
    assert Reminder.objects.get(kind="clinician_alert").status == Reminder.Status.SENT


def test_reminder_to_a_clinician_without_email_fails_visibly(session, advance, clinician,
                                                            smtp_server, dispatch):
    clinician.email = ""
    clinician.save()
    advance(session, through="consultation", consultation={"phq9_item_9": 1})
    dispatch()
    alert = Reminder.objects.get(kind="clinician_alert")
    assert alert.status == Reminder.Status.FAILED
    assert "No email address" in alert.last_error


def test_dispatch_reminders_command_runs_the_dispatcher_once(
        upcoming, smtp_server, eager_celery, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the test runs in a transaction
        call_command("dispatch_reminders", stdout=out)
    assert out.getvalue().startswith("claimed 1,")
    upcoming.refresh_from_db()
    assert upcoming.status == Reminder.Status.SENT
    assert len(smtp_server.handler.received) == 1


def test_rescheduled_within_the_minute_of_its_announcement_the_new_time_has_its_own_message_id(
        clinician, smtp_server, dispatch):
    """Booked less than a day ahead, the reminder is due at once; moved again a moment after it
    went out, the new time is announced under a Message-ID of its own, so a mail client does
    not drop it as a duplicate of the first and no Message-ID is ever sent twice."""
    patient = PatientFactory(email="kai@example.test")
    course = CourseFactory(patient=patient, responsible_clinician=clinician)
    session = services.session_schedule(patient=patient, course=course, clinician=clinician,
                                        scheduled_at=timezone.now() + timedelta(hours=20))
    dispatch()
    first = Reminder.objects.get(session=session)
    services.session_reschedule(session=session,
                                scheduled_at=timezone.now() + timedelta(hours=21))
    dispatch()
    second = Reminder.objects.get(session=session)
    assert second.status == Reminder.Status.SENT
    received = [message.message_id for message in smtp_server.handler.received]
    assert received == [first.message_id, second.message_id]
    assert first.message_id != second.message_id
