"""A refused value is explained in words a nurse can act on, never by the name of a database
constraint ("Constraint “consult_panic_attacks_range” is violated")."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils import timezone

from sessions.models import Consultation
from tests.factories import consultation_data
from tests.sessions.test_admin import AdminSessionLogger, errors_of

pytestmark = pytest.mark.django_db

CHECK_CONSTRAINTS = [
    (model, constraint)
    for app_label in ("patients", "treatment_sessions")
    for model in apps.get_app_config(app_label).get_models()
    for constraint in model._meta.constraints
    if isinstance(constraint, models.CheckConstraint)
]


@pytest.mark.parametrize(("model", "constraint"), CHECK_CONSTRAINTS,
                         ids=[constraint.name for _, constraint in CHECK_CONSTRAINTS])
def test_every_check_constraint_says_what_to_correct(model, constraint):
    message = constraint.get_violation_error_message()
    assert constraint.name not in message
    assert not message.startswith("Constraint"), f"{model.__name__}: {message}"


def step_url(session, step):
    return reverse("session_step", args=[session.pk, step])


def assert_explained(page: str, expected: str) -> None:
    assert expected in page
    assert "Constraint" not in page and "_range" not in page


def test_501_panic_attacks_on_the_consultation_page_asks_for_at_most_500(
        client, nurse, session):
    client.force_login(nurse)
    data = {name: str(value) for name, value in consultation_data().items()
            if not isinstance(value, bool)}
    response = client.post(step_url(session, "consultation"),
                           {**data, "panic_attacks_since_last_session": "501"})
    assert response.status_code == 400
    assert_explained(response.content.decode(), "less than or equal to 500")
    assert not Consultation.objects.filter(session=session).exists()


def test_501_panic_attacks_in_the_admin_asks_for_at_most_500(client, nurse, session):
    client.force_login(nurse)
    response = AdminSessionLogger(client, session).submit(
        "consultation-0", **consultation_data(panic_attacks_since_last_session=501))
    assert response.status_code == 200
    assert_explained(errors_of(response), "less than or equal to 500")


def test_a_dose_too_small_to_chart_per_kilogram_is_explained(client, nurse, session,
                                                              advance):
    """0.01 mg for 80 kg rounds to 0.00 mg/kg, which the database refuses."""
    advance(session, through="expectations")
    client.force_login(nurse)
    started = timezone.localtime(timezone.now() - timedelta(minutes=5))
    response = client.post(step_url(session, "administration"), {
        "drug": "ketamine", "route": "iv", "dose_mg": str(Decimal("0.01")),
        "started_at": started.strftime("%Y-%m-%dT%H:%M"), "lot_number": "LOT-1"})
    assert response.status_code == 400
    assert_explained(response.content.decode(), "0.01 mg/kg")
