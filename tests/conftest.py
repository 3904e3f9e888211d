import pytest

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
