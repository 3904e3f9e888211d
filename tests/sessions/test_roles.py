"""Roles decide who may be chosen for a role in the record: only clinicians can be a session's or
a course's responsible clinician (serious-event alerts go to them), only nurses and clinicians
can be recorded as giving a dose. The services refuse, the admin offers only those allowed, and
`manage.py check --database default` lists the rows written before the rule."""

from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from sessions import services
from sessions.errors import WorkflowError
from sessions.models import Administration, TreatmentCourse, TreatmentSession
from tests.admin_forms import form_data
from tests.factories import (
    CourseFactory,
    PatientFactory,
    SessionFactory,
    UserFactory,
    administration_data,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db):
    return UserFactory(username="desk1", first_name="Front", last_name="Desk", role="Front desk")


@pytest.fixture
def casey(db):
    return UserFactory(username="casey", first_name="Casey", last_name="Morgan",
                       role="Clinician")


class _Options(HTMLParser):
    def __init__(self, name):
        super().__init__()
        self.name, self.inside, self.options = name, False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("name") == self.name
        elif tag == "option" and self.inside:
            self.options.append(["selected" in attrs, ""])

    def handle_endtag(self, tag):
        if tag == "select":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.options:
            self.options[-1][1] += data


def options(response, name: str) -> list[str]:
    """The labels of the select `name` as the page shows them."""
    parser = _Options(name)
    parser.feed(response.content.decode())
    assert parser.options, f"no select named {name} on the page"
    return [label.strip() for _, label in parser.options]


def selected(response, name: str) -> list[str]:
    parser = _Options(name)
    parser.feed(response.content.decode())
    return [label.strip() for chosen, label in parser.options if chosen]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


# --- the services refuse ---------------------------------------------------------------------

def test_front_desk_cannot_be_scheduled_as_the_responsible_clinician(desk, clinician):
    course = CourseFactory(responsible_clinician=clinician)
    with pytest.raises(WorkflowError) as refused:
        services.session_schedule(patient=course.patient, course=course, clinician=desk,
                                  scheduled_at=timezone.now())
    assert refused.value.message_dict == {
        "clinician": ["Front Desk (desk1) cannot be the responsible clinician: only clinicians "
                      "can."]}
    assert not TreatmentSession.objects.filter(course=course).exists()


@pytest.mark.parametrize("role", ["Nurse", "Clinic admin", None])
def test_only_a_clinician_can_be_the_responsible_clinician(clinician, role):
    someone = UserFactory(username="someone", role=role)
    course = CourseFactory(responsible_clinician=clinician)
    with pytest.raises(WorkflowError, match=r"\(someone\) cannot be the responsible clinician"):
        services.session_schedule(patient=course.patient, course=course, clinician=someone,
                                  scheduled_at=timezone.now())
    session = services.session_schedule(patient=course.patient, course=course,
                                        clinician=clinician, scheduled_at=timezone.now())
    assert session.clinician == clinician


def test_a_superuser_is_not_a_clinician_unless_given_the_clinician_role(superuser, clinician):
    course = CourseFactory(responsible_clinician=clinician)
    with pytest.raises(WorkflowError, match=r"\(root\) cannot be the responsible clinician"):
        services.session_schedule(patient=course.patient, course=course, clinician=superuser,
                                  scheduled_at=timezone.now())
    superuser.groups.add(clinician.groups.get())
    session = services.session_schedule(patient=course.patient, course=course,
                                        clinician=superuser, scheduled_at=timezone.now())
    assert session.clinician == superuser


def test_the_clinician_permission_given_directly_counts_and_a_deactivated_account_does_not(
        clinician):
    direct = UserFactory(username="locum")
    direct.user_permissions.add(Permission.objects.get(codename="sign_off_sideeffectobservation"))
    course = CourseFactory(responsible_clinician=clinician)
    assert services.session_schedule(patient=course.patient, course=course, clinician=direct,
                                     scheduled_at=timezone.now()).clinician == direct
    clinician.is_active = False
    clinician.save()
    with pytest.raises(WorkflowError, match=r"\(clinician1\) cannot be the responsible clinician"):
        services.session_schedule(patient=course.patient, course=course, clinician=clinician,
                                  scheduled_at=timezone.now())


