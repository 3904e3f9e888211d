"""Journey (e): a nurse in the admin cannot choose the front desk as a session's responsible
clinician — the Clinician list offers clinicians only — and hands the session to another
clinician through the same page."""

import pytest

from sessions.models import TreatmentSession
from tests.browser.journeys import log_in
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_front_desk_cannot_be_chosen_as_the_sessions_clinician(page, live_server, artifacts):
    casey = UserFactory(username="clinician1", first_name="Casey", last_name="Morgan",
                        role="Clinician")
    UserFactory(username="clinician2", first_name="Robin", last_name="Hale", role="Clinician")
    UserFactory(username="frontdesk1", first_name="Frankie", last_name="Lee", role="Front desk")
    nurse = UserFactory(username="nurse1", first_name="Noor", last_name="Ahmed", role="Nurse")
    session = SessionFactory(course__responsible_clinician=casey,
                             course__patient__first_name="Ada",
                             course__patient__last_name="Quill")

    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    log_in(page, live_server, nurse)
    page.goto(f"{live_server.url}/admin/")
    page.click("a[href$='/admin/treatment_sessions/treatmentsession/']")
    page.click(f"a[href$='/treatmentsession/{session.pk}/change/']")

    page.wait_for_url(f"**/treatmentsession/{session.pk}/change/")
    clinician_list = page.locator("#id_clinician")
    clinician_list.wait_for()
    offered = clinician_list.locator("option").all_inner_texts()
    assert "Casey Morgan (clinician1)" in offered
    assert "Robin Hale (clinician2)" in offered
    assert not [label for label in offered if "Frankie" in label or "frontdesk1" in label]
    assert not [label for label in offered if "Noor" in label or "nurse1" in label]
    assert clinician_list.locator("option:checked").inner_text() == "Casey Morgan (clinician1)"

    # A closed <select> shows one option in a screenshot: open it as a list for the artifact.
    clinician_list.evaluate("select => { select.size = select.options.length;"
                            " select.style.height = 'auto'; }")
    page.screenshot(path=str(artifacts / "roles-in-admin-clinician-list.png"))
    clinician_list.evaluate("select => { select.size = 0; select.style.height = ''; }")

    clinician_list.select_option(label="Robin Hale (clinician2)")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    assert (page.locator("#id_clinician option:checked").inner_text()
            == "Robin Hale (clinician2)")
    assert TreatmentSession.objects.get(pk=session.pk).clinician.username == "clinician2"
    # The admin's missing /favicon.ico (a 404 in the console) is fixed separately (issue 13).
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
