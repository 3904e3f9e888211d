"""`make bench`: how fast the clinic is at clinic-network scale, in one run.

On PostgreSQL + Redis (BENCH_DATABASE_URL, BENCH_BROKER_URL), in a database of its own that it
drops and re-creates unless --reuse-data: seeds synthetic data with `seed_demo`'s bulk
generator (measuring its throughput), then runs every measurement of MEASUREMENTS in order,
prints a table and writes it as JSON (bench/results.json) and Markdown (bench/results.md).

Pages are measured in this process with django.test.Client and force_login against the bench
database (no network, no web server: render time plus database time, the part the code owns).
Celery throughput uses a real worker subprocess over Redis.

A measurement is a function taking the Bench context and returning rows; add one by writing
the function and listing it in MEASUREMENTS. A hook for a page or pipeline another branch is
still building reports "not available yet: <why>" only when its URL or module is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/clinic_bench_data"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/7"
FULL_SIZE = (10_000, 20)  # the size the targets are stated at (issue 6): the default
SMALL_SIZE = (1000, 20)  # --small: a quicker run while working on something
HISTORY_SIZES = (1, 50, 500)
SEED = 2026
YARDSTICKS = (("trivial_ms", "/healthz"), ("layout_ms", "/account/"))  # bench.facts keys
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass
class Row:
    name: str
    status: str = "ok"  # ok | not available yet | failed
    median_ms: float | None = None
    p95_ms: float | None = None
    queries: int | None = None
    value: str = ""  # a throughput, a count, a ratio: whatever the row measures
    note: str = ""
    data: dict = field(default_factory=dict)


@dataclass
class Bench:
    args: argparse.Namespace
    database_url: str
    broker_url: str
    rows: list[Row] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # shared between measurements

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)


# --- setup ------------------------------------------------------------------------------------

def _configure_environment(database_url: str, broker_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = broker_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 30)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMAIL_URL", "smtp://127.0.0.1:1")  # nothing may send by accident


def _check_services(database_url: str, broker_url: str) -> None:
    from clinic.services_check import START_HINTS, reachable

    problems = []
    for name, url, port in (("PostgreSQL", database_url, 5432), ("Redis", broker_url, 6379)):
        host, port, ok = reachable(url, port)
        if not ok:
            problems.append(f"{name} is not reachable at {host}:{port}. Start it, e.g.: "
                            f"{START_HINTS[name]}")
    if not urlparse(database_url).scheme.startswith("postgres"):
        problems.append("BENCH_DATABASE_URL must be a PostgreSQL URL (the targets are for "
                        "PostgreSQL).")
    if problems:
        sys.exit("bench: " + "\n       ".join(problems))


def _recreate_database(database_url: str, *, drop: bool, random_page_cost: float) -> None:
    """The bench owns its database: it is (re)created here, never the project's own."""
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
        # The default (4) models spinning disks; with SSDs or a cached working set it makes
        # the planner walk whole indexes instead of probing them (see README).
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = {random_page_cost}')


def _timed(fn: Callable, repeat: int, prepare: Callable | None = None,
           after: Callable | None = None) -> tuple[list[float], object]:
    """`repeat` timed calls of fn; `prepare` runs before each and `after` after each, outside
    the timing."""
    times, result = [], None
    for _ in range(repeat):
        if prepare is not None:
            prepare()
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
        if after is not None:
            after()
    return times, result


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- pages ------------------------------------------------------------------------------------

