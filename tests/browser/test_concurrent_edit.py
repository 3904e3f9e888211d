"""Two nurses, two browsers, one session: both open the admin session page while the medical
evaluation is still the step that can be changed. The first saves her change; the second,
whose page is now out of date, is refused with who changed it and when, and the first's data
stands. After reloading she sees that change, enters hers again, and it is saved."""

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from sessions.models import Evaluation
from tests.browser.admin_steps import (
    page_errors,
    save_and_continue,
    saved_message,
    session_admin_url,
)
from tests.browser.journeys import log_in
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

STALE = re.compile(r"This evaluation was changed by Nora Nurse at "
                   r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) after you opened it\. Open the page again "
                   r"to see the change \(the browser's reload would send your old page again\), "
                   r"then enter yours\.")


@pytest.fixture
def nurses(transactional_db):
    return (UserFactory(username="nurse1", role="Nurse", first_name="Nora", last_name="Nurse"),
            UserFactory(username="nurse2", role="Nurse", first_name="Bea", last_name="Second"))


@pytest.fixture
def two_pages(browser):
    """One page per nurse, each in its own browser context (own cookies: own login)."""
    contexts, pages = [], []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m, p=page: m.type == "error" and p.console_errors.append(m.text))
        page.on("pageerror", lambda e, p=page: p.console_errors.append(str(e)))
        contexts.append(context)
        pages.append(page)
    yield pages
    for page, context in zip(pages, contexts, strict=True):
        page.wait_for_load_state("networkidle")
        context.close()


def test_second_nurse_saving_a_step_changed_meanwhile_is_refused(two_pages, live_server, nurses,
                                                                 clinician, advance, artifacts):
    session = SessionFactory(course__responsible_clinician=clinician,
                             scheduled_at=timezone.now() - timedelta(hours=3))
    advance(session, through="evaluation")  # expectations not yet: the evaluation is editable
    first, second = two_pages
    url = session_admin_url(live_server, session)
    for page, nurse in zip(two_pages, nurses, strict=True):
        log_in(page, live_server, nurse)
        page.goto(url)
        assert page.input_value("#id_evaluation-0-systolic_mmhg") == "122"

    # The first nurse adds screening notes and saves.
    first.fill("#id_evaluation-0-screening_notes", "Interactions reviewed with the patient.")
    save_and_continue(first)
    assert "was changed successfully" in saved_message(first), page_errors(first)
    saved_at = timezone.now()

    # The second, on the page she opened before that save, corrects the systolic pressure.
    second.fill("#id_evaluation-0-systolic_mmhg", "130")
    save_and_continue(second)
    assert saved_message(second) == ""
    errors = page_errors(second)
    match = STALE.search(errors)
    assert match, errors
    shown_time = timezone.make_aware(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M"))
    assert timedelta(0) <= saved_at - shown_time < timedelta(minutes=2)  # local time, to the minute
    second.locator("#evaluation-group").screenshot(
        path=str(artifacts / "concurrent-edit-refused.png"))

    # The first nurse's values stand; the second's were not written over them.
    evaluation = Evaluation.objects.get(session=session)
    assert evaluation.screening_notes == "Interactions reviewed with the patient."
    assert evaluation.systolic_mmhg == 122
    assert evaluation.history.count() == 2  # recorded, then the first nurse's change

    # The second nurse opens the page again (the browser's reload of the refused page would
    # post the same out-of-date form once more): she sees the notes, enters her value, saves.
    second.goto(url)
    assert second.input_value("#id_evaluation-0-screening_notes") == (
        "Interactions reviewed with the patient.")
    assert second.input_value("#id_evaluation-0-systolic_mmhg") == "122"
    second.fill("#id_evaluation-0-systolic_mmhg", "130")
    save_and_continue(second)
    assert "was changed successfully" in saved_message(second), page_errors(second)
    assert second.input_value("#id_evaluation-0-systolic_mmhg") == "130"

    evaluation.refresh_from_db()
    assert evaluation.systolic_mmhg == 130
    assert evaluation.screening_notes == "Interactions reviewed with the patient."
    assert [h.history_user for h in evaluation.history.order_by("history_id")][1:] == list(nurses)
    assert first.console_errors == [] and second.console_errors == []
