"""The embedded default end to end, as `make run` uses it: SQLite file, kombu filesystem
transport, real Celery worker processes, a real SMTP server. Runs `manage.py reminders_e2e` (the
benchmark command) on a throw-away var/ directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_embedded_default_sends_every_reminder_once(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL")}
    env.update(DJANGO_SETTINGS_MODULE="clinic.test_settings", CLINIC_VAR_DIR=str(tmp_path),
               TMPDIR=str(tmp_path))
    for folder in ("mail", "broker/queue", "broker/processed"):
        (tmp_path / folder).mkdir(parents=True)
    migrated = run(["migrate", "--no-input"], env)
    assert migrated.returncode == 0, migrated.stderr
    result = run(["reminders_e2e", "--count", "30", "--workers", "1", "--concurrency", "2",
                  "--timeout", "120", "--yes"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["database"] == "sqlite" and report["broker"] == "filesystem"
    assert report["rows"] == {"sent": 30}
    assert (report["emails_received"], report["duplicates"], report["lost"]) == (30, 0, 0)


def test_benchmark_refuses_without_confirmation(tmp_path):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="clinic.test_settings",
               CLINIC_VAR_DIR=str(tmp_path))
    result = run(["reminders_e2e", "--count", "1"], env)
    assert result.returncode != 0
    assert "pass --yes on a throw-away database" in result.stderr
