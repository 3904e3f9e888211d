"""Login protection: lockout per user and IP with a cool-off, idle and absolute session
timeouts, logout and password change ending the other sessions, TOTP for clinicians and
admins (with hashed one-use backup codes), demo accounts refused when DEBUG is off."""

import re
import time
from base64 import b32decode
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.middleware import LAST_SEEN_KEY, LOGIN_AT_KEY
from security.models import BackupCode
from sessions.demo import seed_demo
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # tests.factories.UserFactory
ADMIN_INDEX = "/admin/"


def admin_login(client, username, password, ip="192.0.2.10"):
    return client.post(reverse("admin:login"),
                       {"username": username, "password": password, "next": ADMIN_INDEX},
                       REMOTE_ADDR=ip)


def is_logged_in(client) -> bool:
    return client.get(ADMIN_INDEX).status_code == 200


# --- lockout ------------------------------------------------------------------------------

def test_five_failures_lock_that_user_on_that_ip_only_and_the_lock_cools_off():
    UserFactory(username="nurse7", role="Nurse")
    attacker = Client()
    for _ in range(4):
        assert admin_login(attacker, "nurse7", "wrong-password", ip="203.0.113.5"
                           ).status_code == 200  # the form again, with its error
    assert admin_login(attacker, "nurse7", "wrong-password", ip="203.0.113.5"
                       ).status_code == 429  # the fifth failure locks
    locked = admin_login(attacker, "nurse7", PASSWORD, ip="203.0.113.5")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert not is_logged_in(attacker)

    elsewhere = Client()  # same user at another workstation: not locked
    assert admin_login(elsewhere, "nurse7", PASSWORD, ip="198.51.100.20").status_code == 302
    assert is_logged_in(elsewhere)

    # 16 minutes later (the attempts are dated back, no sleeping): the lock has cooled off.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    later = Client()
    assert admin_login(later, "nurse7", PASSWORD, ip="203.0.113.5").status_code == 302
    assert is_logged_in(later)


# --- session timeouts ----------------------------------------------------------------------

