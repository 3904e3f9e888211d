"""Writes of patient records."""

from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from sessions.errors import WorkflowError
from sessions.models import TreatmentSession


@transaction.atomic
def patient_archive(*, patient: Patient) -> Patient:
    """Clinical records are never deleted: archiving hides the patient from daily lists."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.sessions.filter(status=TreatmentSession.Status.IN_PROGRESS).exists():
        raise WorkflowError("This patient has a session in progress; finish it before archiving.")
    patient.is_archived = True
    patient.archived_at = timezone.now()
    patient.save(update_fields=["is_archived", "archived_at", "updated_at"])
    return patient