def _client(username: str):
    """Logged in as `username`, second factor included: clinicians, clinic admins and
    superusers must have entered a TOTP code (security.middleware.TwoFactorRequiredMiddleware),
    so the session carries a confirmed device as after a real login. django-otp re-reads that
    device on every request, which the query counts include."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from security.services import two_factor_required

    user = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(user)
    if two_factor_required(user):
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, confirmed=True, defaults={"name": "Bench authenticator"})
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def measure_page(bench: Bench, name: str, url: str, *, user: str = "nurse",
                 note: str = "", prepare: Callable | None = None,
                 alongside: dict[str, str] | None = None) -> Row:
    """Median and p95 of `repeat` renders after two warm-up requests; queries counted on one
    more request (counting queries costs time, so the timed requests do not count). `prepare`
    runs before every request, untimed: it sets up the case being measured. `alongside`
    ({name: url}) is timed once after each timed request, its medians in
    row.data["alongside_ms"]: yardsticks taken in the same seconds as the page, so a machine
    that slows down or speeds up during the run moves both."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(user)

    def get():
        # Over HTTPS, as in production: SECURE_SSL_REDIRECT answers plain HTTP with a 301.
        response = client.get(url, secure=True)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return response

    _timed(get, 2, prepare)
    beside: dict[str, list[float]] = {key: [] for key in alongside or {}}

    def time_alongside():
        for key, other in alongside.items():
            started = time.perf_counter()
            if client.get(other, secure=True).status_code != 200:
                raise RuntimeError(f"{other} did not answer 200")
            beside[key].append((time.perf_counter() - started) * 1000)

    times, response = _timed(get, bench.args.repeat, prepare,
                             after=time_alongside if alongside else None)
    if prepare is not None:
        prepare()
    with CaptureQueriesContext(connection) as queries:
        get()
    row = Row(name=name, median_ms=round(statistics.median(times), 1),
              p95_ms=round(_p95(times), 1), queries=len(queries),
              value=f"{len(response.content) // 1024} KiB", note=note)
    if beside:
        row.data["alongside_ms"] = {key: statistics.median(values)
                                    for key, values in beside.items()}
    if connection.vendor == "postgresql" and getattr(bench.args, "explain", True):
        # Every SELECT the page ran, explained at this size: the plan check of each page.
        from bench.plans import explain_captured, summary

        explained = explain_captured(queries.captured_queries)
        row.note = "; ".join(filter(None, (note, summary(explained))))
        row.data["plans"] = explained
    return row


def _reverse_first(names: tuple[str, ...], **kwargs) -> str | None:
    from django.urls import NoReverseMatch, reverse

    for name in names:
        try:
            return reverse(name, kwargs=kwargs) if kwargs else reverse(name)
        except NoReverseMatch:
            continue
    return None


def trivial_page(bench: Bench) -> list[Row]:
    """Two yardsticks for the page ratios: /healthz is the request plumbing alone (session,
    user, second factor, one query, plain text); /account/ is the cheapest page in the site's
    layout that needs a login (the same plumbing plus permissions and base.html)."""
    plumbing = measure_page(bench, "trivial authenticated page, no template (/healthz)",
                            "/healthz", user="clinician",
                            note="yardstick: request plumbing alone")
    layout = measure_page(bench, "trivial authenticated page in the site layout (/account/)",
                          "/account/", user="clinician",
                          note="yardstick: plumbing + permissions + base.html")
    bench.facts["trivial_ms"] = plumbing.median_ms
    bench.facts["layout_ms"] = layout.median_ms
    return [plumbing, layout]


def _session_with_full_history():
    from sessions.models import TreatmentSession

    return (TreatmentSession.objects.filter(status="completed", side_effects__isnull=False)
            .order_by("-scheduled_at").first())


