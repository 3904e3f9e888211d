"""Scheduling a session in the admin, in a real browser: once a patient is chosen, the Course
search offers only that patient's active courses, each named by its patient."""

import pytest

from sessions.models import TreatmentCourse
from tests.browser.journeys import log_in
from tests.factories import CourseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def choose(page, field: str, typed: str, option: str) -> None:
    """Pick `option` in the admin's autocomplete (select2) of `field`, typing `typed`."""
    page.click(f"#id_{field} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", typed)
    page.click(f".select2-results__option:has-text('{option}')")


def test_course_search_offers_only_the_chosen_patients_active_courses(page, live_server,
                                                                     artifacts):
    nurse = UserFactory(username="nurse1", role="Nurse")
    ada = PatientFactory(last_name="Quill", first_name="Ada")
    active = CourseFactory(patient=ada)
    CourseFactory(patient=ada, status=TreatmentCourse.Status.COMPLETED)
    CourseFactory(patient=PatientFactory(last_name="Rook", first_name="Ben"))

    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/admin/treatment_sessions/treatmentsession/add/")
    choose(page, "patient", "Quill", "Quill, Ada")
    page.click("#id_course + .select2 .select2-selection")
    page.wait_for_selector(".select2-results__option:not(.loading-results)")
    offered = page.locator(".select2-results__option").all_inner_texts()
    page.screenshot(path=str(artifacts / "admin-schedule-course-search.png"))
    assert offered == [str(active)]
    assert page.console_errors == []
