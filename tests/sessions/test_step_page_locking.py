"""Two staff recording the same step of a session on the clinician pages: the second save,
from a page opened before the first was recorded, is refused with who recorded it and when,
and nothing of it is written."""

import pytest
from django.test import Client
from django.urls import reverse

from sessions.models import Consultation, Evaluation
from tests.admin_forms import page_form_data
from tests.factories import UserFactory, consultation_data, evaluation_data

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_form(client, url) -> dict:
    """The step form as the page rendered it (hidden version included), as a browser posts."""
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="version"' in page.content.decode()
    return page_form_data(page, "step-form")


def test_second_nurse_recording_the_same_step_from_an_open_page_is_refused(session):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Avery", role="Nurse")
    bob = UserFactory(username="bob", role="Nurse")
    url = reverse("session_step", args=[session.pk, "consultation"])
    alice_client, bob_client = _client(alice), _client(bob)
    alice_data = page_form(alice_client, url)
    bob_data = page_form(bob_client, url)  # both opened the page before either saved

    alice_data.update(consultation_data(current_symptoms="Alice's note"))
    assert alice_client.post(url, {**alice_data, "save": "1"}).status_code == 302
    bob_data.update(consultation_data(current_symptoms="Bob's note"))
    refused = bob_client.post(url, {**bob_data, "save": "1"})

    assert refused.status_code == 409
    page = refused.content.decode()
    assert "changed by Alice Avery at" in page and "Open the page again to see the change" in page
    consultation = Consultation.objects.get(session=session)
    assert (consultation.current_symptoms, consultation.recorded_by, consultation.version) == (
        "Alice's note", alice, 1)


def test_a_stale_step_form_is_refused_by_the_form_itself(session, nurse, clinician, advance):
    """The form's own check (what guards a save racing the page's check): a new evaluation
    for a session that has one meanwhile is refused with who recorded it."""
    from sessions.forms import EvaluationForm

    advance(session, through="evaluation")
    data = {key: value for key, value in evaluation_data().items()}
    data.update(decision="cleared", version="0")
    form = EvaluationForm(data, instance=Evaluation(session=session), can_override=True)
    assert not form.is_valid()
    assert "after you opened it" in " ".join(form.non_field_errors())
    assert Evaluation.objects.get(session=session).version == 1


def test_a_fresh_page_records_the_step(session, nurse):
    client = _client(nurse)
    url = reverse("session_step", args=[session.pk, "consultation"])
    data = page_form(client, url)
    data.update(consultation_data(current_symptoms="Fine today"))
    assert client.post(url, {**data, "save": "1"}).status_code == 302
    assert Consultation.objects.get(session=session).current_symptoms == "Fine today"