def admin_pages(bench: Bench) -> list[Row]:
    from patients.models import Patient

    common_name = (Patient.objects.values_list("last_name", flat=True)
                   .order_by("last_name").first())
    mrn = Patient.objects.values_list("mrn", flat=True).order_by("-id").first()
    session = _session_with_full_history()
    pages = [
        ("admin index", "/admin/"),
        ("admin session changelist", "/admin/treatment_sessions/treatmentsession/"),
        ("admin session changelist, patient search",
         f"/admin/treatment_sessions/treatmentsession/?q={common_name}"),
        ("admin session changelist, in progress",
         "/admin/treatment_sessions/treatmentsession/?status__exact=in_progress"),
        ("admin patient changelist", "/admin/patients/patient/"),
        ("admin patient changelist, name search", f"/admin/patients/patient/?q={common_name}"),
        ("admin patient changelist, MRN search", f"/admin/patients/patient/?q={mrn}"),
        ("admin session change page (completed, with side effects)",
         f"/admin/treatment_sessions/treatmentsession/{session.pk}/change/"),
        ("admin reminder changelist, pending",
         "/admin/treatment_sessions/reminder/?status__exact=pending"),
    ]
    return [measure_page(bench, name, url) for name, url in pages]


def every_admin_changelist(bench: Bench) -> list[Row]:
    """Every list page of the admin at full size: constant queries, nothing slow hiding."""
    from django.contrib import admin
    from django.urls import reverse

    rows = []
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        rows.append(measure_page(bench, f"admin list: {model._meta.verbose_name_plural}", url,
                                 user="admin"))
    return rows


HISTORY_CASES = (
    # (name, what runs before each request). The cache has two tiers
    # (patients/history_cache.py): each process's own memory, in front of a table every
    # process shares. So these are what a clinician meets in turn: a record seen before and
    # unchanged since; the same after a nurse recorded or corrected a vital in the latest
    # session (its card and that session's chart point are rebuilt, nothing else); the first
    # view in this web process (another process, or this one before a restart, built it: read
    # from the shared table); and a record nobody has opened since it was loaded (nothing
    # cached anywhere: every query, the whole render, and the cache written).
    ("seen again", None),
    ("after a vital changes", "_history_vital_changes"),
    ("first view in this process", "_history_process_cache_empty"),
    ("never viewed, nothing cached", "_history_cache_empty"),
)


def _history_process_cache_empty(patient) -> Callable:
    from django.core.cache import caches

    from patients.history_cache import CACHE_ALIAS

    return caches[CACHE_ALIAS].clear


def _history_cache_empty(patient) -> Callable:
    from patients import history_cache

    return history_cache.clear


def _history_vital_changes(patient) -> Callable:
    """Records a vital in the patient's latest session, then corrects it before each next
    request, as a nurse records and corrects readings during monitoring: each write restamps
    the session (the triggers do not care which), and the session keeps a realistic number of
    vitals however many requests are measured."""
    from datetime import timedelta

    from sessions.models import TreatmentSession, VitalSign

    latest = TreatmentSession.objects.filter(patient=patient).order_by("-scheduled_at").first()
    vital = VitalSign.objects.create(
        session=latest, recorded_by_id=latest.clinician_id, phase="periodic",
        systolic_mmhg=128, diastolic_mmhg=82,
        measured_at=latest.scheduled_at + timedelta(minutes=60))
    readings = iter(range(10**6))

    def change():
        VitalSign.objects.filter(pk=vital.pk).update(systolic_mmhg=126 + next(readings) % 2 * 4)
    return change


def patient_history(bench: Bench) -> list[Row]:
    """Hook: the clinician's patient history page, at 1, 50 and 500 sessions, in each of
    HISTORY_CASES; each row with its ratio to both yardsticks, timed alongside it (one request
    of each after each timed request of the page: a two-CPU machine shared with others drifts
    by 10-20 % within a run, which moved ratios against yardsticks timed minutes earlier)."""
    from sessions.bulk_demo import bulk_patients

    rows = []
    for size in HISTORY_SIZES:
        patient = bulk_patients(f"history{size}").first()
        url = _reverse_first(("patient_history", "patients:history", "patients:detail",
                              "patient_detail"), pk=patient.pk) if patient else None
        sessions = f"{size} session{'s' if size > 1 else ''}"
        if url is None:
            rows.append(Row(name=f"patient history, {sessions}", status="not available yet",
                            note="no URL named patient_history / patients:history / "
                                 "patients:detail (clinician pages not merged)"))
            continue
        for case, prepare in HISTORY_CASES:
            row = measure_page(bench, f"patient history, {sessions}, {case}", url,
                               user="clinician",
                               prepare=globals()[prepare](patient) if prepare else None,
                               alongside=dict(YARDSTICKS))
            yardsticks = row.data["alongside_ms"]
            row.data["ratios"] = {key: row.median_ms / yardsticks[key] for key in yardsticks}
            row.value = ", ".join(f"{row.data['ratios'][key]:.1f}× {label}"
                                  for key, label in YARDSTICKS)
            alongside = ", ".join(f"{label} {yardsticks[key]:.1f} ms" for key, label in YARDSTICKS)
            row.note = "; ".join(filter(None, (f"timed alongside: {alongside}", row.note)))
            rows.append(row)
    return rows


