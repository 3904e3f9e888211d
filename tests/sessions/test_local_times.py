"""Staff read times in the clinic's zone wherever the admin shows one — the page title, the
breadcrumb, the heading and the message after a save — never the UTC the database stores."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.models import VitalSign
from tests.admin_forms import form_data
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def clinic_in_new_york(settings):
    settings.TIME_ZONE = "America/New_York"


def _early_morning_utc(days_ahead: int) -> datetime:
    """03:30 UTC: the evening before in New York (22:30 or 23:30), another hour and day."""
    day = (timezone.now() + timedelta(days=days_ahead)).date()
    return datetime(day.year, day.month, day.day, 3, 30, tzinfo=UTC)


def test_admin_session_page_title_breadcrumb_and_save_message_give_the_local_time(
        client, nurse, clinic_in_new_york):
    scheduled_at = _early_morning_utc(days_ahead=10)
    session = SessionFactory(scheduled_at=scheduled_at)
    local = scheduled_at.astimezone(NEW_YORK)
    assert local.date() != scheduled_at.date()
    local_label = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"  # e.g. 2026-12-11 22:30 EST
    utc_label = f"{scheduled_at:%Y-%m-%d %H:%M}"
    client.force_login(nurse)
    url = reverse("admin:treatment_sessions_treatmentsession_change", args=[session.pk])

    page = client.get(url)
    html = page.content.decode()
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    breadcrumbs = html.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert local_label in title
    assert local_label in breadcrumbs
    assert utc_label not in html

    response = client.post(url, form_data(page), follow=True)
    (message,) = [str(m) for m in response.context["messages"]]
    assert "was changed successfully" in message
    assert local_label in message and utc_label not in message


def test_vital_sign_label_gives_the_local_time(clinic_in_new_york):
    vital = VitalSign(systolic_mmhg=128, diastolic_mmhg=82,
                      measured_at=datetime(2026, 7, 1, 3, 5, tzinfo=UTC))
    assert str(vital) == "128/82 at 23:05 EDT"
