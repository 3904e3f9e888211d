"""What a nurse does on the admin session page, as Playwright steps: fill the fields the page
shows, click its buttons, read what it says. Shared by the admin journeys."""

from datetime import datetime

from django.urls import reverse
from django.utils import timezone


def session_admin_url(live_server, session) -> str:
    return live_server.url + reverse("admin:treatment_sessions_treatmentsession_change",
                                     args=[session.pk])


def fill_split_datetime(page, field_id: str, moment: datetime) -> None:
    """The admin's date and time boxes, in the clinic's time zone as the page shows them."""
    local = timezone.localtime(moment)
    page.fill(f"#{field_id}_0", local.strftime("%Y-%m-%d"))
    page.fill(f"#{field_id}_1", local.strftime("%H:%M:%S"))


def save_and_continue(page) -> None:
    with page.expect_navigation():
        page.click("input[name=_continue]")


def saved_message(page) -> str:
    """The message at the top of the page after a save ("" when the page shows errors)."""
    page.locator("ul.messagelist, p.errornote").first.wait_for()
    messages = page.locator("ul.messagelist")
    return messages.inner_text() if messages.count() else ""


def page_errors(page) -> str:
    """Every error the page shows: the banner, form-wide and field errors."""
    return " ".join(page.locator(".errornote, ul.errorlist").all_inner_texts())


def pick_autocomplete(page, select_id: str, text: str) -> None:
    """Choose in an admin autocomplete box (select2): open it, type, click the match."""
    page.locator(f"#{select_id} + .select2 .select2-selection").click()
    page.fill(".select2-container--open .select2-search__field", text)
    page.click(f".select2-results__option:has-text('{text}')")
