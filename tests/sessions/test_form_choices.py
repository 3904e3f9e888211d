"""The forms offer only choices a user may make: a decision is cleared or held (no blank
option), the override reason is shown only to those who may override, and the session form's
Course field lists the chosen patient's active courses, labelled with the patient."""

import re
from datetime import date

import pytest
from django.urls import reverse

from sessions.models import TreatmentCourse, TreatmentSession
from tests.factories import CourseFactory, PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db


def radio_values(html: str, name: str) -> list[str]:
    radios = [tag for tag in re.findall(r"<input[^>]*>", html)
              if 'type="radio"' in tag and f'name="{name}"' in tag]
    assert radios, f"no radio buttons named {name}"
    return [re.search(r'value="([^"]*)"', tag).group(1) for tag in radios]


def session_change_page(client, session):
    return client.get(reverse("admin:treatment_sessions_treatmentsession_change",
                              args=[session.pk])).content.decode()


def test_admin_evaluation_offers_cleared_or_held_and_no_blank_decision(
        client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    html = session_change_page(client, session)
    assert radio_values(html, "evaluation-0-decision") == ["cleared", "held"]


def test_evaluation_page_offers_cleared_or_held_and_no_blank_decision(
        client, nurse, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    html = client.get(reverse("session_step", args=[session.pk, "evaluation"])).content.decode()
    assert radio_values(html, "decision") == ["cleared", "held"]


def test_admin_override_reason_is_shown_only_to_those_who_may_override(
        client, nurse, clinician, session, advance):
    advance(session, through="consultation")
    client.force_login(nurse)
    assert "evaluation-0-override_reason" not in session_change_page(client, session)
    client.force_login(clinician)  # holds the override permission
    assert 'name="evaluation-0-override_reason"' in session_change_page(client, session)


# --- the Course field of a new session ----------------------------------------------------

def test_a_course_is_labelled_with_its_patient():
    course = CourseFactory(patient=PatientFactory(last_name="Quill", first_name="Ada"),
                           drug="ketamine", indication="trd", started_on=date(2026, 1, 5))
    assert str(course) == ("Quill, Ada — Racemic ketamine for Treatment-resistant depression, "
                           "from 2026-01-05")


@pytest.fixture
def two_patients(clinician):
    ada = PatientFactory(last_name="Quill", first_name="Ada")
    ben = PatientFactory(last_name="Rook", first_name="Ben")
    return {
        "ada": ada,
        "ada_active": CourseFactory(patient=ada, responsible_clinician=clinician),
        "ada_completed": CourseFactory(patient=ada, responsible_clinician=clinician,
                                       status=TreatmentCourse.Status.COMPLETED),
        "ben_active": CourseFactory(patient=ben, responsible_clinician=clinician),
    }


def course_options(html: str) -> list[str]:
    select = html.split('name="course"', 1)[1].split("</select>", 1)[0]
    return [int(pk) for pk in re.findall(r'<option value="(\d+)"', select)]


def test_schedule_a_session_from_the_patient_page_lists_only_their_active_courses(
        client, nurse, two_patients):
    client.force_login(nurse)
    patient_page = client.get(reverse("admin:patients_patient_change",
                                      args=[two_patients["ada"].pk])).content.decode()
    link = re.search(r'<a href="([^"]+)" id="schedule-session">Schedule a session</a>',
                     patient_page)
    assert link, "no 'Schedule a session' link on the patient's page"
    add_url = link.group(1).replace("&amp;", "&")
    assert add_url == (reverse("admin:treatment_sessions_treatmentsession_add")
                       + f"?patient={two_patients['ada'].pk}")

    add_page = client.get(add_url).content.decode()
    assert course_options(add_page) == [two_patients["ada_active"].pk]
    assert str(two_patients["ada_active"]) in add_page
    assert f'value="{two_patients["ada_active"].pk}" selected' in add_page  # the only one


def test_schedule_form_from_the_patient_page_refuses_another_patients_course(
        client, nurse, clinician, two_patients):
    client.force_login(nurse)
    add_url = (reverse("admin:treatment_sessions_treatmentsession_add")
               + f"?patient={two_patients['ada'].pk}")
    response = client.post(add_url, {
        "patient": two_patients["ada"].pk, "course": two_patients["ben_active"].pk,
        "clinician": clinician.pk, "scheduled_at_0": "2030-01-07", "scheduled_at_1": "09:00:00"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not TreatmentSession.objects.exists()


def autocomplete(client, **params) -> list[str]:
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "treatment_sessions", "model_name": "treatmentsession",
        "field_name": "course", "term": "", **params})
    assert response.status_code == 200
    return [row["text"] for row in response.json()["results"]]


def test_course_autocomplete_lists_active_courses_of_the_patient_chosen_on_the_page(
        client, nurse, two_patients):
    client.force_login(nurse)
    ada_active, ben_active = two_patients["ada_active"], two_patients["ben_active"]
    assert autocomplete(client, patient=two_patients["ada"].pk) == [str(ada_active)]
    # No patient chosen yet: every active course, each named by its patient.
    assert sorted(autocomplete(client)) == sorted([str(ada_active), str(ben_active)])


def test_session_admin_loads_the_script_that_sends_the_patient_to_the_autocomplete(
        client, nurse, two_patients):
    client.force_login(nurse)
    html = client.get(reverse("admin:treatment_sessions_treatmentsession_add")).content.decode()
    assert "js/admin-session-course.js" in html
    # after django.jQuery exists: before it, the script failed and the filter never applied
    assert html.index("admin/js/jquery.init.js") < html.index("js/admin-session-course.js")
    assert 'data-field-name="course"' in html  # the autocomplete the script extends


def test_existing_session_page_still_shows_its_course_by_name(client, nurse, two_patients):
    session = SessionFactory(course=two_patients["ada_active"])
    client.force_login(nurse)
    assert str(two_patients["ada_active"]) in session_change_page(client, session)
