"""Real processes for integration tests: Celery workers, beat, a private redis-server."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test_… database)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(*, broker_url: str, smtp_port: int, reminders: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.test_settings",
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=broker_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        EMAIL_TIMEOUT="2",
        CLINIC_REMINDERS=json.dumps(reminders or {}),
        PYTHONUNBUFFERED="1",
    )
    return env


class Process:
    """A child process whose output goes to a log file (read it when a test fails)."""

    def __init__(self, args: list[str], env: dict, log: Path, ready_text: str | None = None,
                 timeout: float = 40):
        self.log = log
        self.handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self.handle,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        if ready_text:
            self.wait_for(ready_text, timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.log.name} exited early:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.log.name} not ready after {timeout}s:\n"
                                   f"{self.output()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acks, no cleanup — a machine losing power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


def start_worker(env: dict, log: Path, *, name: str) -> Process:
    return Process([sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool=solo",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--loglevel=INFO", f"--hostname={name}@%h"],
                   env, log, ready_text=" ready.")


def start_beat(env: dict, log: Path, schedule: Path) -> Process:
    return Process([sys.executable, "-m", "celery", "-A", "clinic", "beat", "--loglevel=INFO",
                    f"--schedule={schedule}"], env, log, ready_text="beat: Starting")


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


class PrivateRedis:
    """A redis-server of our own on a free port, so a test can stop and restart the broker
    without disturbing anyone else's Redis."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                               dict(os.environ), self.workdir / "redis.log",
                               ready_text="Ready to accept connections")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)
