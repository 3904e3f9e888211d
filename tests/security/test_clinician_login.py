"""The clinician pages' login form (accounts/login/) has the admin login's protections: demo
accounts refused while DEBUG is off, the axes lockout, and the second factor after it."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from sessions.demo import seed_demo
from tests.factories import UserFactory
from tests.security.totp import confirmed_totp_device, current_code

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # tests.factories.UserFactory


def page_login(client, username, password, ip="192.0.2.30"):
    return client.post(reverse("login"), {"username": username, "password": password,
                                          "next": reverse("dashboard")}, REMOTE_ADDR=ip)


def sees_dashboard(client) -> bool:
    return client.get(reverse("dashboard")).status_code == 200


def test_the_login_url_is_the_clinic_form_not_djangos_plain_one():
    assert reverse("login") == "/accounts/login/"
    page = Client().get(reverse("login"))
    assert page.status_code == 200
    assert type(page.context["form"]).__name__ == "ClinicAuthenticationForm"


def test_demo_accounts_are_refused_on_the_pages_login_when_debug_is_off():
    seed_demo()
    client = Client()
    response = page_login(client, "nurse", "demo-nurse-pass-2026")
    assert response.status_code == 200
    assert "Demo accounts are disabled on this server" in response.content.decode()
    assert not sees_dashboard(client)
    UserFactory(username="realnurse2", role="Nurse")
    real = Client()
    assert page_login(real, "realnurse2", PASSWORD).status_code == 302
    assert sees_dashboard(real)


@override_settings(DEBUG=True)
def test_demo_accounts_log_in_on_the_pages_in_development():
    seed_demo()
    client = Client()
    assert page_login(client, "nurse", "demo-nurse-pass-2026").status_code == 302
    assert sees_dashboard(client)


def test_five_failures_on_the_pages_login_lock_the_user_on_that_ip():
    UserFactory(username="nurse17", role="Nurse")
    attacker = Client()
    for _ in range(4):
        assert page_login(attacker, "nurse17", "wrong", ip="203.0.113.9").status_code == 200
    assert page_login(attacker, "nurse17", "wrong", ip="203.0.113.9").status_code == 429
    locked = page_login(attacker, "nurse17", PASSWORD, ip="203.0.113.9")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert not sees_dashboard(attacker)


def test_a_clinician_passes_the_second_factor_after_the_pages_login():
    clinician = UserFactory(username="doc-pages", role="Clinician")
    device = confirmed_totp_device(clinician)
    client = Client()
    response = page_login(client, "doc-pages", PASSWORD)
    assert response.status_code == 302
    # Password alone shows nothing: every page sends to the code form.
    gate = client.get(reverse("dashboard"))
    assert gate.status_code == 302
    assert gate["Location"].startswith(reverse("security:verify"))
    verified = client.post(gate["Location"], {"token": current_code(device)})
    assert verified.status_code == 302
    assert sees_dashboard(client)


def test_a_logged_in_user_opening_the_login_page_goes_to_the_dashboard():
    client = Client()
    client.force_login(UserFactory(username="nurse18", role="Nurse"))
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