def test_changing_the_session_clinician_to_front_desk_is_refused_and_changes_nothing(
        session, desk, casey, clinician):
    with pytest.raises(WorkflowError, match="Front Desk \\(desk1\\) cannot be the responsible"):
        services.session_clinician_change(session=session, clinician=desk)
    session.refresh_from_db()
    assert session.clinician == clinician
    services.session_clinician_change(session=session, clinician=casey)
    session.refresh_from_db()
    assert session.clinician == casey


def test_front_desk_cannot_be_recorded_as_giving_the_dose(session, advance, nurse, desk):
    advance(session, through="expectations")
    with pytest.raises(WorkflowError) as refused:
        services.administration_record(session=session, recorded_by=nurse,
                                       administered_by=desk, **administration_data())
    assert refused.value.message_dict == {
        "administered_by": ["Front Desk (desk1) cannot be recorded as giving the dose: only "
                            "nurses and clinicians can."]}
    assert not Administration.objects.filter(session=session).exists()


@pytest.mark.parametrize("giver", ["nurse", "clinician"])
def test_a_nurse_or_a_clinician_can_be_recorded_as_giving_the_dose(session, advance, nurse,
                                                                   request, giver):
    advance(session, through="expectations")
    person = request.getfixturevalue(giver)
    administration = services.administration_record(
        session=session, recorded_by=nurse, administered_by=person, **administration_data())
    assert administration.administered_by == person


def test_a_course_is_created_only_with_a_clinician_responsible(desk, clinician):
    patient = PatientFactory()
    details = dict(patient=patient, indication="trd", drug="ketamine", planned_sessions=6,
                   started_on=timezone.localdate())
    with pytest.raises(WorkflowError) as refused:
        services.course_create(responsible_clinician=desk, **details)
    assert refused.value.message_dict == {
        "responsible_clinician": ["Front Desk (desk1) cannot be the responsible clinician: "
                                  "only clinicians can."]}
    assert not TreatmentCourse.objects.filter(patient=patient).exists()
    course = services.course_create(responsible_clinician=clinician, **details)
    assert course.responsible_clinician == clinician


def test_a_course_cannot_be_handed_to_a_nurse_but_an_old_one_stays_editable(nurse, desk,
                                                                            casey):
    course = CourseFactory(responsible_clinician=casey)
    with pytest.raises(WorkflowError, match=r"\(nurse1\) cannot be the responsible clinician"):
        services.course_update(course=course, responsible_clinician=nurse)
    course.refresh_from_db()
    assert course.responsible_clinician == casey
    # Chosen before the rule: the course's other details can still be corrected.
    legacy = CourseFactory(responsible_clinician=desk)
    services.course_update(course=legacy, planned_sessions=8, responsible_clinician=desk)
    legacy.refresh_from_db()
    assert legacy.planned_sessions == 8


# --- the admin offers only those allowed -----------------------------------------------------

def test_the_session_clinician_list_offers_clinicians_only(client, nurse, desk, casey,
                                                           clinician):
    client.force_login(nurse)
    add = client.get(admin_url(TreatmentSession, "add"))
    offered = options(add, "clinician")
    assert "Casey Morgan (casey)" in offered
    assert "Front Desk (desk1)" not in offered
    assert not [label for label in offered if "nurse1" in label]

    session = SessionFactory(course__responsible_clinician=clinician)
    change = client.get(admin_url(TreatmentSession, "change", session.pk))
    assert "Front Desk (desk1)" not in options(change, "clinician")
    assert "Casey Morgan (casey)" in options(change, "clinician")
    assert selected(change, "clinician") == [f"Sam {clinician.last_name} (clinician1)"]


def test_a_session_handed_to_front_desk_in_the_admin_is_refused(client, nurse, desk, casey,
                                                                session, clinician):
    client.force_login(nurse)
    url = admin_url(TreatmentSession, "change", session.pk)
    data = form_data(client.get(url))
    data["clinician"] = str(desk.pk)  # what a hand-edited page would send
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    session.refresh_from_db()
    assert session.clinician == clinician

    data["clinician"] = str(casey.pk)
    assert client.post(url, data).status_code == 302
    session.refresh_from_db()
    assert session.clinician == casey


