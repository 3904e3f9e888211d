"""Editing a patient in the admin writes through the services: details, the reminder choice,
and the conditions and medications of their history — each submitted as the page renders it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import services as patient_services
from patients.models import Condition
from sessions import services
from sessions.errors import WorkflowError
from sessions.models import Reminder
from tests.admin_forms import form_data
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db


def change_url(patient):
    return reverse("admin:patients_patient_change", args=[patient.pk])


def test_a_changed_phone_is_saved_once_and_an_unchanged_page_writes_nothing(client, nurse):
    patient = PatientFactory(phone="+1 555 0101")
    client.force_login(nurse)
    data = form_data(client.get(change_url(patient)))
    data["phone"] = "+1 555 0102"
    assert client.post(change_url(patient), data).status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.version) == ("+1 555 0102", 2)

    unchanged = form_data(client.get(change_url(patient)))
    assert client.post(change_url(patient), unchanged).status_code == 302
    patient.refresh_from_db()
    assert patient.version == 2
    assert patient.history.count() == 2  # created, and the one real change


def test_turning_reminders_off_in_the_admin_cancels_the_pending_ones(client, nurse):
    course = CourseFactory()
    services.session_schedule(patient=course.patient, course=course,
                              clinician=course.responsible_clinician,
                              scheduled_at=timezone.now() + timedelta(days=3))
    client.force_login(nurse)
    data = form_data(client.get(change_url(course.patient)))
    del data["reminders_opt_in"]  # the box unticked
    assert client.post(change_url(course.patient), data).status_code == 302
    assert set(Reminder.objects.filter(patient=course.patient)
               .values_list("status", flat=True)) == {"cancelled"}


def test_a_condition_added_on_the_patient_page_is_recorded(client, nurse):
    patient = PatientFactory()
    client.force_login(nurse)
    data = form_data(client.get(change_url(patient)))
    data.update({"conditions-TOTAL_FORMS": "1", "conditions-0-kind": "hypertension",
                 "conditions-0-is_active": "on", "conditions-0-patient": str(patient.pk)})
    assert client.post(change_url(patient), data).status_code == 302
    assert list(Condition.objects.filter(patient=patient).values_list("kind", flat=True)) == [
        "hypertension"]


def test_archiving_is_not_a_detail_to_save(nurse):
    patient = PatientFactory()
    patient.is_archived = True
    with pytest.raises(WorkflowError, match="Archive or restore a patient with the Archive"):
        patient_services.patient_save(patient=patient)
    patient.refresh_from_db()
    assert not patient.is_archived
