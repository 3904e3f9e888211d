"""Writes of patient records."""

from django.db import transaction
from django.utils import timezone

from patients.models import Condition, Medication, Patient
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


@transaction.atomic
def patient_save(*, patient: Patient) -> Patient:
    """Register a patient, or save the details staff keep up to date (name, birth date,
    contact, time zone, reminder choice). Archiving and restoring have their own services;
    turning reminders off cancels the pending ones, as the patient's own opt-out does."""
    opted_out = False
    if patient.pk is not None:
        before = (Patient.objects.select_for_update().only("reminders_opt_in", "is_archived")
                  .get(pk=patient.pk))
        if patient.is_archived != before.is_archived:
            raise WorkflowError("Archive or restore a patient with the Archive or Restore "
                                "action, which also handles their reminders.")
        opted_out = before.reminders_opt_in and not patient.reminders_opt_in
    patient.full_clean()
    patient.save()
    if opted_out:
        reminders.patient_reminders_cancel(patient=patient, reason="Patient opted out.")
    return patient


@transaction.atomic
def patient_history_record(*, record: Condition | Medication) -> Condition | Medication:
    """Add or update one condition or medication of a patient's history. They are never
    deleted: one that no longer applies is marked inactive, and the evaluation's safety
    findings read only the active ones."""
    Patient.objects.select_for_update().filter(pk=record.patient_id).exists()
    record.full_clean()
    record.save()
    return record