def _stamp(client, **seconds_ago):
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_idle_session_ends_after_fifteen_minutes_with_a_message(nurse):
    client = Client()
    client.force_login(nurse)
    _stamp(client, **{LAST_SEEN_KEY: 10 * 60})
    assert is_logged_in(client)  # 10 minutes idle: still in

    _stamp(client, **{LAST_SEEN_KEY: 16 * 60})
    response = client.get(ADMIN_INDEX, follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    assert "logged out after 15 minutes without activity" in response.content.decode()
    assert not is_logged_in(client)


def test_an_idle_tab_timing_out_ends_only_its_own_session():
    UserFactory(username="nurse6", role="Nurse")
    ward, desk = Client(), Client()
    for client in (ward, desk):
        assert admin_login(client, "nurse6", PASSWORD).status_code == 302
    _stamp(ward, **{LAST_SEEN_KEY: 16 * 60})

    assert not is_logged_in(ward)  # the idle one is logged out
    assert is_logged_in(desk)  # the nurse working at the desk is not
    assert desk.post(reverse("admin:logout")).status_code in (200, 302)
    assert not is_logged_in(desk)


def test_the_session_key_changes_once_the_second_factor_is_verified():
    from security.models import StaffSession
    from tests.security.totp import confirmed_totp_device, current_code

    doc = UserFactory(username="doc2", role="Clinician")
    device = confirmed_totp_device(doc)
    browser = Client()
    admin_login(browser, "doc2", PASSWORD)
    before_second_factor = browser.cookies["sessionid"].value
    assert browser.post(reverse("security:verify"), {"token": current_code(device),
                                                     "next": ADMIN_INDEX}).status_code == 302
    after = browser.cookies["sessionid"].value

    assert after != before_second_factor
    assert is_logged_in(browser)
    replay = Client()  # a cookie captured before the code was typed is worth nothing now
    replay.cookies["sessionid"] = before_second_factor
    assert not is_logged_in(replay)
    assert StaffSession.objects.filter(user=doc).values_list("session_key", flat=True).get() \
        == after  # logout everywhere still ends it


def test_session_ends_twelve_hours_after_login_even_when_active(nurse):
    client = Client()
    client.force_login(nurse)
    _stamp(client, **{LOGIN_AT_KEY: 11 * 3600, LAST_SEEN_KEY: 30})
    assert is_logged_in(client)
    _stamp(client, **{LOGIN_AT_KEY: 12 * 3600 + 60, LAST_SEEN_KEY: 30})
    assert not is_logged_in(client)


# --- logout and password change end the other sessions -------------------------------------

@override_settings(LOGOUT_REDIRECT_URL=None)  # the admin's "logged out" page
def test_logout_ends_the_users_sessions_on_every_computer():
    UserFactory(username="nurse8", role="Nurse")
    desk, ward, other = Client(), Client(), Client()
    for client in (desk, ward):
        assert admin_login(client, "nurse8", PASSWORD).status_code == 302
    UserFactory(username="nurse9", role="Nurse")
    assert admin_login(other, "nurse9", PASSWORD).status_code == 302

    assert desk.post(reverse("admin:logout")).status_code == 200
    assert not is_logged_in(desk)
    assert not is_logged_in(ward)
    assert is_logged_in(other)  # someone else's session is untouched


def test_password_change_ends_the_other_sessions_but_keeps_this_one():
    UserFactory(username="nurse8", role="Nurse")
    here, there = Client(), Client()
    for client in (here, there):
        assert admin_login(client, "nurse8", PASSWORD).status_code == 302
    response = here.post(reverse("admin:password_change"), {
        "old_password": PASSWORD, "new_password1": "a-new-long-passphrase-77",
        "new_password2": "a-new-long-passphrase-77"})
    assert response.status_code == 302
    assert is_logged_in(here)
    assert not is_logged_in(there)


def test_weak_passwords_are_refused():
    UserFactory(username="nurse8", role="Nurse")
    client = Client()
    admin_login(client, "nurse8", PASSWORD)
    response = client.post(reverse("admin:password_change"), {
        "old_password": PASSWORD, "new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()


# --- two-factor ----------------------------------------------------------------------------

def _code(key: bytes, drift: int = 0) -> str:
    return f"{totp(key, drift=drift):06d}"


def _a_while_later():
    """django-otp throttles a device after a wrong code; date the failure back (no sleep)."""
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def test_clinician_enrols_an_authenticator_then_must_enter_its_code_at_each_login():
    UserFactory(username="doc", role="Clinician")
    first = Client()
    response = admin_login(first, "doc", PASSWORD)
    assert response.status_code == 302
    # Password alone shows nothing: every page leads to the enrolment page.
    setup = first.get(ADMIN_INDEX, follow=True)
    assert setup.redirect_chain[-1][0].startswith(reverse("security:setup"))
    page = setup.content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "otpauth://totp/" in page
    key = b32decode(secret)

    wrong = first.post(reverse("security:setup"), {"token": "000000"})
    assert "does not match" in wrong.content.decode()
    _a_while_later()
    codes_page = first.post(reverse("security:setup"), {"token": _code(key)})
    backup_codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>",
                              codes_page.content.decode())
    assert len(backup_codes) == 10
    assert is_logged_in(first)

    second = Client()  # the next login: password, then the code
    admin_login(second, "doc", PASSWORD)
    verify = second.get(ADMIN_INDEX, follow=True)
    assert verify.redirect_chain[-1][0].startswith(reverse("security:verify"))
    assert not is_logged_in(second)
    refused = second.post(reverse("security:verify"), {"token": "123456"})
    assert "not valid" in refused.content.decode()
    _a_while_later()
    assert second.post(reverse("security:verify"), {"token": _code(key, drift=1),
                                                    "next": ADMIN_INDEX}).status_code == 302
    assert is_logged_in(second)


def test_backup_codes_work_once_and_are_stored_hashed():
    doc = UserFactory(username="doc", role="Clinician")
    enrol = Client()
    admin_login(enrol, "doc", PASSWORD)
    page = enrol.get(reverse("security:setup")).content.decode()
    key = b32decode(re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1))
    codes_page = enrol.post(reverse("security:setup"), {"token": _code(key)}).content.decode()
    code = re.findall(r"<li><code>([a-z2-9-]{11})</code></li>", codes_page)[0]

    stored = " ".join(BackupCode.objects.filter(device__user=doc)
                      .values_list("code_hash", flat=True))
    assert code not in stored and code.replace("-", "") not in stored

    lost_phone = Client()
    admin_login(lost_phone, "doc", PASSWORD)
    assert lost_phone.post(reverse("security:verify"), {"token": code}).status_code == 302
    assert is_logged_in(lost_phone)

    again = Client()
    admin_login(again, "doc", PASSWORD)
    assert again.post(reverse("security:verify"), {"token": code}).status_code == 200
    assert not is_logged_in(again)


@pytest.mark.parametrize("role", ["Clinic admin", None])
def test_admins_and_superusers_need_the_second_factor_too(role):
    kwargs = {"role": role} if role else {"is_superuser": True}
    UserFactory(username="boss", **kwargs)
    client = Client()
    admin_login(client, "boss", PASSWORD)
    assert not is_logged_in(client)
    assert client.get(ADMIN_INDEX)["Location"].startswith(reverse("security:setup"))


def test_nurses_and_front_desk_log_in_with_the_password_alone():
    UserFactory(username="desk", role="Front desk")
    client = Client()
    assert admin_login(client, "desk", PASSWORD).status_code == 302
    assert is_logged_in(client)
    assert not TOTPDevice.objects.exists()


# --- demo accounts ---------------------------------------------------------------------------

def test_demo_accounts_are_refused_with_a_clear_message_when_debug_is_off():
    seed_demo()
    client = Client()
    response = admin_login(client, "nurse", "demo-nurse-pass-2026")
    assert response.status_code == 200
    assert "Demo accounts are disabled on this server" in response.content.decode()
    assert not is_logged_in(client)
    # Any other account with a real password still works.
    UserFactory(username="realnurse", role="Nurse")
    assert admin_login(Client(), "realnurse", PASSWORD).status_code == 302


@override_settings(DEBUG=True)
def test_demo_accounts_work_in_development():
    seed_demo()
    client = Client()
    assert admin_login(client, "nurse", "demo-nurse-pass-2026").status_code == 302
    assert get_user_model().objects.get(username="nurse").last_login is not None


@pytest.mark.parametrize("path", ["/accounts/password_reset/", "/accounts/password_reset/done/",
                                  "/accounts/reset/MQ/set-password/", "/accounts/reset/done/"])
def test_there_is_no_self_service_password_reset(path):
    """Anyone could ask for reset emails, with no limit; the clinic admin resets passwords."""
    assert Client().get(path).status_code == 404
