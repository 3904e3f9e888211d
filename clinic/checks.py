"""System checks for what ``manage.py check`` does not know about this clinic.

Registered by security.apps. IDs: clinic.E001… (errors) and clinic.W001… (warnings). The
security checks run with ``--deploy``; the clinic policy checks run on every ``check``,
``runserver`` and ``migrate``.
"""

from datetime import timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

MIN_SECRET_KEY_LENGTH = 50
DEV_SECRET_KEY_MARKERS = ("dev-only-insecure", "test-only-secret-key", "django-insecure")


@register(Tags.security, deploy=True)
def secret_key_check(app_configs=None, **kwargs):
    key = settings.SECRET_KEY or ""
    if any(marker in key for marker in DEV_SECRET_KEY_MARKERS):
        return [Error("SECRET_KEY is a development or test key.",
                      hint="Set SECRET_KEY in the environment to a long random value, e.g. "
                           "python -c 'import secrets; print(secrets.token_urlsafe(64))'.",
                      id="clinic.E001")]
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        return [Error(f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters or has "
                      "too few distinct characters.",
                      hint="Generate a long random key.", id="clinic.E002")]
    return []


@register(Tags.security, deploy=True)
def email_timeout_check(app_configs=None, **kwargs):
    timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    if not timeout or timeout <= 0 or timeout > 120:
        return [Warning("EMAIL_TIMEOUT is not set to a sane value (1–120 s): a hanging SMTP "
                        "server would hold a worker (or a web request) forever.",
                        hint="Set EMAIL_TIMEOUT, e.g. 10.", id="clinic.W001")]
    return []


@register(Tags.security, deploy=True)
def session_age_check(app_configs=None, **kwargs):
    problems = []
    idle = getattr(settings, "SESSION_IDLE_TIMEOUT", None)
    absolute = getattr(settings, "SESSION_ABSOLUTE_TIMEOUT", None)
    if not isinstance(idle, timedelta) or not timedelta(minutes=1) <= idle <= timedelta(hours=1):
        problems.append(Warning("SESSION_IDLE_TIMEOUT should be between 1 and 60 minutes for a "
                                "system holding health records.", id="clinic.W002"))
    if (not isinstance(absolute, timedelta)
            or not timedelta(minutes=15) <= absolute <= timedelta(hours=24)):
        problems.append(Warning("SESSION_ABSOLUTE_TIMEOUT should be between 15 minutes and 24 "
                                "hours.", id="clinic.W003"))
    if isinstance(absolute, timedelta) and absolute.total_seconds() < settings.SESSION_COOKIE_AGE:
        problems.append(Warning("SESSION_COOKIE_AGE outlives SESSION_ABSOLUTE_TIMEOUT.",
                                hint="Leave SESSION_COOKIE_AGE to the settings default.",
                                id="clinic.W004"))
    return problems


@register(Tags.security, deploy=True)
def demo_accounts_check(app_configs=None, databases=None, **kwargs):
    """Demo accounts still accepting their published password, on a server with DEBUG off."""
    if settings.DEBUG:
        return []
    from security.services import demo_accounts_present

    try:
        present = demo_accounts_present()
    except DatabaseError as error:
        return [Warning(f"Could not check for demo accounts: {error}",
                        hint="Run the check where the database is reachable and migrated.",
                        id="clinic.W005")]
    if present:
        return [Error(f"Demo accounts with their published passwords exist: "
                      f"{', '.join(present)}. Logins with them are refused while DEBUG is off, "
                      "but they must not exist on a production server.",
                      hint="Deactivate them or change their passwords in the admin.",
                      id="clinic.E003")]
    return []


def _local_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@register(Tags.security, deploy=True)
def site_url_check(app_configs=None, **kwargs):
    """Every email links to CLINIC_REMINDERS['site_url'] (the opt-out link, a clinician's
    alert): left at its development default, production emails point at the reader's own
    computer. With DEBUG off it must be the clinic's public https address."""
    if settings.DEBUG:
        return []
    from sessions.reminders import ReminderSettings

    if ReminderSettings.settings_errors():
        return []  # clinic_policy_check names the problem
    site_url = ReminderSettings.from_settings().site_url
    parts = urlsplit(site_url)
    if parts.scheme == "https" and parts.hostname and not _local_host(parts.hostname):
        return []
    return [Error(f"CLINIC_REMINDERS['site_url'] is {site_url!r}: emails would link there "
                  "instead of to the clinic's site.",
                  hint='Set CLINIC_REMINDERS to e.g. {"site_url": "https://clinic.example.org"}, '
                       "the https address staff and patients open.",
                  id="clinic.E004")]


