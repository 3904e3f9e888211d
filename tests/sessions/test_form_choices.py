"""The forms offer only choices a user may make: a decision is cleared or held (no blank
option), and the override reason is shown only to those who may override."""

import re

import pytest
from django.urls import reverse

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
