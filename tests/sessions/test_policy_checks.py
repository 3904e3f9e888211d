"""A typo in the clinic's policy settings stops `manage.py check` (and so `migrate` and
`runserver`) with a message naming the key, instead of being ignored or found mid-session."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from sessions.policy import PolicyError
from sessions.reminders import ReminderSettings
from sessions.safety import Thresholds


def check_fails() -> str:
    """What the operator reads when `manage.py check` refuses the configuration."""
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    return str(refused.value)


def test_the_default_policies_pass_the_check(settings):
    settings.CLINIC_SAFETY = {}
    settings.CLINIC_REMINDERS = {}
    call_command("check")  # no SystemCheckError


def test_a_valid_override_passes_the_check(settings):
    settings.CLINIC_SAFETY = {"hold_systolic_mmhg": 150, "warn_systolic_mmhg": 130,
                              "clock_skew_minutes": 0}
    settings.CLINIC_REMINDERS = {"follow_up_local_time": "18:30", "retry_backoff_seconds": 0.5}
    call_command("check")


def test_a_misspelt_threshold_fails_the_check_and_suggests_the_key_meant(settings):
    settings.CLINIC_SAFETY = {"hold_systolic": 150}
    output = check_fails()
    assert ("(clinic.E010) CLINIC_SAFETY has an unknown setting 'hold_systolic' "
            "(did you mean 'hold_systolic_mmhg'?)") in output


@pytest.mark.parametrize("value", ["150", True, 150.5, None, [150]])
def test_a_threshold_that_is_not_a_whole_number_fails_the_check(settings, value):
    settings.CLINIC_SAFETY = {"hold_systolic_mmhg": value}
    output = check_fails()
    assert (f"(clinic.E011) CLINIC_SAFETY['hold_systolic_mmhg'] must be a whole number, "
            f"got {value!r}.") in output


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("hold_systolic_mmhg", -1, "must be between 1 and 300, got -1."),
    ("hold_diastolic_mmhg", 0, "must be between 1 and 300, got 0."),
    ("min_observation_minutes", 0, "must be between 1 and 1440, got 0."),
    ("clock_skew_minutes", 61, "must be between 0 and 60, got 61."),
    ("clock_skew_minutes", -5, "must be between 0 and 60, got -5."),
    ("min_spo2_percent", 920, "must be between 1 and 100, got 920."),
    ("rems_submission_days", 0, "must be between 1 and 366, got 0."),
])
def test_a_threshold_out_of_its_range_fails_the_check(settings, key, value, expected):
    settings.CLINIC_SAFETY = {key: value}
    assert f"(clinic.E012) CLINIC_SAFETY[{key!r}] {expected}" in check_fails()


@pytest.mark.parametrize("minutes", [0, 60])
def test_the_clock_skew_allowance_may_be_anything_from_0_to_60_minutes(settings, minutes):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": minutes}
    call_command("check")
    assert Thresholds.from_settings().clock_skew_minutes == minutes


def test_a_warning_threshold_above_the_hold_threshold_fails_the_check(settings):
    settings.CLINIC_SAFETY = {"warn_diastolic_mmhg": 105}
    assert ("(clinic.E012) CLINIC_SAFETY warning blood pressure thresholds must not be above the "
            "hold thresholds: warn_diastolic_mmhg is 105, hold_diastolic_mmhg is 100.") in (
        check_fails())


def test_clinic_safety_that_is_not_an_object_fails_the_check(settings):
    settings.CLINIC_SAFETY = [["hold_systolic_mmhg", 150]]
    assert "(clinic.E011) CLINIC_SAFETY must be a dict (a JSON object) of settings, got list." in (
        check_fails())


@pytest.mark.parametrize("value", ["9am", "9:00", "24:00", "09:60", 9, "09:00:00"])
def test_a_follow_up_time_not_written_hh_mm_fails_the_check(settings, value):
    settings.CLINIC_REMINDERS = {"follow_up_local_time": value}
    assert (f"(clinic.E011) CLINIC_REMINDERS['follow_up_local_time'] must be a time of day as "
            f'"HH:MM", e.g. "09:00", got {value!r}.') in check_fails()


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"send_email_hours_before": 24},
     "(clinic.E010) CLINIC_REMINDERS has an unknown setting 'send_email_hours_before'"),
    ({"max_attempts": "6"},
     "(clinic.E011) CLINIC_REMINDERS['max_attempts'] must be a whole number, got '6'."),
    ({"retry_backoff_seconds": False},
     "(clinic.E011) CLINIC_REMINDERS['retry_backoff_seconds'] must be a number, got False."),
    ({"sender_name": 42},
     "(clinic.E011) CLINIC_REMINDERS['sender_name'] must be text, got 42."),
    ({"site_url": "clinic.example"},
     "(clinic.E011) CLINIC_REMINDERS['site_url'] must be a web address starting with http:// "
     "or https://, got 'clinic.example'."),
    ({"batch_size": 0},
     "(clinic.E012) CLINIC_REMINDERS['batch_size'] must be at least 1, got 0."),
    ({"upcoming_session_hours_before": -24},
     "(clinic.E012) CLINIC_REMINDERS['upcoming_session_hours_before'] must be between 1 and "
     "672, got -24."),
    ({"follow_up_first_days": 30, "follow_up_second_days": 7},
     "(clinic.E012) CLINIC_REMINDERS['follow_up_second_days'] must be after the first "
     "follow-up: 7 days is not more than follow_up_first_days (30)."),
    ({"lease_seconds": 60, "retry_backoff_max_seconds": 120},
     "(clinic.E012) CLINIC_REMINDERS: retry_backoff_max_seconds plus EMAIL_TIMEOUT must be "
     "below lease_seconds"),
])
def test_a_bad_reminder_setting_fails_the_check_naming_the_key(settings, overrides, expected):
    settings.CLINIC_REMINDERS = overrides
    assert expected in check_fails()


def test_every_problem_is_reported_at_once_with_a_hint(settings):
    settings.CLINIC_SAFETY = {"hold_systolic": 150, "clock_skew_minutes": 90}
    settings.CLINIC_REMINDERS = {"max_attempts": True}
    output = check_fails()
    assert "'hold_systolic'" in output
    assert "'clock_skew_minutes'" in output
    assert "'max_attempts'" in output
    assert "HINT: Correct CLINIC_SAFETY (a JSON object in the environment)" in output
    assert "System check identified 3 issues" in output


def test_loading_a_bad_policy_raises_the_one_policy_error_naming_its_key(settings):
    settings.CLINIC_SAFETY = {"min_observation_minutes": 0}
    settings.CLINIC_REMINDERS = {"follow_up_local_time": "9am"}
    with pytest.raises(PolicyError) as safety_error:
        Thresholds.from_settings()
    with pytest.raises(PolicyError) as reminders_error:
        ReminderSettings.from_settings()
    assert isinstance(safety_error.value, ImproperlyConfigured)
    assert (safety_error.value.setting, safety_error.value.key) == (
        "CLINIC_SAFETY", "min_observation_minutes")
    assert (reminders_error.value.setting, reminders_error.value.key) == (
        "CLINIC_REMINDERS", "follow_up_local_time")


# --- processes that run no system checks: gunicorn, Celery workers and beat ------------------

def test_the_web_server_does_not_start_with_a_policy_typo(tmp_path):
    """gunicorn imports clinic.wsgi: a misspelt threshold stops it there, with the check's
    message."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CLINIC_SAFETY": '{"hold_sytolic_mmhg": 150}',
           "DJANGO_SETTINGS_MODULE": "clinic.test_settings", "CLINIC_VAR_DIR": str(tmp_path)}
    started = subprocess.run([sys.executable, "-c", "import clinic.wsgi"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "clinic.E010" in started.stderr and "hold_sytolic_mmhg" in started.stderr


def test_a_worker_or_beat_does_not_start_with_a_policy_typo(settings):
    from clinic.celery import clinic_policy_required  # on worker_init and beat_init

    settings.CLINIC_REMINDERS = {"lease_seconds": "ten minutes"}
    with pytest.raises(SystemExit, match="clinic.E011"):
        clinic_policy_required()
    settings.CLINIC_REMINDERS = {}
    clinic_policy_required()  # a valid policy starts
