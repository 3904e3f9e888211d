"""A worker keeps one SMTP connection open from one reminder to the next, and a failed send
never poisons the next one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.dispatch import reminder_send
from sessions.mail_connection import email_connection_discard
from sessions.models import Reminder
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed():
    """claimed(n): n follow-up reminders for n patients, already claimed by a dispatcher."""

    def _claimed(count):
        rows = [Reminder.objects.create(
            kind=Reminder.Kind.FOLLOW_UP_CHECK, cause=f"connection-test:{n}",
            patient=PatientFactory(email=f"patient{n}@example.test"),
            due_at=timezone.now() - timedelta(minutes=1)) for n in range(count)]
        Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=Reminder.Status.SENDING, claimed_at=timezone.now())
        return rows

    return _claimed


@pytest.fixture
def greetings(smtp_server):
    """How many SMTP sessions the server saw (one EHLO each)."""
    seen = []

    async def handle_EHLO(server, session, envelope, hostname, responses):
        session.host_name = hostname  # aiosmtpd leaves this to a handler that takes EHLO over
        seen.append(hostname)
        return responses

    smtp_server.handler.handle_EHLO = handle_EHLO
    email_connection_discard()
    return seen


def test_reminders_sent_in_a_row_share_one_smtp_session(smtp_server, greetings, claimed):
    rows = claimed(3)
    outcomes = [reminder_send(reminder_id=row.pk).status for row in rows]
    assert outcomes == ["sent", "sent", "sent"]
    assert sorted(r.envelope_to[0] for r in smtp_server.handler.received) == [
        "patient0@example.test", "patient1@example.test", "patient2@example.test"]
    assert len(greetings) == 1


def test_after_a_refused_send_the_next_reminder_goes_out_on_a_fresh_connection(
        smtp_server, greetings, claimed, fast_retries):
    first, second = claimed(2)
    smtp_server.handler.answers = ["451 4.3.0 Try again later"]
    assert reminder_send(reminder_id=first.pk).status == "retry"
    assert reminder_send(reminder_id=second.pk).status == "sent"
    [received] = smtp_server.handler.received
    assert received.envelope_to == ["patient1@example.test"]
    assert len(greetings) == 2  # the connection that failed was closed, not reused
    first.refresh_from_db()
    assert first.status == Reminder.Status.SENDING and "451" in first.last_error


def test_the_file_backend_gets_no_shared_connection(settings, tmp_path, claimed):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    for row in claimed(2):
        assert reminder_send(reminder_id=row.pk).status == "sent"
    # One message per send, as before. (Not one file per message: Django names a file by the
    # second and the backend's id(), and two backends made in the same second can share both.)
    written = "".join(path.read_text() for path in tmp_path.iterdir())
    assert written.count("\nMessage-ID: ") == 2
