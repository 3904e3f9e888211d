"""Reminders through the real components: PostgreSQL, Redis, Celery beat and worker processes,
an SMTP server — and their faults: a broker outage, a worker killed mid-batch, two dispatchers
racing over 1,000 due rows."""

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sessions import services
from sessions.dispatch import reminder_dispatch_due
from sessions.models import Reminder
from tests.factories import CourseFactory, PatientFactory, UserFactory, monitoring_data
from tests.support.processes import (
    PrivateRedis,
    Process,
    child_env,
    manage,
    start_beat,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def schedule_sessions(count: int) -> list[Reminder]:
    """`count` patients with a session in 3 days, scheduled through the service; their
    upcoming-session reminders are then made due (time passes)."""
    clinician = UserFactory(username="clinician-e2e", role="Clinician")
    for _ in range(count):
        patient = PatientFactory()
        course = CourseFactory(patient=patient, responsible_clinician=clinician)
        services.session_schedule(patient=patient, course=course, clinician=clinician,
                                  scheduled_at=timezone.now() + timedelta(days=3))
    Reminder.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    return list(Reminder.objects.order_by("pk"))


def statuses() -> Counter:
    return Counter(Reminder.objects.values_list("status", flat=True))


def test_completed_session_is_emailed_via_beat_worker_redis_and_smtp(broker_url, smtp, logs,
                                                                     nurse, advance):
    clinician = UserFactory(username="clinician-beat", role="Clinician")
    patient = PatientFactory(email="kim@example.test")
    course = CourseFactory(patient=patient, responsible_clinician=clinician)
    # This morning's session, charted now: the first dose was 150 minutes ago.
    session = services.session_schedule(patient=patient, course=course, clinician=clinician,
                                        scheduled_at=timezone.now() - timedelta(hours=3))
    advance(session, through="administration")
    services.monitoring_record(session=session, recorded_by=nurse, **monitoring_data())
    check_in = Reminder.objects.get(session=session, kind="post_session_checkin")
    Reminder.objects.filter(pk=check_in.pk).update(due_at=timezone.now())  # a day later
    env = child_env(broker_url=broker_url, smtp_port=smtp.port)
    env["REMINDERS_DISPATCH_INTERVAL"] = "2"  # beat's every-minute tick, shortened
    worker = start_worker(env, logs / "worker.log", name="e2e")
    beat = start_beat(env, logs / "beat.log", logs / "beat-schedule")
    try:
        wait_until(lambda: Reminder.objects.get(pk=check_in.pk).status == "sent", timeout=60,
                   message="beat → dispatch → worker → SMTP did not mark the row sent")
    finally:
        beat.stop()
        worker.stop()
    [received] = smtp.handler.received
    check_in.refresh_from_db()
    assert received.envelope_to == ["kim@example.test"]
    assert received.message_id == check_in.message_id
    assert check_in.attempts == 1


def test_redis_outage_loses_nothing_and_reminders_go_out_when_it_returns(smtp, logs, tmp_path,
                                                                         nurse, advance):
    redis = PrivateRedis(tmp_path)
    redis.start()
    env = child_env(broker_url=redis.url, smtp_port=smtp.port)
    worker = start_worker(env, logs / "worker.log", name="outage")
    try:
        redis.stop()  # the broker goes away ...
        due = schedule_sessions(5)  # ... while sessions are saved: the rows are written anyway
        assert len(due) == 5
        down = manage("dispatch_reminders", env=env)
        assert down.returncode == 0, down.stderr
        assert "released 5 (broker unavailable)" in down.stdout
        assert statuses() == {"pending": 5}  # nothing stuck in sending, nothing lost
        redis.start()  # same port: the worker reconnects by itself
        up = manage("dispatch_reminders", env=env)
        assert "enqueued 5" in up.stdout, up.stdout + up.stderr
        wait_until(lambda: statuses() == {"sent": 5}, timeout=60,
                   message=f"after Redis returned: {statuses()}")
    finally:
        worker.stop()
        redis.stop()
    ids = smtp.handler.message_ids()
    assert len(ids) == 5 and len(set(ids)) == 5


def test_worker_killed_mid_batch_every_reminder_sent_none_stuck(broker_url, smtp, logs,
                                                                settings):
    # A short lease so the test need not wait ten minutes for the dead worker's row; retries
    # (none expected here) must still fit inside it. Batches of 15: the kill lands inside one
    # send task, with more queued behind it.
    short_lease = {"lease_seconds": 3, "retry_backoff_seconds": 0.1,
                   "retry_backoff_max_seconds": 0.5, "send_batch_size": 15}
    settings.CLINIC_REMINDERS = short_lease
    settings.EMAIL_TIMEOUT = 2
    env = child_env(broker_url=broker_url, smtp_port=smtp.port, reminders=short_lease)
    smtp.handler.delay_seconds = 0.1  # slow enough that the kill lands mid-batch
    due = schedule_sessions(40)
    first = start_worker(env, logs / "worker-1.log", name="doomed")
    result = reminder_dispatch_due()
    assert (len(result.claimed), result.enqueued, result.tasks) == (40, 40, 3)
    wait_until(lambda: len(smtp.handler.received) >= 5, timeout=60, message="first worker")
    first.kill()
    killed_at_sent = len(smtp.handler.received)
    assert killed_at_sent < 15, "the kill must land inside the first batch"
    second = start_worker(env, logs / "worker-2.log", name="survivor")
    try:
        def all_sent():
            reminder_dispatch_due()  # beat's job: reclaims rows whose lease expired
            return statuses() == {"sent": len(due)}
        wait_until(all_sent, timeout=90, interval=1, message=f"after the kill: {statuses()}")
    finally:
        second.stop()
    per_message = Counter(smtp.handler.message_ids())
    assert set(per_message) == {r.message_id for r in Reminder.objects.all()}  # none lost
    duplicates = sum(count - 1 for count in per_message.values())
    assert duplicates <= 1, f"{duplicates} duplicates for one kill"
    assert not Reminder.objects.filter(status="sending").exists()


def test_worker_process_killed_mid_batch_redelivered_batch_skips_what_was_sent(
        broker_url, smtp, logs, settings):
    """A prefork child dies in the middle of a batch: the worker rejects the unacknowledged
    message (reject_on_worker_lost), Redis delivers the batch again, and the new child skips
    the rows already sent. At most the one email in flight goes out twice."""
    import os
    import signal

    lease = {"send_batch_size": 40}
    settings.CLINIC_REMINDERS = lease
    env = child_env(broker_url=broker_url, smtp_port=smtp.port, reminders=lease)
    smtp.handler.delay_seconds = 0.1
    due = schedule_sessions(40)
    worker = Process([sys.executable, "-m", "celery", "-A", "clinic", "worker",
                      "--pool=prefork", "--concurrency=1", "--without-gossip",
                      "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
                      "--hostname=prefork@%h"], env, logs / "worker-prefork.log",
                     ready_text=" ready.")
    try:
        result = reminder_dispatch_due()
        assert (result.enqueued, result.tasks) == (40, 1)  # one batch holds every row
        wait_until(lambda: len(smtp.handler.received) >= 10, timeout=60,
                   message="the child to send part of the batch")
        children = subprocess.run(["pgrep", "-P", str(worker.process.pid)],
                                  capture_output=True, text=True).stdout.split()
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGKILL)
        killed_at_sent = len(smtp.handler.received)
        assert killed_at_sent < 40, "the kill must land mid-batch"
        # No dispatcher runs here: only the redelivered batch can finish the work (the row
        # that was in flight is left to its lease, ten minutes, unless it was marked sent).
        wait_until(lambda: Reminder.objects.filter(status="sent").count() >= 39, timeout=90,
                   message=f"after the child was killed: {statuses()}")
        time.sleep(1)  # a duplicate would arrive now
    finally:
        worker.stop()
    per_message = Counter(smtp.handler.message_ids())
    duplicates = sum(count - 1 for count in per_message.values())
    assert duplicates <= 1, f"{duplicates} duplicates for one kill"
    sent = {r.message_id for r in Reminder.objects.filter(status="sent")}
    assert sent <= set(per_message)  # every row marked sent was received
    assert "Worker exited prematurely" in worker.output() or "WorkerLostError" in (
        worker.output())
    stuck = Reminder.objects.exclude(status="sent")
    assert stuck.count() <= 1 and all(r.attempt_started_at for r in stuck), (
        "only the row in flight at the kill may wait for its lease")
    assert len(due) == 40


def test_two_dispatchers_racing_over_1000_due_reminders_claim_each_exactly_once(
        broker_url, settings):
    settings.CLINIC_REMINDERS = {"batch_size": 50}
    assert connection.vendor == "postgresql"
    patient = PatientFactory()
    due_at = timezone.now() - timedelta(minutes=1)
    Reminder.objects.bulk_create(
        Reminder(kind="upcoming_session", cause=f"race:{n}", patient=patient, due_at=due_at)
        for n in range(1000))
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {}

    def dispatcher(name: str) -> None:
        try:
            barrier.wait()
            claimed[name] = reminder_dispatch_due().claimed
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    a, b = claimed["a"], claimed["b"]
    assert not set(a) & set(b), "a reminder was claimed by both dispatchers"
    assert len(a) + len(b) == 1000 == len(set(a) | set(b))
    assert a and b, "both dispatchers took part (skip_locked lets them share the work)"
    assert statuses() == {"sending": 1000}
