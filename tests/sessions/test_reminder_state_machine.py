"""A Hypothesis state machine over the reminder lifecycle: whatever order staff schedule,
reschedule, cancel, time passes, the dispatcher runs and the patient opts out, no email goes out
for a cancelled session or to an opted-out patient, and no reminder is emailed twice."""

import itertools
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from patients import services as patient_services
from sessions import services
from sessions.dispatch import reminder_dispatch_due
from sessions.models import Reminder
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db
_numbers = itertools.count()


def test_no_email_after_cancel_or_opt_out_and_never_twice(
        clinician, eager_celery, django_capture_on_commit_callbacks):

    class ReminderLifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            number = next(_numbers)
            self.patient = PatientFactory(email=f"machine{number}@example.test")
            self.course = CourseFactory(patient=self.patient, responsible_clinician=clinician)
            self.sessions = []
            self.forbidden_after: dict[int, int] = {}  # session id -> outbox length at cancel
            self.opted_out_at: int | None = None
            # Message-ID -> session id of every sent row seen: a re-armed row (a session
            # rescheduled after its reminder went out) carries the new arming's id from then on.
            self.sent_ids: dict[str, int] = {}

        def my_emails(self):
            return [(i, m) for i, m in enumerate(mail.outbox) if m.to == [self.patient.email]]

        @rule(days=st.integers(min_value=1, max_value=5))
        def schedule(self, days):
            if self.patient.is_archived:
                return
            self.sessions.append(services.session_schedule(
                patient=self.patient, course=self.course, clinician=clinician,
                scheduled_at=timezone.now() + timedelta(days=days, minutes=len(self.sessions))))

        @rule(data=st.data())
        def cancel(self, data):
            open_sessions = [s for s in self.sessions if s.pk not in self.forbidden_after]
            if not open_sessions:
                return
            session = data.draw(st.sampled_from(open_sessions))
            services.session_cancel(session=session, reason="Changed plans")
            self.forbidden_after[session.pk] = len(mail.outbox)

        @rule(data=st.data(), days=st.integers(min_value=1, max_value=6))
        def reschedule(self, data, days):
            open_sessions = [s for s in self.sessions if s.pk not in self.forbidden_after]
            if not open_sessions:
                return
            session = data.draw(st.sampled_from(open_sessions))
            services.session_reschedule(session=session,
                                        scheduled_at=timezone.now() + timedelta(days=days))

        @rule()
        def time_passes(self):
            Reminder.objects.filter(patient=self.patient, status="pending").update(
                due_at=timezone.now() - timedelta(seconds=1))

        @rule()
        def dispatch(self):
            with django_capture_on_commit_callbacks(execute=True):
                reminder_dispatch_due()

        @rule()
        def opt_out(self):
            if self.opted_out_at is None:
                patient_services.patient_reminders_opt_out(patient=self.patient)
                self.opted_out_at = len(mail.outbox)

        @invariant()
        def nothing_sent_that_should_not_be(self):
            self.sent_ids.update(Reminder.objects.filter(patient=self.patient)
                                 .exclude(message_id="").values_list("message_id", "session_id"))
            for index, message in self.my_emails():
                if self.opted_out_at is not None:
                    assert index < self.opted_out_at, "emailed after opting out"
                session_id = self.sent_ids.get(message.extra_headers["Message-ID"])
                assert session_id is not None, "an email with no sent row"
                cancelled_at = self.forbidden_after.get(session_id)
                if cancelled_at is not None:
                    assert index < cancelled_at, "emailed after the session was cancelled"
            counts = Counter(m.extra_headers["Message-ID"] for _, m in self.my_emails())
            assert all(n == 1 for n in counts.values()), "a reminder was emailed twice"

    run_state_machine_as_test(ReminderLifecycle, settings=settings(
        max_examples=15, stateful_step_count=10, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
