"""The project as a newcomer meets it: migrations in step, demo data idempotent, the symptom
catalogue complete, settings that refuse to run insecurely, lint clean."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from patients.models import Patient
from sessions.migrations import _catalogue
from sessions.models import SymptomType, TreatmentSession

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_symptom_catalogue_seeded_with_every_symptom_of_the_design():
    expected = {(category, name) for category, names in _catalogue.CATALOGUE.items()
                for name in names}
    assert len(expected) == 33
    seeded = set(SymptomType.objects.values_list("category", "name"))
    assert expected <= seeded
    assert ("withdrawal_sleep", "Vivid dreams or nightmares") in seeded
    assert ("panic", "Panic attack") in seeded


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins():
    first = StringIO()
    call_command("seed_demo", stdout=first)
    counts = (Patient.objects.count(), TreatmentSession.objects.count(),
              get_user_model().objects.count())
    second = StringIO()
    call_command("seed_demo", stdout=second)
    assert (Patient.objects.count(), TreatmentSession.objects.count(),
            get_user_model().objects.count()) == counts
    assert "0 patient(s) created" in second.getvalue()
    for login in ("admin", "clinician", "nurse", "frontdesk"):
        assert login in first.getvalue()
    assert TreatmentSession.objects.filter(status="completed").count() >= 6
    assert TreatmentSession.objects.filter(status="in_progress").exists()


@pytest.mark.django_db
def test_demo_sessions_are_timed_on_their_own_day():
    """The demo charts past sessions today; every clinical time is still the session's own."""
    call_command("seed_demo", stdout=StringIO())
    completed = TreatmentSession.objects.filter(status="completed").select_related(
        "evaluation", "expectation_setting", "administration", "monitoring")
    for session in completed:
        day = timezone.localdate(session.scheduled_at)
        times = (session.evaluation.measured_at, session.expectation_setting.consent_signed_at,
                 session.administration.started_at, session.monitoring.discharged_at)
        assert [timezone.localdate(moment) for moment in times] == [day] * 4, session
        assert list(times) == sorted(times), session


def _settings_import(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; "
         "django.setup(); print('SECRET_KEY set' if settings.SECRET_KEY else 'no key')"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "clinic.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    result = _settings_import({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_settings_use_a_development_key_only_in_debug():
    assert _settings_import({"DEBUG": "1"}).stdout.strip() == "SECRET_KEY set"


def _manage_with_no_configuration(*args) -> subprocess.CompletedProcess:
    """manage.py as on a fresh checkout: no secret, no settings module, no DEBUG."""
    unset = ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_makemigrations_check_runs_without_configuration_while_serving_commands_refuse():
    check = _manage_with_no_configuration("makemigrations", "--check", "--dry-run")
    assert check.returncode == 0, check.stderr
    assert "No changes detected" in check.stdout
    refused = _manage_with_no_configuration("check")
    assert refused.returncode != 0 and "SECRET_KEY is not set" in refused.stderr


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