def test_the_administered_by_list_offers_nurses_and_clinicians_only(client, nurse, desk,
                                                                    session, advance,
                                                                    clinician):
    advance(session, through="expectations")
    client.force_login(nurse)
    page = client.get(admin_url(TreatmentSession, "change", session.pk))
    offered = options(page, "administration-0-administered_by")
    assert "Front Desk (desk1)" not in offered
    assert [label for label in offered if "nurse1" in label]
    assert [label for label in offered if "clinician1" in label]


def test_the_course_responsible_clinician_list_offers_clinicians_and_saves_through_the_service(
        client, clinician, desk, casey):
    client.force_login(clinician)
    add = client.get(admin_url(TreatmentCourse, "add"))
    offered = options(add, "responsible_clinician")
    assert "Casey Morgan (casey)" in offered
    assert "Front Desk (desk1)" not in offered

    patient = PatientFactory()
    data = {"patient": patient.pk, "indication": "trd", "drug": "ketamine",
            "planned_sessions": 6, "responsible_clinician": casey.pk,
            "started_on": timezone.localdate().isoformat(), "notes": ""}
    response = client.post(admin_url(TreatmentCourse, "add"), data)
    assert response.status_code == 302, response.content.decode()
    course = TreatmentCourse.objects.get(patient=patient)
    assert course.responsible_clinician == casey
    assert course.history.first().history_user == clinician  # audited as before

    data["responsible_clinician"] = desk.pk
    response = client.post(admin_url(TreatmentCourse, "change", course.pk), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    course.refresh_from_db()
    assert course.responsible_clinician == casey


def test_a_session_chosen_before_the_rule_still_saves_as_rendered(client, nurse, desk, casey):
    session = SessionFactory(clinician=desk, course__responsible_clinician=casey)
    client.force_login(nurse)
    url = admin_url(TreatmentSession, "change", session.pk)
    page = client.get(url)
    assert selected(page, "clinician") == ["Front Desk (desk1)"]  # shown as it is on record
    response = client.post(url, form_data(page))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.clinician == desk


# --- the data check lists rows written before the rule ---------------------------------------

def database_check() -> str:
    """What `manage.py check --database default` prints."""
    out, err = StringIO(), StringIO()
    call_command("check", databases=["default"], stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_the_data_check_lists_sessions_courses_and_doses_given_to_the_wrong_role(
        desk, casey, session, advance, nurse):
    legacy_sessions = [SessionFactory(clinician=desk, course__responsible_clinician=casey)
                       for _ in range(6)]
    legacy_course = CourseFactory(responsible_clinician=desk)
    advance(session, through="administration")
    Administration.objects.filter(session=session).update(administered_by=desk)

    output = database_check()
    ids = ", ".join(str(s.pk) for s in legacy_sessions[:5])
    assert ("(clinic.W010) 6 treatment session(s) name a responsible clinician who is not a "
            f"clinician (Front Desk (desk1)): id {ids} and 1 more.") in output
    assert ("(clinic.W011) 1 treatment course(s) name a responsible clinician who is not a "
            f"clinician (Front Desk (desk1)): id {legacy_course.pk}.") in output
    assert ("(clinic.W012) 1 administration(s) record the dose as given by someone who is not "
            f"a nurse or clinician (Front Desk (desk1)): id {session.administration.pk}.") in output
    assert "HINT: Choose a clinician for each in the admin" in output


def test_the_data_check_is_quiet_when_roles_fit_and_ignores_staff_who_have_left(
        session, advance, nurse):
    advance(session, through="administration")
    nurse.is_active = False  # left the clinic: the doses she gave stay hers
    nurse.save()
    output = database_check()
    assert "clinic.W01" not in output


def test_the_data_check_runs_only_when_asked_for_the_database(desk):
    SessionFactory(clinician=desk)
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    assert "clinic.W010" not in out.getvalue() + err.getvalue()
    assert "clinic.W010" in database_check()
