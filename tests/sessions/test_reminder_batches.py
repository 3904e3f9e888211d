"""Several reminders per send task, against a real SMTP server (aiosmtpd) and a real broker of
the test's own (kombu's in-memory transport, so what a batch hands back stays queued for the
test to read): each row is still locked, checked and marked on its own, a row's own 4xx is
retried on its own, an unwell server defers the rest of the batch, and a redelivered batch
sends nothing twice."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients import services as patient_services
from sessions import services
from sessions.dispatch import _begin_attempt, reminder_dispatch_due, reminder_send_batch
from sessions.models import Reminder
from sessions.reminders import ReminderSettings
from tests.factories import CourseFactory, PatientFactory
from tests.support.smtp import free_port

pytestmark = pytest.mark.django_db


class QueuedTasks:
    """The messages published to the test's broker, read back in order."""

    def __init__(self, app):
        self.app = app

    def take(self) -> list[tuple[str, list, bool]]:
        """(task name, args, has a countdown) of every message queued so far; empties the
        queue."""
        messages = []
        with self.app.connection_for_read() as conn:
            queue = conn.SimpleQueue("celery", no_ack=True)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                messages.append((message.headers["task"], message.payload[0],
                                 message.headers.get("eta") is not None))
            queue.close()
        return messages


@pytest.fixture
def broker():
    """Point the Celery app at an in-memory broker of this test's own for its duration."""
    from clinic.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options

    def reset_pools():  # connections made for one broker URL must not serve the other
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    app.conf.broker_url, app.conf.broker_transport_options = "memory://", {}
    queued = QueuedTasks(app)
    queued.take()  # nothing left over from an earlier test
    yield queued
    queued.take()
    reset_pools()
    app.conf.broker_url, app.conf.broker_transport_options = saved


def claimed_follow_ups(count: int) -> list[Reminder]:
    """`count` follow-up reminders, one per patient, claimed by a dispatcher (sending)."""
    rows = [Reminder.objects.create(
        kind=Reminder.Kind.FOLLOW_UP_CHECK, cause=f"batch-test:{n}",
        patient=PatientFactory(email=f"patient{n}@example.test"),
        due_at=timezone.now() - timedelta(minutes=1)) for n in range(count)]
    Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=Reminder.Status.SENDING, claimed_at=timezone.now() - timedelta(seconds=5))
    return rows


def claimed_upcoming(clinician, count: int) -> list[Reminder]:
    """`count` upcoming-session reminders (sessions in 3 days), due and claimed."""
    for n in range(count):
        patient = PatientFactory(email=f"upcoming{n}@example.test")
        course = CourseFactory(patient=patient, responsible_clinician=clinician)
        services.session_schedule(patient=patient, course=course, clinician=clinician,
                                  scheduled_at=timezone.now() + timedelta(days=3, minutes=n))
    rows = list(Reminder.objects.filter(kind=Reminder.Kind.UPCOMING_SESSION).order_by("pk"))
    Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=Reminder.Status.SENDING, due_at=timezone.now() - timedelta(minutes=1),
        claimed_at=timezone.now() - timedelta(seconds=5))
    return rows


def ids(rows) -> list[int]:
    return [row.pk for row in rows]


def status_of(rows) -> list[str]:
    by_id = dict(Reminder.objects.filter(pk__in=ids(rows)).values_list("pk", "status"))
    return [by_id[row.pk] for row in rows]


def recipients(smtp_server) -> list[str]:
    return [received.envelope_to[0] for received in smtp_server.handler.received]


def test_a_batch_sends_each_reminder_once_and_marks_each_sent(smtp_server, broker):
    rows = claimed_follow_ups(4)
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert outcome.sent == ids(rows)
    assert recipients(smtp_server) == [row.patient.email for row in rows]
    assert status_of(rows) == ["sent"] * 4
    by_message_id = {r.message_id: r for r in smtp_server.handler.received}
    for row in Reminder.objects.filter(pk__in=ids(rows)):
        assert row.attempts == 1 and row.sent_at and row.attempt_started_at is None
        assert by_message_id[row.message_id].envelope_to == [row.patient.email]
    assert broker.take() == []  # nothing handed back


def test_the_dispatcher_publishes_one_task_per_chunk_of_send_batch_size(
        settings, broker, django_capture_on_commit_callbacks):
    settings.CLINIC_REMINDERS = {"send_batch_size": 2}
    rows = claimed_follow_ups(5)
    Reminder.objects.filter(pk__in=ids(rows)).update(status=Reminder.Status.PENDING,
                                                     claimed_at=None)
    with django_capture_on_commit_callbacks(execute=True) as published:
        result = reminder_dispatch_due()
    assert len(result.claimed) == 5 and len(published) == 1  # published after the claim
    assert status_of(rows) == ["sending"] * 5
    queued = broker.take()
    assert [name for name, _, _ in queued] == ["sessions.reminder_send_batch"] * 3
    assert [args[0] for _, args, _ in queued] == [ids(rows)[0:2], ids(rows)[2:4],
                                                   ids(rows)[4:]]