WARM_SAMPLE = 200  # of today's patients: enough for a rate, without timing the whole day


def history_warming(bench: Bench) -> list[Row]:
    """The beat task that builds today's patients' histories (patients/history_cache.py,
    warm), from nothing cached: how long until the day's records are warm after a deploy."""
    from django.conf import settings
    from django.utils import timezone

    from patients import history_cache, selectors

    todays = selectors.patients_with_sessions_around(day=timezone.localdate())
    total = todays.count()
    sample = list(todays[:WARM_SAMPLE])
    history_cache.clear()
    started = time.perf_counter()
    built = history_cache.warm(sample, page_size=settings.HISTORY_TIMELINE_PAGE_SIZE)
    seconds = time.perf_counter() - started
    per_patient = 1000 * seconds / max(built, 1)
    return [Row(name="history cache warming, today's patients, nothing cached",
                median_ms=round(per_patient, 1), value=f"{built / seconds:,.0f} patients/s",
                note=f"{built} of today's {total:,} patients built in {seconds:.1f} s "
                     f"(mean per patient in the median column); all {total:,}: about "
                     f"{total * per_patient / 1000:.0f} s of one worker")]


def dashboard(bench: Bench) -> list[Row]:
    """Hook: the clinician dashboard (LOGIN_REDIRECT_URL names it "dashboard")."""
    url = _reverse_first(("dashboard",))
    if url is None:
        return [Row(name="dashboard", status="not available yet",
                    note="no URL named dashboard (clinician pages not merged)")]
    return [measure_page(bench, "dashboard", url, user="clinician")]


def patient_search(bench: Bench) -> list[Row]:
    """Hook: the clinician's patient search (name, MRN, date of birth)."""
    from patients.models import Patient

    url = _reverse_first(("patient_search", "patients:search", "patients:list",
                          "patient_list"))
    if url is None:
        return [Row(name="patient search", status="not available yet",
                    note="no URL named patient_search / patients:search / patients:list "
                         "(clinician pages not merged)")]
    name = Patient.objects.values_list("last_name", flat=True).order_by("last_name").first()
    return [measure_page(bench, "patient search", f"{url}?q={name}", user="clinician")]


# --- Celery -----------------------------------------------------------------------------------

class Worker:
    """A real `celery worker` subprocess on the bench broker, on its own queue."""

    def __init__(self, bench: Bench, *, app: str, queue: str, extra_env: dict | None = None):
        self.bench, self.app, self.queue = bench, app, queue
        self.extra_env = extra_env or {}
        self.process = None

    def __enter__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.extra_env}
        command = [sys.executable, "-m", "celery", "-A", self.app, "worker", "-Q", self.queue,
                   "--concurrency", str(self.bench.args.concurrency), "--pool", "prefork",
                   "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
                   "-n", f"bench-{uuid.uuid4().hex[:8]}@%h"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _redis():
    import redis

    return redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])