# --- clinic policy: CLINIC_SAFETY and CLINIC_REMINDERS --------------------------------------

POLICY_CHECK_IDS = {"unknown key": "clinic.E010", "wrong type": "clinic.E011",
                    "out of range": "clinic.E012"}


@register("clinic_policy")
def clinic_policy_check(app_configs=None, **kwargs):
    """A typo in a threshold or a reminder setting stops the server at startup, every key at
    once; the rules themselves live with the policies (sessions.safety, sessions.reminders)."""
    from sessions.policy import PolicyError
    from sessions.reminders import ReminderSettings
    from sessions.safety import Thresholds

    problems: list[PolicyError] = [*Thresholds.settings_errors(),
                                   *ReminderSettings.settings_errors()]
    return [Error(problem.message,
                  hint=f"Correct {problem.setting} (a JSON object in the environment); the "
                       "README lists every key with its default.",
                  id=POLICY_CHECK_IDS[problem.problem])
            for problem in problems]


def clinic_policy_required() -> None:
    """Stop a process that runs no system checks (gunicorn, Celery workers and beat) when the
    clinic policy has a typo, with the same messages `manage.py check` gives."""
    from django.core.exceptions import ImproperlyConfigured

    errors = clinic_policy_check()
    if errors:
        raise ImproperlyConfigured("Clinic policy is misconfigured:\n" + "\n".join(
            f"{error.id}: {error.msg}" for error in errors))


# --- who was chosen for a role before roles decided it (manage.py check --database default) ---

ROLE_CHECK_SHOWN = 5
REASSIGN_CLINICIAN = ("Choose a clinician for each in the admin, or add the person to the "
                      "Clinician group if they are one: serious-event alerts go to whoever is "
                      "named.")
CORRECT_ADMINISTRATION = ("Check who gave each dose against the clinic's records and correct "
                          "it (recorded doses are read-only in the admin), or give the person "
                          "the Nurse or Clinician role if they are one.")


def _role_rows(*, role, model, field: str, what: str, hint: str, check_id: str) -> list:
    from sessions import roles, selectors

    rows = selectors.role_misassignments(role=role, model=model, field=field)
    ids = list(rows.values_list("pk", flat=True)[:ROLE_CHECK_SHOWN])
    if not ids:
        return []
    count = rows.count()
    people = (get_user_model().objects.filter(pk__in=rows.values(field))
              .order_by("username")[:3])
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return [Warning(f"{count} {what} ({'; '.join(map(roles.person_label, people))}): "
                    f"id {', '.join(map(str, ids))}{more}.", hint=hint, id=check_id)]


@register(Tags.database)
def role_assignment_check(app_configs=None, databases=None, **kwargs):
    """Rows that name someone for a role their own role does not allow: written before the
    services refused it (or by a script around them). The services refuse new ones."""
    if not databases or "default" not in databases:
        return []
    from sessions import roles
    from sessions.models import Administration, TreatmentCourse, TreatmentSession

    not_a_clinician = "name a responsible clinician who is not a clinician"
    try:
        return [
            *_role_rows(role=roles.RESPONSIBLE_CLINICIAN, model=TreatmentSession,
                        field="clinician", what=f"treatment session(s) {not_a_clinician}",
                        hint=REASSIGN_CLINICIAN, check_id="clinic.W010"),
            *_role_rows(role=roles.RESPONSIBLE_CLINICIAN, model=TreatmentCourse,
                        field="responsible_clinician",
                        what=f"treatment course(s) {not_a_clinician}",
                        hint=REASSIGN_CLINICIAN, check_id="clinic.W011"),
            *_role_rows(role=roles.ADMINISTERS, model=Administration, field="administered_by",
                        what="administration(s) record the dose as given by someone who is "
                             "not a nurse or clinician",
                        hint=CORRECT_ADMINISTRATION, check_id="clinic.W012"),
        ]
    except DatabaseError:
        return []  # not migrated yet (migrate runs the checks first): nothing to check
