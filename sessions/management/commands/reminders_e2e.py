"""`manage.py reminders_e2e --count 1000 --yes`: measure reminders end to end on whatever
database and broker the environment configures (embedded default, or PostgreSQL + Redis).

It writes `count` synthetic patients with one due reminder each, starts Celery worker
processes and a real SMTP server (aiosmtpd, free localhost port), dispatches until every row is
sent, and reports time, duplicates (same Message-ID received twice) and losses (a row whose
email never arrived). Run it against a throw-away database: it leaves its synthetic rows.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from sessions.dispatch import reminder_dispatch_due
from sessions.models import Reminder


class Command(BaseCommand):
    help = "End-to-end reminder benchmark: N due reminders → dispatcher → workers → SMTP."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1000)
        parser.add_argument("--workers", type=int, default=2, help="worker processes")
        parser.add_argument("--concurrency", type=int, default=4, help="per worker")
        parser.add_argument("--timeout", type=float, default=600)
        parser.add_argument("--yes", action="store_true",
                            help="confirm: this writes synthetic rows into the database")

    def handle(self, *args, count, workers, concurrency, timeout, yes, **options):
        if not yes:
            raise CommandError("This writes synthetic patients and reminders into "
                               f"{connection.settings_dict['NAME']}; pass --yes on a throw-away "
                               "database.")
        from tests.support.smtp import FaultyHandler, SMTPServer

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: one line per command

        run = uuid.uuid4().hex[:8]
        with SMTPServer(FaultyHandler()) as smtp:
            ids = self.create_rows(run, count)
            procs = self.start_workers(workers, concurrency, smtp.port)
            try:
                started = time.monotonic()
                dispatched_rounds = 0
                while True:
                    reminder_dispatch_due(only_ids=ids)
                    dispatched_rounds += 1
                    done = Reminder.objects.filter(pk__in=ids, status__in=("sent", "failed"))
                    if done.count() == count:
                        break
                    if time.monotonic() - started > timeout:
                        break
                    time.sleep(0.5)
                elapsed = time.monotonic() - started
                time.sleep(2)  # let any late duplicate arrive before counting
            finally:
                for proc in procs:
                    proc.terminate()  # warm shutdown of the main process
                for proc in procs:
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait(10)
            expected = set(Reminder.objects.filter(pk__in=ids).values_list("message_id",
                                                                            flat=True))
            received = Counter(m for m in smtp.handler.message_ids() if m in expected)
        statuses = Counter(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))
        report = {
            "database": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split("://")[0],
            "reminders": count,
            "workers": workers,
            "concurrency": concurrency,
            "seconds": round(elapsed, 2),
            "per_second": round(count / elapsed, 1) if elapsed else None,
            "rows": dict(statuses),
            "emails_received": sum(received.values()),
            "duplicates": sum(n - 1 for n in received.values()),
            "lost": count - statuses.get("sent", 0) + len(expected - {""} - set(received)),
        }
        self.stdout.write(json.dumps(report))

    def create_rows(self, run: str, count: int) -> list[int]:
        patients = Patient.objects.bulk_create(
            Patient(first_name=f"Bench{n}", last_name=f"Synthetic-{run}",
                    date_of_birth=date(1980, 1, 1), email=f"bench-{run}-{n}@example.test",
                    mrn=f"E2E{run[:5]}{n:04d}"[:12])
            for n in range(count))
        due_at = timezone.now() - timedelta(seconds=1)
        rows = Reminder.objects.bulk_create(
            Reminder(kind=Reminder.Kind.POST_SESSION_CHECKIN, cause=f"e2e:{run}:{n}",
                     patient=patient, due_at=due_at)
            for n, patient in enumerate(patients))
        if rows and rows[0].pk is None:  # backends without RETURNING on bulk insert
            return list(Reminder.objects.filter(cause__startswith=f"e2e:{run}:")
                        .values_list("pk", flat=True))
        return [row.pk for row in rows]

    def start_workers(self, workers: int, concurrency: int, smtp_port: int):
        env = dict(os.environ, EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}", PYTHONUNBUFFERED="1")
        root = Path(settings.BASE_DIR)
        procs = []
        for n in range(workers):
            log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"reminders-e2e-worker{n}.log",  # noqa: SIM115
                       "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "clinic", "worker",
                 f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
                 "--loglevel=WARNING", f"--hostname=e2e{n}@%h"],
                env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        time.sleep(3)  # workers connect; messages published before that simply wait
        return procs