def _wait_for(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def noop_tasks(bench: Bench) -> list[Row]:
    """The broker's own limit: N no-op tasks through Redis and a real worker, from the first
    publish to the last task done. The same worker settings as production (acks late,
    prefetch 1), the same concurrency as the reminder run."""
    from bench.worker_app import noop

    count, queue = bench.args.tasks, f"bench-noop-{uuid.uuid4().hex[:6]}"
    counter = f"bench:noop:{uuid.uuid4().hex}"
    redis = _redis()
    with Worker(bench, app="bench.worker_app", queue=queue):
        noop.apply_async(args=[counter + ":warmup"], queue=queue)
        _wait_for(lambda: redis.get(counter + ":warmup") is not None, timeout=60,
                  what="the worker to start")
        started = time.perf_counter()
        with noop.app.producer_or_acquire() as producer:  # one connection, as a dispatcher has
            for _ in range(count):
                noop.apply_async(args=[counter], queue=queue, producer=producer)
        published = time.perf_counter() - started
        _wait_for(lambda: int(redis.get(counter) or 0) >= count, timeout=600,
                  what=f"{count} no-op tasks")
        seconds = time.perf_counter() - started
        time.sleep(1)  # a duplicate delivery would show up as a count above N
        done = int(redis.get(counter) or 0)
    redis.delete(counter, counter + ":warmup", queue)
    rate = count / seconds
    bench.facts["noop_per_second"] = rate
    return [_noop_row(count, counter, queue, seconds, published, done, bench),
            _noop_drain(bench)]


def _noop_drain(bench: Bench) -> Row:
    """The consumer side alone: N no-op tasks queued first, then a worker started; seconds
    from its first task to its last. Separates publishing cost from the worker's own rate."""
    from bench.worker_app import noop

    count, queue = bench.args.tasks, f"bench-drain-{uuid.uuid4().hex[:6]}"
    counter = f"bench:drain:{uuid.uuid4().hex}"
    redis = _redis()
    started = time.perf_counter()
    with noop.app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async(args=[counter], queue=queue, producer=producer)
    published = time.perf_counter() - started
    with Worker(bench, app="bench.worker_app", queue=queue):
        _wait_for(lambda: int(redis.get(counter) or 0) >= 1, timeout=60,
                  what="the worker to start")
        first = time.perf_counter()
        _wait_for(lambda: int(redis.get(counter) or 0) >= count, timeout=600,
                  what=f"{count} queued no-op tasks")
        seconds = time.perf_counter() - first
        time.sleep(1)
        done = int(redis.get(counter) or 0)
    redis.delete(counter, queue)
    return Row(name=f"{count:,} queued no-op tasks drained by the worker",
               value=f"{count / seconds:,.0f} tasks/s",
               note=f"{seconds:.1f} s draining; publishing alone (no worker running) "
                    f"{count / published:,.0f} tasks/s; duplicates {max(0, done - count)}, "
                    f"losses {max(0, count - done)}",
               data={"seconds": seconds, "publish_seconds": published, "done": done})


def _noop_row(count, counter, queue, seconds, published, done, bench) -> Row:
    rate = count / seconds
    return Row(name=f"{count:,} no-op Celery tasks (Redis, real worker)",
                value=f"{rate:,.0f} tasks/s", note=(
                    f"{seconds:.1f} s end to end ({published:.1f} s publishing); "
                    f"concurrency {bench.args.concurrency}; duplicates {max(0, done - count)}, "
                    f"losses {max(0, count - done)}"),
                data={"seconds": seconds, "tasks": count, "done": done,
                      "tasks_per_second": rate})


def reminders_end_to_end(bench: Bench) -> list[Row]:
    """Hook: N due reminders claimed by the dispatcher and sent by a real worker over SMTP to
    a local sink, compared with the no-op throughput. Needs the reminder pipeline (a
    `reminder_dispatch_due` service and its send task); skipped until it exists."""
    name = f"{bench.args.tasks:,} reminders end to end (dispatch + send + SMTP sink)"
    if (importlib.util.find_spec("sessions.dispatch") is None
            or importlib.util.find_spec("sessions.tasks") is None):
        return [Row(name=name, status="not available yet",
                    note="sessions.dispatch / sessions.tasks missing "
                         "(reminder pipeline not merged)")]
    from sessions.dispatch import reminder_dispatch_due

    return [_reminders_run(bench, name, reminder_dispatch_due)]


REMINDER_PATIENT_DOMAIN = "reminder-bench.example.test"


def _reminder_patients(count: int) -> list:
    """`count` synthetic patients who can receive email, one reminder each: the seeded ones
    first, topped up with bare patients (no history needed to send a follow-up check)."""
    from datetime import date

    from patients.models import Patient

    eligible = Patient.objects.filter(reminders_opt_in=True, is_archived=False).exclude(
        email="").order_by("id")
    missing = count - eligible.count()
    if missing > 0:
        run = uuid.uuid4().hex[:6]
        Patient.objects.bulk_create(
            (Patient(first_name=f"Bench{n}", last_name=f"Reminder-{run}",
                     date_of_birth=date(1980, 1, 1),
                     email=f"patient-{run}-{n}@{REMINDER_PATIENT_DOMAIN}")
             for n in range(missing)), batch_size=2000)
    return list(eligible[:count])


def _reminders_run(bench: Bench, name: str, dispatch: Callable) -> Row:
    """DESIGN.md section 4 end to end: `count` due rows; the dispatcher (the beat's service,
    run back to back here) claims them and enqueues one send task per chunk of
    `send_batch_size` rows; a real worker subprocess renders and sends each over SMTP to a
    local sink and marks its row sent.

    The clock starts once the worker has sent a warm-up reminder (as the no-op run waits for
    its warm-up task), and stops when no row is left pending or sending. Duplicates and losses
    are counted from the Message-IDs the SMTP sink received, not from the rows' own word."""
    from collections import Counter
    from datetime import timedelta

    from django.utils import timezone

    from bench.smtp_sink import SmtpSink
    from sessions.models import Reminder
    from sessions.reminders import ReminderSettings

    count = bench.args.tasks
    Reminder.objects.filter(status__in=("pending", "sending")).update(status="cancelled")
    patients = _reminder_patients(count + 1)
    marker = uuid.uuid4().hex[:8]

    def due_rows(prefix: str, some: list) -> list[int]:
        due_at = timezone.now() - timedelta(minutes=1)
        Reminder.objects.bulk_create(
            Reminder(kind="follow_up_check", cause=f"bench:{prefix}:{p.pk}", patient=p,
                     due_at=due_at) for p in some)
        return list(Reminder.objects.filter(cause__startswith=f"bench:{prefix}:")
                    .values_list("pk", flat=True))

    def unfinished(ids) -> bool:
        # Polled every 20 ms on the same CPUs as the worker: ask the status index for one open
        # row of this run, not the database to match 10,000 ids each time (that poll alone
        # kept a PostgreSQL backend ~40 % busy).
        prefix = "bench:" + (f"{marker}-warmup:" if ids is warmup else f"{marker}:")
        return Reminder.objects.filter(status__in=("pending", "sending"),
                                       cause__startswith=prefix).exists()

    warmup = due_rows(f"{marker}-warmup", patients[:1])
    with SmtpSink() as sink, Worker(bench, app="clinic", queue="celery",
                                    extra_env={"EMAIL_URL": sink.url}):
        dispatch(only_ids=warmup)
        _wait_for(lambda: not unfinished(warmup), timeout=60,
                  what="the worker to send a warm-up reminder")
        # Every other open row was cancelled above, so the dispatcher's own call (beat's, no
        # id filter) claims exactly these: an id filter would make each claim match 10,000
        # ids, work the bench would add and production never does.
        ids = due_rows(marker, patients[1:])
        started = time.perf_counter()
        result = dispatch()
        dispatched = time.perf_counter() - started
        _wait_for(lambda: not unfinished(ids), timeout=600,
                  what=f"{count} reminders to be sent")
        seconds = time.perf_counter() - started
        time.sleep(1)  # a duplicate delivery would arrive now
        received = Counter(sink.message_ids())
    statuses = Counter(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True))
    expected = set(Reminder.objects.filter(pk__in=ids, status="sent")
                   .values_list("message_id", flat=True))
    duplicates = sum(n - 1 for mid, n in received.items() if n > 1)
    losses = (count - statuses.get("sent", 0)) + len(expected - set(received))
    rate = count / seconds
    noop = bench.facts.get("noop_per_second")
    ratio = f"; {rate / noop:.0%} of no-op throughput" if noop else ""
    per_task = ReminderSettings.from_settings().send_batch_size
    return Row(name=name, value=f"{rate:,.0f} reminders/s",
               note=(f"{seconds:.1f} s end to end ({dispatched:.1f} s claiming and publishing, "
                     f"{len(result.claimed):,} claimed, up to {per_task} reminders per send "
                     f"task, {result.tasks} tasks published){ratio}; "
                     f"concurrency {bench.args.concurrency}; duplicates {duplicates}, "
                     f"losses {losses}"),
               data={"seconds": seconds, "dispatch_seconds": dispatched, "per_second": rate,
                     "duplicates": duplicates, "losses": losses, "statuses": dict(statuses),
                     "send_batch_size": per_task, "tasks_published": result.tasks,
                     "noop_ratio": rate / noop if noop else None})


