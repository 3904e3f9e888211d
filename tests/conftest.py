import pytest
from django.core.cache import caches
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.services import two_factor_required
from sessions import services
from tests.factories import (
    SessionFactory,
    UserFactory,
    administration_data,
    consultation_data,
    evaluation_data,
    expectations_data,
)


@pytest.fixture
def nurse(db):
    return UserFactory(username="nurse1", role="Nurse")


@pytest.fixture
def clinician(db):
    return UserFactory(username="clinician1", role="Clinician")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def session(db, clinician):
    return SessionFactory(course__responsible_clinician=clinician)


STEP_ORDER = ("consultation", "evaluation", "expectations", "administration")


@pytest.fixture
def advance(nurse, clinician):
    """advance(session, through="expectations") records every step up to and including it."""

    def _advance(session, *, through: str, **step_overrides):
        recorders = {
            "consultation": lambda: services.consultation_record(
                session=session, recorded_by=nurse,
                **consultation_data(**step_overrides.get("consultation", {}))),
            "evaluation": lambda: services.evaluation_record(
                session=session, recorded_by=clinician,
                **evaluation_data(**step_overrides.get("evaluation", {}))),
            "expectations": lambda: services.expectations_record(
                session=session, recorded_by=nurse,
                **expectations_data(**step_overrides.get("expectations", {}))),
            "administration": lambda: services.administration_record(
                session=session, recorded_by=nurse,
                **administration_data(**step_overrides.get("administration", {}))),
        }
        for step in STEP_ORDER[: STEP_ORDER.index(through) + 1]:
            recorders[step]()
        session.refresh_from_db()
        return session

    return _advance


# --- two-factor authentication and force_login ----------------------------------------------
# force_login stands for "this user completed the login": for the roles that must pass a TOTP
# second factor that includes the second factor, with a real confirmed device. Tests of the
# login flow itself log in through the forms, or use force_login_password_only().
_force_login = Client.force_login


def verify_second_factor(client: Client, user) -> None:
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True,
                                                 defaults={"name": "Test authenticator"})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def force_login_password_only(client: Client, user) -> None:
    """Logged in with the password only: the second factor still to come."""
    _force_login(client, user)


@pytest.fixture(autouse=True)
def _empty_history_cache():
    """Every test starts with an empty history cache: rolled-back tests hand out the same ids
    again, and a card cached by one test must not show in the next."""
    caches["history"].clear()


@pytest.fixture(autouse=True)
def _force_login_includes_second_factor(monkeypatch):
    def force_login(self, user, backend=None):
        _force_login(self, user, backend)
        if two_factor_required(user):
            verify_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True, scope="session")
def _flush_may_empty_the_security_log():
    """Between transactional tests (browser journeys, real workers) the database is emptied by
    ``flush``, which on SQLite is a DELETE the security log's triggers refuse. Emptying a
    throw-away test database is the one DELETE allowed (audit.append_only.maintenance);
    PostgreSQL's flush is a TRUNCATE, which the row triggers do not see."""
    from django.db import connection

    from audit.append_only import maintenance

    if connection.vendor != "sqlite":
        yield
        return
    operations = type(connection.ops)
    original = operations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with maintenance():
            return original(self, sql_list)

    operations.execute_sql_flush = execute_sql_flush
    yield
    operations.execute_sql_flush = original
