"""On PostgreSQL the audit tables are append-only: a trigger refuses UPDATE and DELETE on every
history table, the access log and the security log, whoever issues them. (The security log's
SQLite triggers: tests/security/test_security_log.py.)"""

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from audit.append_only import is_history_model
from audit.models import PatientAccess, SecurityEvent
from audit.services import patient_access_record
from patients.models import Patient
from sessions.demo import seed_demo
from tests.security.dataset import build_dataset

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="PostgreSQL triggers: run by make test's PostgreSQL pass"),
]


def audit_models():
    return [m for m in apps.get_models() if is_history_model(m)] + [PatientAccess,
                                                                    SecurityEvent]


def test_every_audit_table_refuses_update_and_delete():
    build_dataset()  # one row of every model, so every history table has a row
    staff = Patient.history.first().history_user or apps.get_model("auth", "User").objects.first()
    request = RequestFactory().get("/")
    request.user = staff
    patient_access_record(request=request, patient=Patient.objects.first(), what="test")
    assert SecurityEvent.objects.exists()  # the dataset's staff were put in their groups
    assert len(audit_models()) >= 15
    for model in audit_models():
        row = model._default_manager.order_by("pk").first()
        assert row is not None, f"seed a {model._meta.label} row for this test"
        for attempt in ("update", "delete"):
            rows = model._default_manager.filter(pk=row.pk)
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                if attempt == "update":
                    rows.update(**{_some_text_or_date_field(model): _new_value(model)})
                else:
                    rows.delete()
        assert model._default_manager.filter(pk=row.pk).exists()


def test_adding_to_the_audit_tables_still_works():
    patient = seed_demo() and Patient.objects.first()
    before = patient.history.count()
    patient.phone = "+1 555 0123"
    patient.save()
    assert patient.history.count() == before + 1


def _some_text_or_date_field(model) -> str:
    if is_history_model(model):
        return "history_date"
    return "details" if model is SecurityEvent else "what"


def _new_value(model):
    from django.utils import timezone

    return timezone.now() if is_history_model(model) else "tampered"