# --- seeding ----------------------------------------------------------------------------------

def seed(bench: Bench) -> list[Row]:
    from django.core.management import call_command

    from sessions.bulk_demo import bulk_patients, bulk_seed, bulk_tag
    from sessions.demo import ensure_accounts

    patients, per_patient = bench.args.patients, bench.args.sessions_per_patient
    call_command("migrate", verbosity=0)
    ensure_accounts()
    present = bulk_patients(bulk_tag(SEED)).count()
    if bench.args.reuse_data and present:
        bench.facts["size"] = (present, per_patient)
        return [Row(name="seed_demo --patients throughput", status="skipped",
                    note=f"--reuse-data: {present:,} patients already loaded")]
    print(f"bench: seeding {patients:,} patients × {per_patient} sessions …", flush=True)
    result = bulk_seed(patients=patients, sessions_per_patient=per_patient, seed=SEED)
    for size in HISTORY_SIZES:
        bulk_seed(patients=1, sessions_per_patient=size, seed=SEED + size,
                  tag=f"history{size}")
    bench.facts["size"] = (patients, per_patient)
    return [Row(name=f"seed_demo --patients {patients} --sessions-per-patient {per_patient}",
                value=f"{result.rows_per_second:,.0f} rows/s",
                note=f"{result.total_rows:,} rows in {result.seconds:.1f} s (COPY)",
                data={"rows": result.rows, "seconds": result.seconds,
                      "rows_per_second": result.rows_per_second})]


