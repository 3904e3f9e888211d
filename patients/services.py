"""Writes of patient records."""

from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from sessions import reminders
from sessions.errors import WorkflowError
from sessions.models import TreatmentSession


@transaction.atomic
def patient_archive(*, patient: Patient) -> Patient:
    """Clinical records are never deleted: archiving hides the patient from daily lists."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_archived:
        raise WorkflowError("This patient is already archived.")
    if patient.sessions.filter(status=TreatmentSession.Status.IN_PROGRESS).exists():
        raise WorkflowError("This patient has a session in progress; finish it before archiving.")
    patient.is_archived = True
    patient.archived_at = timezone.now()
    patient.save(update_fields=["is_archived", "archived_at", "updated_at"])
    reminders.patient_reminders_cancel(patient=patient, reason="Patient archived.")
    return patient


@transaction.atomic
def patient_restore(*, patient: Patient) -> Patient:
    """Bring an archived patient back to the daily lists. The reminders cancelled when they
    were archived stay cancelled (a cancelled email is never revived by a later event);
    sessions scheduled from now on get theirs as usual. When they were archived stays in the
    record's history."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not patient.is_archived:
        raise WorkflowError("This patient is not archived.")
    patient.is_archived = False
    patient.archived_at = None
    patient.save(update_fields=["is_archived", "archived_at", "updated_at"])
    return patient


@transaction.atomic
def patient_reminders_opt_out(*, patient: Patient) -> Patient:
    """The patient asked for no more reminders: only their opt-in changes, and their pending
    reminder emails are cancelled in the same transaction. Idempotent."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.reminders_opt_in:
        patient.reminders_opt_in = False
        patient.save(update_fields=["reminders_opt_in", "updated_at"])
    reminders.patient_reminders_cancel(patient=patient, reason="Patient opted out.")
    return patient
