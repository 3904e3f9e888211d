"""Recording a follow-up: a check done is a check with a time and a way the patient was reached,
and that time can be neither in the future nor before what the follow-up follows."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from sessions import services
from sessions.errors import WorkflowError
from sessions.models import FollowUp
from tests.factories import CourseFactory, PatientFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def started_session(db):
    """A session that began two hours ago."""
    started_at = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    return SessionFactory(scheduled_at=started_at, status="completed", started_at=started_at,
                          completed_at=started_at + timedelta(hours=2))


def session_follow_up(session) -> FollowUp:
    return FollowUp.objects.create(patient=session.patient, session=session,
                                   kind=FollowUp.Kind.POST_SESSION,
                                   due_on=timezone.localdate())


def course_follow_up(course) -> FollowUp:
    return FollowUp.objects.create(patient=course.patient, course=course,
                                   kind=FollowUp.Kind.COURSE_7_DAYS,
                                   due_on=course.started_on + timedelta(days=7))


def record(follow_up, user, **outcome):
    fields = dict(status=FollowUp.Status.DONE, contacted_at=timezone.now(), method="phone",
                  notes="Doing well.")
    fields.update(outcome)
    return services.follow_up_record(follow_up=follow_up, recorded_by=user, **fields)


def refusal(follow_up, user, **outcome) -> WorkflowError:
    with pytest.raises(WorkflowError) as refused:
        record(follow_up, user, **outcome)
    return refused.value


# --- done means reached, at a time, in a way ----------------------------------------------

def test_a_follow_up_done_records_when_how_and_who(started_session, nurse):
    follow_up = session_follow_up(started_session)
    contacted_at = timezone.now() - timedelta(minutes=30)

    record(follow_up, nurse, contacted_at=contacted_at, method="video", notes="No cravings.")

    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.contacted_at, follow_up.method, follow_up.notes,
            follow_up.recorded_by) == ("done", contacted_at, "video", "No cravings.", nurse)


def test_a_follow_up_marked_done_without_a_contact_time_is_refused(started_session, nurse):
    follow_up = session_follow_up(started_session)

    error = refusal(follow_up, nurse, contacted_at=None)

    assert error.field == "contacted_at"
    assert error.text == "A follow-up marked done needs the contact time."
    follow_up.refresh_from_db()
    assert follow_up.status == "due"


def test_a_follow_up_marked_done_without_a_method_is_refused(started_session, nurse):
    error = refusal(session_follow_up(started_session), nurse, method="")

    assert error.field == "method"
    assert error.text == "A follow-up marked done needs how the patient was contacted."


def test_a_follow_up_not_done_needs_neither_time_nor_method(started_session, nurse):
    follow_up = session_follow_up(started_session)

    record(follow_up, nurse, status=FollowUp.Status.MISSED, contacted_at=None, method="",
           notes="No answer twice.")

    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.contacted_at) == ("missed", None)


# --- the contact time and the clock -------------------------------------------------------

def test_a_contact_time_within_the_clock_skew_allowance_is_accepted(started_session, nurse,
                                                                    settings):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": 5}
    follow_up = session_follow_up(started_session)
    just_inside = timezone.now() + timedelta(minutes=5) - timedelta(seconds=2)

    record(follow_up, nurse, contacted_at=just_inside)

    follow_up.refresh_from_db()
    assert follow_up.contacted_at == just_inside


def test_a_contact_time_beyond_the_clock_skew_allowance_is_refused(started_session, nurse,
                                                                   settings):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": 5}
    follow_up = session_follow_up(started_session)
    just_beyond = timezone.now() + timedelta(minutes=5, seconds=2)

    error = refusal(follow_up, nurse, contacted_at=just_beyond)

    assert error.field == "contacted_at"
    assert error.text.startswith(
        f"The contact time ({timezone.localtime(just_beyond):%H:%M}) is in the future: it is ")
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.contacted_at) == ("due", None)


def test_the_clock_skew_allowance_is_clinic_policy(started_session, nurse, settings):
    settings.CLINIC_SAFETY = {"clock_skew_minutes": 0}
    follow_up = session_follow_up(started_session)

    error = refusal(follow_up, nurse, contacted_at=timezone.now() + timedelta(minutes=1))

    assert "is in the future" in error.text


# --- the contact time and what the follow-up follows --------------------------------------

def test_a_contact_at_the_moment_the_session_started_is_accepted(started_session, nurse):
    follow_up = session_follow_up(started_session)

    record(follow_up, nurse, contacted_at=started_session.started_at)

    follow_up.refresh_from_db()
    assert follow_up.contacted_at == started_session.started_at


def test_a_contact_before_the_session_started_is_refused(started_session, nurse):
    follow_up = session_follow_up(started_session)

    error = refusal(follow_up, nurse,
                    contacted_at=started_session.started_at - timedelta(seconds=1))

    assert error.field == "contacted_at"
    started = timezone.localtime(started_session.started_at)
    assert error.text == (
        f"The contact time ({started - timedelta(minutes=1):%H:%M}) is before this session "
        f"started ({started:%H:%M}). Check the date and time.")


def test_a_session_that_never_started_is_followed_up_from_its_booked_time(nurse):
    booked = timezone.now().replace(second=0, microsecond=0) - timedelta(days=1)
    follow_up = session_follow_up(SessionFactory(scheduled_at=booked, status="no_show"))

    assert "is before this session started" in refusal(
        follow_up, nurse, contacted_at=booked - timedelta(seconds=1)).text
    record(follow_up, nurse, contacted_at=booked)


def test_a_contact_on_the_day_the_course_started_is_accepted_and_the_day_before_refused(
        nurse):
    course = CourseFactory(started_on=timezone.localdate() - timedelta(days=10))
    follow_up = course_follow_up(course)
    start_of_course = timezone.make_aware(datetime.combine(course.started_on, time.min))

    error = refusal(follow_up, nurse, contacted_at=start_of_course - timedelta(seconds=1))

    assert error.field == "contacted_at"
    assert error.text == ("The contact time cannot be before the course it follows started "
                          f"({course.started_on:%Y-%m-%d}).")
    record(follow_up, nurse, contacted_at=start_of_course)
    follow_up.refresh_from_db()
    assert follow_up.status == "done"


# --- adding a follow-up by hand -----------------------------------------------------------

def test_staff_add_a_follow_up_for_a_patient_s_session(started_session, nurse):
    follow_up = services.follow_up_create(
        patient=started_session.patient, session=started_session, kind=FollowUp.Kind.AD_HOC,
        due_on=timezone.localdate(), recorded_by=nurse)

    assert (follow_up.status, follow_up.session, follow_up.recorded_by) == (
        "due", started_session, nurse)


def test_a_follow_up_added_for_another_patient_s_session_or_course_is_refused(
        started_session, nurse):
    other = PatientFactory()

    with pytest.raises(WorkflowError) as wrong_session:
        services.follow_up_create(patient=other, session=started_session, kind="ad_hoc",
                                  due_on=timezone.localdate(), recorded_by=nurse)
    with pytest.raises(WorkflowError) as wrong_course:
        services.follow_up_create(patient=other, course=started_session.course, kind="ad_hoc",
                                  due_on=timezone.localdate(), recorded_by=nurse)

    assert (wrong_session.value.field, wrong_session.value.text) == (
        "session", "That session belongs to another patient.")
    assert (wrong_course.value.field, wrong_course.value.text) == (
        "course", "That course belongs to another patient.")
    assert not FollowUp.objects.filter(patient=other).exists()


def test_a_follow_up_added_as_done_is_held_to_the_same_contact_rules(started_session, nurse):
    with pytest.raises(WorkflowError, match="is in the future"):
        services.follow_up_create(
            patient=started_session.patient, session=started_session, kind="ad_hoc",
            due_on=timezone.localdate(), recorded_by=nurse, status="done", method="phone",
            contacted_at=timezone.now() + timedelta(hours=1))
    assert not FollowUp.objects.exists()
