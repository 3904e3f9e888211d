"""The public opt-out page: a GET changes nothing (link scanners prefetch), a POST or an RFC 8058
one-click POST opts out exactly that patient, a bad link is a clear 400."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions import services
from sessions.models import Reminder
from sessions.reminder_emails import opt_out_token
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patients(clinician):
    result = []
    for _ in range(2):
        patient = PatientFactory()
        course = CourseFactory(patient=patient, responsible_clinician=clinician)
        services.session_schedule(patient=patient, course=course, clinician=clinician,
                                  scheduled_at=timezone.now() + timedelta(days=3))
        result.append(patient)
    return result


def url(patient):
    return f"/reminders/opt-out/{opt_out_token(patient)}/"


def test_get_shows_a_confirm_button_and_changes_nothing(client, patients):
    response = client.get(url(patients[0]))
    assert response.status_code == 200
    assert b"Stop reminder emails" in response.content
    patients[0].refresh_from_db()
    assert patients[0].reminders_opt_in is True
    assert Reminder.objects.filter(status="pending").count() == 2


def test_post_opts_out_only_that_patient_without_login(patients):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # no CSRF token: as from an email link
    response = client.post(url(patients[0]))
    assert response.status_code == 200
    assert b"no more reminder emails" in response.content
    patients[0].refresh_from_db()
    patients[1].refresh_from_db()
    assert (patients[0].reminders_opt_in, patients[1].reminders_opt_in) == (False, True)
    assert Reminder.objects.get(patient=patients[0]).status == "cancelled"
    assert Reminder.objects.get(patient=patients[1]).status == "pending"


def test_rfc8058_one_click_post_opts_out(client, patients):
    response = client.post(url(patients[0]), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    patients[0].refresh_from_db()
    assert patients[0].reminders_opt_in is False


def test_opting_out_twice_is_harmless(client, patients):
    client.post(url(patients[0]))
    response = client.post(url(patients[0]))
    assert response.status_code == 200
    assert b"already" in client.get(url(patients[0])).content


@pytest.mark.parametrize("token", ["nonsense", "MQ:1xV1CY:forged-signature-value"])
def test_a_tampered_link_is_refused_with_a_clear_message(client, patients, token):
    response = client.post(f"/reminders/opt-out/{token}/")
    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    assert all(p.reminders_opt_in for p in type(patients[0]).objects.all())


def test_the_page_reveals_no_treatment(client, patients):
    content = client.get(url(patients[0])).content.decode().lower()
    for word in ("ketamine", "treatment", "clinic", "depression"):
        assert word not in content
