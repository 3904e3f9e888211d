"""Archiving and restoring a patient in the admin: through the services, as actions on the
list and from the patient's page, with the outcome shown as a message — never a 500."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from patients.services import patient_archive
from sessions import services
from sessions.models import Reminder
from tests.admin_forms import form_data
from tests.factories import CourseFactory, PatientFactory, SessionFactory, consultation_data

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:patients_patient_changelist")


def change_url(patient):
    return reverse("admin:patients_patient_change", args=[patient.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def tool_link(page: str, text: str) -> str:
    """The href of the object-tools link labelled `text` on a change page."""
    match = re.search(r'<a href="([^"]+)"[^>]*>\s*' + re.escape(text) + r"\s*</a>", page)
    assert match, f"no “{text}” link on the page"
    return match.group(1)


def test_ticking_is_archived_on_the_patient_form_is_not_a_server_error(client, nurse):
    """It used to save the box alone: archived with no archive time, an IntegrityError (500)."""
    patient = PatientFactory(last_name="Boxticker")
    client.force_login(nurse)
    page = client.get(change_url(patient))
    data = form_data(page)
    data["is_archived"] = "on"

    response = client.post(change_url(patient), data)

    assert response.status_code == 302
    patient.refresh_from_db()
    assert not patient.is_archived  # the box is read-only: archiving is the action's job
    assert 'name="is_archived"' not in client.get(change_url(patient)).content.decode()


def test_nurse_archives_a_patient_from_their_page_and_their_reminders_are_cancelled(
        client, nurse):
    course = CourseFactory()
    patient = course.patient
    services.session_schedule(patient=patient, course=course,
                              clinician=course.responsible_clinician,
                              scheduled_at=timezone.now() + timedelta(days=3))
    assert Reminder.objects.filter(patient=patient, status="pending").exists()
    client.force_login(nurse)

    archive_url = tool_link(client.get(change_url(patient)).content.decode(), "Archive patient")
    confirmation = client.get(archive_url)
    assert confirmation.status_code == 200
    assert "pending reminder emails are cancelled" in confirmation.content.decode()
    patient.refresh_from_db()
    assert not patient.is_archived  # asking is not doing

    response = client.post(archive_url, follow=True)

    assert response.redirect_chain[-1][0] == change_url(patient)
    assert f"{patient} archived." in messages_of(response)
    patient.refresh_from_db()
    assert patient.is_archived and patient.archived_at is not None
    assert not Reminder.objects.filter(patient=patient, status="pending").exists()
    assert "Restore patient" in response.content.decode()


def test_archiving_a_patient_mid_session_is_refused_with_a_message(client, nurse):
    session = SessionFactory()
    services.consultation_record(session=session, recorded_by=nurse, **consultation_data())
    patient = session.patient
    client.force_login(nurse)

    response = client.post(reverse("admin:patients_patient_archive", args=[patient.pk]),
                           follow=True)

    assert response.status_code == 200
    assert (f"{patient}: This patient has a session in progress; finish it before archiving."
            in messages_of(response))
    patient.refresh_from_db()
    assert not patient.is_archived


def test_nurse_restores_an_archived_patient_from_their_page(client, nurse):
    patient = patient_archive(patient=PatientFactory(last_name="Returning"))
    client.force_login(nurse)

    restore_url = tool_link(client.get(change_url(patient)).content.decode(), "Restore patient")
    response = client.post(restore_url, follow=True)

    assert f"{patient} restored." in messages_of(response)
    patient.refresh_from_db()
    assert not patient.is_archived and patient.archived_at is None
    assert "Archive patient" in response.content.decode()


def test_archive_and_restore_pages_refuse_a_post_without_the_csrf_token(nurse):
    patient = PatientFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(nurse)
    url = reverse("admin:patients_patient_archive", args=[patient.pk])

    assert browser.post(url).status_code == 403

    page = browser.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    patient.refresh_from_db()
    assert patient.is_archived


def test_archive_action_on_the_list_archives_some_and_names_the_refused(client, nurse):
    idle = PatientFactory(last_name="Idle")
    busy_session = SessionFactory()
    services.consultation_record(session=busy_session, recorded_by=nurse,
                                 **consultation_data())
    busy = busy_session.patient
    client.force_login(nurse)

    response = client.post(CHANGELIST, {"action": "archive_patients", "index": 0,
                                        "_selected_action": [idle.pk, busy.pk]}, follow=True)

    shown = messages_of(response)
    assert f"{idle} archived." in shown
    assert any(m.startswith(f"{busy}: This patient has a session in progress") for m in shown)
    assert list(Patient.objects.filter(is_archived=True)) == [idle]


def test_restore_action_on_the_list_restores_the_archived_and_refuses_the_others(
        client, nurse):
    first = patient_archive(patient=PatientFactory(last_name="Aarchived"))
    second = patient_archive(patient=PatientFactory(last_name="Barchived"))
    active = PatientFactory(last_name="Active")
    client.force_login(nurse)

    response = client.post(CHANGELIST, {
        "action": "restore_patients", "index": 0,
        "_selected_action": [first.pk, second.pk, active.pk]}, follow=True)

    shown = messages_of(response)
    assert "2 patients restored." in shown
    assert f"{active}: This patient is not archived." in shown
    assert not Patient.objects.filter(is_archived=True).exists()


@pytest.mark.parametrize("filters", [{"is_archived__exact": "1"}, {"is_archived__exact": "0"}])
def test_searching_by_date_of_birth_keeps_the_other_filters(client, nurse, filters):
    """A birth date searched on the archived list must not bring back active patients (nor
    the other way round): the date is one more way to search, not a way around the filters."""
    archived = PatientFactory(last_name="Archived", date_of_birth=date(1984, 3, 14))
    patient_archive(patient=archived)
    PatientFactory(last_name="Active", date_of_birth=date(1984, 3, 14))
    PatientFactory(last_name="Other", date_of_birth=date(1990, 1, 1))
    client.force_login(nurse)
    for query in ("1984-03-14", "03/14/1984"):
        response = client.get(CHANGELIST, {"q": query, **filters})
        shown = {p.last_name for p in response.context["cl"].result_list}
        assert shown == ({"Archived"} if filters["is_archived__exact"] == "1" else {"Active"})
