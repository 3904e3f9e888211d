"""Follow-ups in the admin save through the follow-up services: a refused outcome is an error on
its field and nothing is written."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.models import FollowUp
from tests.admin_forms import form_data, set_datetime
from tests.factories import PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:treatment_sessions_followup_add")


def change_url(follow_up):
    return reverse("admin:treatment_sessions_followup_change", args=[follow_up.pk])


@pytest.fixture
def follow_up(db):
    started_at = timezone.now().replace(microsecond=0) - timedelta(days=1)
    session = SessionFactory(scheduled_at=started_at, status="completed", started_at=started_at,
                             completed_at=started_at + timedelta(hours=3))
    return FollowUp.objects.create(patient=session.patient, session=session,
                                   kind=FollowUp.Kind.POST_SESSION, due_on=timezone.localdate())


def snapshot(follow_up) -> tuple:
    follow_up.refresh_from_db()
    return (follow_up.status, follow_up.contacted_at, follow_up.method, follow_up.notes,
            follow_up.recorded_by_id, follow_up.history.count())


def test_nurse_records_a_follow_up_done_in_the_admin(client, nurse, follow_up):
    client.force_login(nurse)
    data = form_data(client.get(change_url(follow_up)))
    contacted_at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    data.update(status="done", method="phone", notes="Sleeping well, no cravings.")
    set_datetime(data, "contacted_at", contacted_at)

    response = client.post(change_url(follow_up), data)

    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.contacted_at, follow_up.method,
            follow_up.recorded_by) == ("done", contacted_at, "phone", nurse)


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"status": "done", "method": "phone"}, "contacted_at",
     "A follow-up marked done needs the contact time."),
    ({"status": "done", "contacted_at": timedelta(hours=-1)}, "method",
     "A follow-up marked done needs how the patient was contacted."),
    ({"status": "done", "method": "phone", "contacted_at": timedelta(hours=2)}, "contacted_at",
     "is in the future: it is"),
    ({"status": "done", "method": "phone", "contacted_at": timedelta(days=-2)}, "contacted_at",
     "is before this session started"),
], ids=["done-without-time", "done-without-method", "contact-in-future",
        "contact-before-session"])
def test_a_refused_follow_up_save_shows_why_on_the_field_and_changes_nothing(
        client, nurse, follow_up, change, field, message):
    client.force_login(nurse)
    before = snapshot(follow_up)
    data = form_data(client.get(change_url(follow_up)))
    for name, value in change.items():
        if isinstance(value, timedelta):
            set_datetime(data, name, timezone.now() + value)
        else:
            data[name] = value

    response = client.post(change_url(follow_up), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field, [])), errors
    assert response.content.decode().count(message) == 1  # on its field, once
    assert snapshot(follow_up) == before


def test_what_a_follow_up_follows_is_read_only_once_it_exists(client, nurse, follow_up):
    client.force_login(nurse)
    page = client.get(change_url(follow_up)).content.decode()

    for name in ("patient", "session", "course", "kind", "due_on", "is_archived"):
        assert f'name="{name}"' not in page, name
    for name in ("status", "contacted_at_0", "method", "notes"):
        assert f'name="{name}"' in page, name


def test_nurse_adds_a_follow_up_in_the_admin(client, nurse, follow_up):
    client.force_login(nurse)
    data = form_data(client.get(ADD_URL))
    data.update(patient=follow_up.patient.pk, session=follow_up.session.pk, kind="ad_hoc",
                due_on=f"{timezone.localdate() + timedelta(days=7):%Y-%m-%d}", status="due")

    response = client.post(ADD_URL, data)

    assert response.status_code == 302
    added = FollowUp.objects.get(kind="ad_hoc")
    assert (added.patient, added.session, added.recorded_by) == (
        follow_up.patient, follow_up.session, nurse)


def test_a_follow_up_added_for_another_patient_s_session_is_a_form_error(
        client, nurse, follow_up):
    client.force_login(nurse)
    other = PatientFactory()
    data = form_data(client.get(ADD_URL))
    data.update(patient=other.pk, session=follow_up.session.pk, kind="ad_hoc",
                due_on=f"{timezone.localdate():%Y-%m-%d}", status="due")

    response = client.post(ADD_URL, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["session"] == [
        "That session belongs to another patient."]
    assert not FollowUp.objects.filter(patient=other).exists()
