"""Staff see reminders on the reminder list, the patient and the session, and can cancel,
retry failed ones and send now."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from sessions import services
from sessions.models import Reminder, TreatmentSession
from tests.admin_forms import form_data
from tests.factories import CourseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/treatment_sessions/reminder/"


@pytest.fixture
def reminder_rows(clinician):
    rows = []
    for _ in range(3):
        patient = PatientFactory()
        course = CourseFactory(patient=patient, responsible_clinician=clinician)
        session = services.session_schedule(patient=patient, course=course, clinician=clinician,
                                            scheduled_at=timezone.now() + timedelta(days=3))
        rows.append(Reminder.objects.get(session=session))
    return rows


def act(client, action, rows):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [r.pk for r in rows]},
                       follow=True)


def test_list_filters_render(client, superuser, reminder_rows):
    client.force_login(superuser)
    for query in ("", "?status__exact=pending", "?kind__exact=upcoming_session",
                  "?due_at__year=2026", f"?q={reminder_rows[0].patient.mrn}"):
        response = client.get(CHANGELIST + query)
        assert response.status_code == 200
    assert reminder_rows[0].patient.last_name in response.content.decode()


def test_cancel_action_cancels_pending_and_leaves_sent(client, superuser, reminder_rows):
    client.force_login(superuser)
    Reminder.objects.filter(pk=reminder_rows[2].pk).update(status="sent", sent_at=timezone.now())
    response = act(client, "cancel_reminders", reminder_rows)
    assert "2 reminder(s) cancelled" in response.content.decode()
    statuses = [Reminder.objects.get(pk=r.pk).status for r in reminder_rows]
    assert statuses == ["cancelled", "cancelled", "sent"]


def test_retry_failed_puts_only_failed_rows_back_due_now(client, superuser, reminder_rows):
    client.force_login(superuser)
    Reminder.objects.filter(pk=reminder_rows[0].pk).update(status="failed", attempts=6,
                                                           last_error="SMTP 550: no")
    response = act(client, "retry_failed_reminders", reminder_rows)
    assert "1 failed reminder(s) will be sent again" in response.content.decode()
    retried = Reminder.objects.get(pk=reminder_rows[0].pk)
    assert (retried.status, retried.attempts) == ("pending", 0)
    assert retried.due_at <= timezone.now()
    assert Reminder.objects.get(pk=reminder_rows[1].pk).due_at > timezone.now()


def test_send_now_delivers_at_once(client, superuser, reminder_rows, smtp_server, eager_celery,
                                   django_capture_on_commit_callbacks):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(client, "send_reminders_now", reminder_rows[:2])
    assert "2 reminder(s) queued for sending now" in response.content.decode()
    assert [Reminder.objects.get(pk=r.pk).status for r in reminder_rows] == [
        "sent", "sent", "pending"]
    assert len(smtp_server.handler.received) == 2


def test_patient_and_session_pages_show_their_reminders(client, superuser, reminder_rows):
    client.force_login(superuser)
    row = reminder_rows[0]
    patient_page = client.get(reverse("admin:patients_patient_change", args=[row.patient_id]))
    session_page = client.get(reverse("admin:treatment_sessions_treatmentsession_change",
                                      args=[row.session_id]))
    for page in (patient_page, session_page):
        assert page.status_code == 200
        assert "Upcoming session" in page.content.decode()


def test_unticking_opt_in_in_the_admin_cancels_pending_reminders(client, superuser,
                                                                 reminder_rows):
    client.force_login(superuser)
    patient = reminder_rows[0].patient
    change_url = reverse("admin:patients_patient_change", args=[patient.pk])
    data = form_data(client.get(change_url))
    data.pop("reminders_opt_in", None)
    response = client.post(change_url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Patient.objects.get(pk=patient.pk).reminders_opt_in is False
    assert Reminder.objects.get(pk=reminder_rows[0].pk).status == "cancelled"
    assert Reminder.objects.get(pk=reminder_rows[1].pk).status == "pending"
    assert TreatmentSession.objects.count() == 3


def test_clinician_alerts_are_out_of_reach_of_staff_without_clinical_rights(
        client, clinician, nurse, reminder_rows, advance):
    """A clinic admin may cancel reminders, but an alert (a self-harm answer here) is not among
    the rows it can see, so selecting it by id through the action changes nothing."""
    advance(reminder_rows[0].session, through="consultation", consultation={"phq9_item_9": 2})
    alert = Reminder.objects.get(kind=Reminder.Kind.CLINICIAN_ALERT)
    clinic_admin = UserFactory(username="cadmin1", role="Clinic admin")
    client.force_login(clinic_admin)
    response = act(client, "cancel_reminders", [alert, reminder_rows[1]])
    assert "1 reminder(s) cancelled" in response.content.decode()
    assert Reminder.objects.get(pk=alert.pk).status == "pending"
    assert Reminder.objects.get(pk=reminder_rows[1].pk).status == "cancelled"
    client.force_login(nurse)
    assert "Clinician safety alert" in client.get(CHANGELIST).content.decode()