def query_plans(bench: Bench) -> list[Row]:
    """EXPLAIN ANALYZE of the queries behind the list pages, history and dispatcher."""
    from bench.plans import explain_all

    return [Row(name=f"plan: {name}", median_ms=round(ms, 2), value=access, note=detail)
            for name, ms, access, detail in explain_all()]


# Run in this order; each returns rows. Add new measurements here.
MEASUREMENTS: list[Callable[[Bench], list[Row]]] = [
    seed,
    trivial_page,
    patient_history,
    history_warming,
    dashboard,
    patient_search,
    admin_pages,
    every_admin_changelist,
    query_plans,
    noop_tasks,
    reminders_end_to_end,
]


# --- output -----------------------------------------------------------------------------------

CPU_YARDSTICK_ADDITIONS = 2_000_000


def cpu_yardstick_ms() -> float:
    """Milliseconds for a fixed pure-Python loop (median of 5): how fast this machine's CPU
    was during the run. The ratio targets compare pages within one run; absolute times (150 ms,
    30 s) move with the machine, and machines of the same kind have differed 2.5x here."""
    times = []
    for _ in range(5):
        started, total = time.perf_counter(), 0
        for number in range(CPU_YARDSTICK_ADDITIONS):
            total += number
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def table(rows: list[Row]) -> str:
    def cell(value):
        return "" if value is None else str(value)

    lines = ["| measurement | median ms | p95 ms | queries | result | note |",
             "|---|---:|---:|---:|---|---|"]
    for row in rows:
        result = row.value if row.status == "ok" else f"**{row.status}**"
        lines.append(f"| {row.name} | {cell(row.median_ms)} | {cell(row.p95_ms)} | "
                     f"{cell(row.queries)} | {result} | {row.note} |")
    return "\n".join(lines)


