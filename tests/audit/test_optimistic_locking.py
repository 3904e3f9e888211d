"""Two staff editing the same patient or step: the second save is refused with who changed it
and when, and nothing of the stale form is written."""

import pytest
from django.test import Client
from django.urls import reverse

from sessions import services
from sessions.models import Consultation
from tests.admin_forms import form_data, set_fields
from tests.factories import PatientFactory, UserFactory, consultation_data

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _errors(response) -> str:
    assert response.status_code == 200, "the stale save should be refused, not redirected"
    return response.content.decode()


def test_second_patient_edit_from_a_stale_page_is_refused_with_who_and_when():
    alice = UserFactory(username="alice", first_name="Alice", last_name="Avery", role="Nurse")
    bob = UserFactory(username="bob", role="Nurse")
    patient = PatientFactory(first_name="Dana", phone="+1 555 0100")
    url = reverse("admin:patients_patient_change", args=(patient.pk,))
    alice_client, bob_client = _client(alice), _client(bob)
    alice_data = form_data(alice_client.get(url))
    bob_data = form_data(bob_client.get(url))

    alice_data["phone"] = "+1 555 0111"
    assert alice_client.post(url, alice_data).status_code == 302
    bob_data["first_name"] = "Bobbed"
    page = _errors(bob_client.post(url, bob_data))

    assert "changed by Alice Avery at" in page
    assert "Open the page again to see the change" in page
    patient.refresh_from_db()
    assert (patient.first_name, patient.phone) == ("Dana", "+1 555 0111")


def test_reloaded_page_saves_normally():
    nurse = UserFactory(username="n1", role="Nurse")
    patient = PatientFactory()
    url = reverse("admin:patients_patient_change", args=(patient.pk,))
    client = _client(nurse)
    for phone in ("+1 555 0001", "+1 555 0002"):
        data = form_data(client.get(url))
        data["phone"] = phone
        assert client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "+1 555 0002" and patient.version == 3  # created, then two saves


def test_second_edit_of_the_same_step_from_a_stale_page_is_refused(session):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Avery", role="Nurse")
    bob = UserFactory(username="bob", role="Nurse")
    services.consultation_record(session=session, recorded_by=alice, **consultation_data())
    url = reverse("admin:treatment_sessions_treatmentsession_change", args=(session.pk,))
    alice_client, bob_client = _client(alice), _client(bob)
    alice_data = form_data(alice_client.get(url))
    bob_data = form_data(bob_client.get(url))

    set_fields(alice_data, "consultation-0", current_symptoms="Alice's note")
    assert alice_client.post(url, alice_data).status_code == 302
    set_fields(bob_data, "consultation-0", current_symptoms="Bob's note")
    page = _errors(bob_client.post(url, bob_data))

    assert "changed by Alice Avery at" in page
    assert Consultation.objects.get(session=session).current_symptoms == "Alice's note"


def test_step_recorded_meanwhile_by_a_colleague_is_not_overwritten(session):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Avery", role="Nurse")
    bob = UserFactory(username="bob", role="Nurse")
    url = reverse("admin:treatment_sessions_treatmentsession_change", args=(session.pk,))
    alice_client, bob_client = _client(alice), _client(bob)
    alice_data = form_data(alice_client.get(url))
    bob_data = form_data(bob_client.get(url))

    set_fields(alice_data, "consultation-0", **consultation_data(current_symptoms="Alice's"))
    assert alice_client.post(url, alice_data).status_code == 302
    set_fields(bob_data, "consultation-0", **consultation_data(current_symptoms="Bob's"))
    page = _errors(bob_client.post(url, bob_data))

    assert "changed by Alice Avery at" in page
    assert Consultation.objects.get(session=session).current_symptoms == "Alice's"


def test_every_save_through_the_services_bumps_the_version(session, nurse):
    assert session.version == 1
    consultation = services.consultation_record(session=session, recorded_by=nurse,
                                                **consultation_data())
    assert consultation.version == 1
    services.consultation_record(session=session, recorded_by=nurse,
                                 **consultation_data(current_symptoms="Better"))
    consultation.refresh_from_db()
    session.refresh_from_db()
    assert consultation.version == 2
    assert session.version == 2  # started by the first step