def test_a_batch_sends_with_one_statement_per_reminder_on_postgresql(smtp_server, broker):
    rows = claimed_follow_ups(5)
    with CaptureQueriesContext(connection) as queries:
        reminder_send_batch(reminder_ids=ids(rows))
    assert status_of(rows) == ["sent"] * 5
    # One query loads the batch; then per reminder one conditional UPDATE starts the attempt
    # and one marks it sent. On PostgreSQL the mark rides on the next row's start (one
    # statement, one commit); the last row is marked on its own. The locked transaction is
    # for rows that changed or must not go.
    per_reminder = 1 if connection.vendor == "postgresql" else 2
    assert len(queries) == 1 + per_reminder * len(rows) + (per_reminder == 1), [
        q["sql"][:80] for q in queries]


def test_cancelled_or_opted_out_rows_inside_a_batch_are_skipped_and_not_emailed(
        clinician, smtp_server, broker):
    rows = claimed_upcoming(clinician, 4)
    services.session_cancel(session=rows[1].session, reason="Patient called to cancel")
    patient_services.patient_reminders_opt_out(patient=rows[2].patient)
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert outcome.sent == [rows[0].pk, rows[3].pk]
    assert outcome.skipped == [rows[1].pk, rows[2].pk]
    assert recipients(smtp_server) == [rows[0].patient.email, rows[3].patient.email]
    assert status_of(rows) == ["sent", "cancelled", "cancelled", "sent"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_change_made_while_the_batch_is_sending_is_seen_by_the_later_rows(
        clinician, smtp_server, broker):
    rows = claimed_upcoming(clinician, 4)

    def meanwhile(number):
        """While the first email is being received: the second patient's session starts
        (the reminder row itself is not touched) and the third patient opts out."""
        from django.db import connection as thread_connection

        if number != 1:
            return
        try:
            services.session_start(session=Reminder.objects.get(pk=rows[1].pk).session)
            patient_services.patient_reminders_opt_out(
                patient=Reminder.objects.get(pk=rows[2].pk).patient)
        finally:
            thread_connection.close()

    smtp_server.handler.on_data = meanwhile
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert recipients(smtp_server) == [rows[0].patient.email, rows[3].patient.email]
    assert outcome.skipped == [rows[1].pk, rows[2].pk]
    second = Reminder.objects.get(pk=rows[1].pk)
    assert second.status == "cancelled" and "in progress" in second.last_error
    assert Reminder.objects.get(pk=rows[2].pk).status == "cancelled"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_attempts_made_by_another_copy_of_the_batch_count_against_the_budget(
        smtp_server, broker, settings):
    settings.CLINIC_REMINDERS = {"max_attempts": 2, "retry_backoff_seconds": 0.01,
                                 "retry_backoff_max_seconds": 0.05}
    rows = claimed_follow_ups(3)

    def meanwhile(number):
        """While the first email is being received, a redelivered copy of the batch on another
        worker tries the second reminder and fails with a 4xx."""
        from django.db import connection as thread_connection

        from sessions.dispatch import _finish

        if number != 1:
            return
        try:
            begun = _begin_attempt(rows[1].pk, ReminderSettings.from_settings())
            _finish(begun, last_error="SMTP 451: try later", attempt_started_at=None,
                    claimed_at=timezone.now())
        finally:
            thread_connection.close()

    smtp_server.handler.on_data = meanwhile
    smtp_server.handler.answers = ["250", "451 4.3.0 Try again later"]
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    second = Reminder.objects.get(pk=rows[1].pk)
    assert (second.status, second.attempts) == ("failed", 2)
    assert second.last_error.startswith("Gave up after 2 attempts")
    assert outcome.failed == [rows[1].pk] and outcome.retried == {}
    assert broker.take() == []


def test_a_transient_4xx_for_one_row_retries_only_that_row(smtp_server, broker,
                                                           fast_retries):
    rows = claimed_follow_ups(4)
    smtp_server.handler.answers = ["250", "451 4.2.2 Mailbox full, try later"]
    before = timezone.now()
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert outcome.sent == [rows[0].pk, rows[2].pk, rows[3].pk]  # the others went on
    assert list(outcome.retried) == [rows[1].pk]
    config = ReminderSettings.from_settings()
    assert 0 < outcome.retried[rows[1].pk] <= config.retry_backoff_max_seconds
    assert smtp_server.handler.data_commands == 4
    retried = Reminder.objects.get(pk=rows[1].pk)
    assert (retried.status, retried.attempts) == ("sending", 1)
    assert "451" in retried.last_error and retried.claimed_at >= before  # lease renewed
    # Handed back as the single-row task, after its backoff (a countdown, not a long ETA).
    assert broker.take() == [("sessions.reminder_send", [rows[1].pk], True)]
    from sessions.tasks import reminder_send_task

    reminder_send_task.apply(args=[rows[1].pk])  # its retry comes round
    assert status_of(rows) == ["sent"] * 4
    assert sorted(recipients(smtp_server)) == sorted(row.patient.email for row in rows)


@pytest.mark.parametrize("fault", ["hung", "refusing"])
def test_an_unwell_server_defers_the_rest_of_the_batch_instead_of_waiting_per_row(
        fault, smtp_server, broker, settings, fast_retries):
    rows = claimed_follow_ups(5)
    if fault == "hung":
        smtp_server.handler.answers = ["hang"] * 5  # each would wait out its own timeout
    else:
        settings.EMAIL_PORT = free_port()  # nothing listens there: connection refused
    before = timezone.now()
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert list(outcome.retried) == [rows[0].pk]
    assert outcome.deferred == ids(rows)[1:]
    assert 0 < outcome.deferred_in_seconds <= ReminderSettings.from_settings(
        ).retry_backoff_max_seconds
    assert smtp_server.handler.data_commands == (1 if fault == "hung" else 0)
    first = Reminder.objects.get(pk=rows[0].pk)
    assert first.attempts == 1 and first.status == "sending"
    for row in Reminder.objects.filter(pk__in=outcome.deferred):
        assert (row.status, row.attempts) == ("sending", 0)  # not tried, not charged
        assert row.attempt_started_at is None and row.claimed_at >= before  # lease renewed
    assert broker.take() == [("sessions.reminder_send", [rows[0].pk], True),
                             ("sessions.reminder_send_batch", [ids(rows)[1:]], True)]
    assert smtp_server.handler.received == []


def test_a_used_up_time_budget_hands_the_rest_back_at_once(smtp_server, broker):
    rows = claimed_follow_ups(3)
    outcome = reminder_send_batch(reminder_ids=ids(rows), time_budget_seconds=0)
    assert outcome.deferred == ids(rows) and outcome.sent == []
    assert broker.take() == [("sessions.reminder_send_batch", [ids(rows)], False)]
    assert smtp_server.handler.data_commands == 0
    assert status_of(rows) == ["sending"] * 3


def test_the_batch_task_keeps_inside_its_soft_time_limit(settings):
    from sessions.tasks import batch_time_budget

    settings.EMAIL_TIMEOUT = 10
    assert batch_time_budget(90) == 60  # room for the send in flight: 3 × EMAIL_TIMEOUT
    assert batch_time_budget(20) == pytest.approx(20 / 3)  # at least a third of the limit
    assert batch_time_budget(None) is None


def test_redelivery_of_a_partly_done_batch_sends_nothing_twice(
        smtp_server, broker, settings, django_capture_on_commit_callbacks):
    settings.CLINIC_REMINDERS = {"lease_seconds": 60, "retry_backoff_max_seconds": 30}
    rows = claimed_follow_ups(4)
    # The worker sent the first two, had begun the third when it was killed (the attempt is
    # marked started; whether the server got the email is unknown) and never reached the
    # fourth. Its batch message was not acknowledged, so the broker delivers it again.
    reminder_send_batch(reminder_ids=ids(rows)[:2])
    _begin_attempt(rows[2].pk, ReminderSettings.from_settings())
    outcome = reminder_send_batch(reminder_ids=ids(rows))
    assert outcome.sent == [rows[3].pk]
    assert outcome.skipped == ids(rows)[:3]
    assert recipients(smtp_server) == [row.patient.email for row in (rows[0], rows[1],
                                                                      rows[3])]
    # The third is left to its lease: once it has expired the dispatcher reclaims and sends it.
    Reminder.objects.filter(pk=rows[2].pk).update(
        claimed_at=timezone.now() - timedelta(seconds=61),
        attempt_started_at=timezone.now() - timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_dispatch_due().claimed == [rows[2].pk]
    [(name, args, _)] = broker.take()
    reminder_send_batch(reminder_ids=args[0])
    assert status_of(rows) == ["sent"] * 4
    assert sorted(recipients(smtp_server)) == sorted(row.patient.email for row in rows)
