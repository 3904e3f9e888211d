"""Opening a patient's record on the clinician pages writes one access-log row per page: who,
whose record, from which address, which page — never a clinical value."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import PatientAccess
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db

IP = "198.51.100.77"


@pytest.fixture
def esketamine_session(clinician):
    return SessionFactory(course__responsible_clinician=clinician, course__drug="esketamine")


def pages(session):
    patient = session.patient
    return [
        (reverse("patient_history", args=[patient.pk]), "patient history"),
        (reverse("patient_sessions_csv", args=[patient.pk]), "sessions CSV export"),
        (reverse("patient_side_effects_csv", args=[patient.pk]), "side effects CSV export"),
        (reverse("session_detail", args=[session.pk]), f"session page, session {session.pk}"),
        *[(reverse("session_step", args=[session.pk, step]),
           f"step page: {step}, session {session.pk}")
          for step in ("consultation", "evaluation", "expectations", "administration",
                       "monitoring")],
        (reverse("rems_record", args=[session.pk]),
         f"REMS monitoring record, session {session.pk}"),
    ]


def test_each_record_page_and_export_writes_one_access_row(nurse, esketamine_session):
    client = Client(REMOTE_ADDR=IP)
    client.force_login(nurse)
    for url, what in pages(esketamine_session):
        before = PatientAccess.objects.count()
        response = client.get(url)
        assert response.status_code == 200, url
        assert PatientAccess.objects.count() == before + 1, url
        row = PatientAccess.objects.order_by("-id").first()
        assert (row.user, row.patient, row.ip_address, row.what, row.path) == (
            nurse, esketamine_session.patient, IP, what, url)


def test_refused_and_anonymous_requests_log_nothing(esketamine_session):
    desk = Client(REMOTE_ADDR=IP)
    desk.force_login(UserFactory(username="desk-log", role="Front desk"))
    anonymous = Client(REMOTE_ADDR=IP)
    for url, _ in pages(esketamine_session):
        assert desk.get(url).status_code == 403, url
        assert anonymous.get(url).status_code == 302, url
    assert not PatientAccess.objects.exists()


def test_a_refused_step_post_logs_nothing(nurse, esketamine_session):
    """Only pages that show the record are logged; a POST is a write, audited by history."""
    client = Client(REMOTE_ADDR=IP)
    client.force_login(nurse)
    url = reverse("session_step", args=[esketamine_session.pk, "evaluation"])
    assert client.post(url, {}).status_code == 409  # consultation first
    assert not PatientAccess.objects.exists()


def test_the_clinic_admin_reads_the_page_accesses_in_the_admin(nurse, esketamine_session):
    client = Client(REMOTE_ADDR=IP)
    client.force_login(nurse)
    client.get(reverse("patient_history", args=[esketamine_session.patient.pk]))
    boss = Client()
    boss.force_login(UserFactory(username="boss-log", role="Clinic admin"))
    page = boss.get(reverse("admin:audit_patientaccess_changelist")).content.decode()
    assert "patient history" in page and IP in page
