"""Links take people where they work: the clinician alert opens the session and the patient's
history; the admin session page and the session page link to each other."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from clinic.permissions import CLINICAL_VIEW
from sessions.models import Reminder
from sessions.reminder_emails import reminder_email
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def hrefs(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', html)]


def test_clinician_alert_links_to_the_session_page_and_the_history(settings, clinician):
    settings.CLINIC_REMINDERS = {**settings.CLINIC_REMINDERS,
                                 "site_url": "https://clinic.example.test/"}
    session = SessionFactory(course__responsible_clinician=clinician)
    alert = Reminder.objects.create(kind="clinician_alert", cause="consultation:1",
                                    patient=session.patient, session=session,
                                    recipient_user=clinician, due_at=timezone.now())
    email = reminder_email(alert)
    session_url = f"https://clinic.example.test/sessions/{session.pk}/"
    history_url = f"https://clinic.example.test/patients/{session.patient.pk}/"
    html = email.alternatives[0][0]
    assert hrefs(html) == [session_url, history_url]
    assert session_url in email.body and history_url in email.body
    assert "/admin/" not in email.body + html


def test_admin_session_page_links_to_the_session_page(client, nurse):
    session = SessionFactory()
    client.force_login(nurse)
    html = client.get(reverse("admin:treatment_sessions_treatmentsession_change",
                              args=[session.pk])).content.decode()
    link = re.search(r'<a href="([^"]+)" id="open-session-page">Open the session page</a>', html)
    assert link and link.group(1) == f"/sessions/{session.pk}/"
    assert client.get(link.group(1)).status_code == 200


def test_front_desk_is_not_offered_the_clinical_session_page(client):
    session = SessionFactory()
    client.force_login(UserFactory(username="desk1", role="Front desk"))
    html = client.get(reverse("admin:treatment_sessions_treatmentsession_change",
                              args=[session.pk])).content.decode()
    assert "Open the session page" not in html
    assert client.get(f"/sessions/{session.pk}/").status_code == 403  # why it is not offered


def test_session_page_links_to_its_admin_page_for_those_who_may_change_sessions(client, nurse):
    session = SessionFactory()
    admin_url = reverse("admin:treatment_sessions_treatmentsession_change", args=[session.pk])
    client.force_login(nurse)
    html = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert admin_url in hrefs(html)
    assert "Open this session in the admin" in html

    reader = UserFactory(username="reader1")  # may read the session page, not change sessions
    reader.user_permissions.add(*[
        Permission.objects.get(content_type__app_label=name.split(".")[0],
                               codename=name.split(".")[1]) for name in CLINICAL_VIEW])
    client.force_login(reader)
    html = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert admin_url not in hrefs(html)