def _update_readme(markdown: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text:
        sys.exit("bench: README.md has no bench table markers")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{markdown}\n{README_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help=f"{FULL_SIZE[0]:,} patients × {FULL_SIZE[1]} sessions (the default)")
    parser.add_argument("--small", action="store_true",
                        help=f"{SMALL_SIZE[0]:,} patients × {SMALL_SIZE[1]} sessions")
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--sessions-per-patient", type=int, default=None)
    parser.add_argument("--reuse-data", action="store_true",
                        help="keep the bench database if already seeded (no seed timing)")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--tasks", type=int, default=10_000, help="Celery tasks / reminders")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--random-page-cost", type=float, default=1.1,
                        help="set on the bench database (PostgreSQL's default is 4)")
    parser.add_argument("--only", default="", help="comma-separated measurement names")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="do not EXPLAIN ANALYZE the queries of every measured page")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--update-readme", action="store_true",
                        help="replace the table between the bench markers in README.md")
    args = parser.parse_args(argv)
    size = SMALL_SIZE if args.small and not args.full else FULL_SIZE
    args.patients = args.patients or size[0]
    args.sessions_per_patient = args.sessions_per_patient or size[1]

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL)
    _check_services(database_url, broker_url)
    _recreate_database(database_url, drop=not args.reuse_data,
                       random_page_cost=args.random_page_cost)
    _configure_environment(database_url, broker_url)
    import django

    django.setup()
    bench = Bench(args=args, database_url=database_url, broker_url=broker_url)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    for measurement in MEASUREMENTS:
        if only and measurement.__name__ not in only | {"seed"}:
            continue
        print(f"bench: {measurement.__name__} …", flush=True)
        try:
            rows = measurement(bench)
        except Exception as error:  # one broken measurement must not hide the others
            rows = [Row(name=measurement.__name__, status="failed",
                        note=f"{type(error).__name__}: {error}")]
        for row in rows:
            if row.status == "not available yet":
                print(f"bench: {row.name}: not available yet: {row.note}", flush=True)
        bench.rows.extend(rows)

    from django.db import connection

    patients, per_patient = bench.facts.get("size", (args.patients, args.sessions_per_patient))
    header = (f"{patients:,} patients × {per_patient} sessions on PostgreSQL "
              f"{connection.pg_version // 10000} (random_page_cost {args.random_page_cost}), "
              f"Redis broker; {os.cpu_count()} CPUs, on which {CPU_YARDSTICK_ADDITIONS:,} "
              f"Python additions took {cpu_yardstick_ms():.0f} ms (CPU speed, to compare runs); "
              f"{args.repeat} timed requests per page, in-process django.test.Client")
    markdown = f"{header}\n\n{table(bench.rows)}"
    print("\n" + markdown)
    Path(args.json).write_text(json.dumps(
        {"header": header, "rows": [asdict(row) for row in bench.rows]}, indent=2,
        default=str))
    Path(args.json).with_suffix(".md").write_text(markdown + "\n")
    if args.update_readme:
        _update_readme(markdown)
    failed = [row.name for row in bench.rows if row.status == "failed"]
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
