"""Production settings: check --deploy passes with DEBUG off, every page carries the security
headers (CSP without unsafe-inline, no-store for anything a logged-in user sees), and the
clinic's own checks catch what check --deploy does not."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from clinic import checks
from sessions.demo import seed_demo
from tests.factories import UserFactory
from tests.security.dataset import build_dataset
from tests.security.test_url_permissions import concrete_requests

ROOT = Path(__file__).resolve().parents[2]


def _production_env(tmp_path) -> dict:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL")}
    return {**clean, "DJANGO_SETTINGS_MODULE": "clinic.settings", "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64), "ALLOWED_HOSTS": "clinic.example.org",
            "CLINIC_REMINDERS": '{"site_url": "https://clinic.example.org"}',
            "CLINIC_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}


def _manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = _production_env(tmp_path)
    migrated = _manage(env, "migrate", "--no-input", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_with_the_development_key(tmp_path):
    env = {**_production_env(tmp_path),
           "SECRET_KEY": "dev-only-insecure-secret-key-do-not-use-in-production"}
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "clinic.E001" in result.stderr


# --- each custom check fires -----------------------------------------------------------------

@pytest.mark.parametrize(("key", "expected"), [
    ("dev-only-insecure-secret-key-do-not-use-in-production", "clinic.E001"),
    ("short-but-not-a-dev-key", "clinic.E002"),
    ("a" * 80, "clinic.E002"),
    (secrets.token_urlsafe(64), None),
])
def test_secret_key_check(key, expected):
    with override_settings(SECRET_KEY=key):
        assert [e.id for e in checks.secret_key_check()] == ([expected] if expected else [])


@pytest.mark.parametrize(("timeout", "fires"), [(None, True), (0, True), (600, True),
                                                (10, False)])
def test_email_timeout_check(timeout, fires):
    with override_settings(EMAIL_TIMEOUT=timeout):
        assert [e.id for e in checks.email_timeout_check()] == (["clinic.W001"] if fires else [])


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"SESSION_IDLE_TIMEOUT": timedelta(hours=3)}, ["clinic.W002"]),
    ({"SESSION_ABSOLUTE_TIMEOUT": timedelta(days=7),
      "SESSION_COOKIE_AGE": 7 * 86400}, ["clinic.W003"]),
    ({"SESSION_COOKIE_AGE": 30 * 86400}, ["clinic.W004"]),
    ({}, []),
])
def test_session_age_check(overrides, expected):
    with override_settings(**overrides):
        assert [e.id for e in checks.session_age_check()] == expected


@pytest.mark.django_db
def test_demo_accounts_check_fires_while_a_demo_password_still_works():
    seed_demo()
    with override_settings(DEBUG=False):
        errors = checks.demo_accounts_check()
        assert [e.id for e in errors] == ["clinic.E003"]
        assert "admin, clinician, frontdesk, nurse" in errors[0].msg
        for user in get_user_model().objects.filter(
                username__in=["admin", "clinician", "frontdesk", "nurse"]):
            user.set_password(secrets.token_urlsafe(20))
            user.save()
        assert checks.demo_accounts_check() == []
    with override_settings(DEBUG=True):
        assert checks.demo_accounts_check() == []


@pytest.mark.parametrize(("site_url", "fires"), [
    (None, True),  # the development default, http://127.0.0.1:8000
    ("http://clinic.example.org", True),
    ("https://localhost:8000", True),
    ("https://127.0.0.1", True),
    ("https://[::1]/", True),
    ("https://0.0.0.0", True),
    ("https://clinic.example.org", False),
    ("https://clinic.example.org/ketamine/", False),
])
def test_site_url_check_requires_the_clinics_https_address_in_production(site_url, fires):
    reminders = {} if site_url is None else {"site_url": site_url}
    with override_settings(DEBUG=False, CLINIC_REMINDERS=reminders):
        assert [e.id for e in checks.site_url_check()] == (["clinic.E004"] if fires else [])
    with override_settings(DEBUG=True, CLINIC_REMINDERS=reminders):
        assert checks.site_url_check() == []


def test_check_deploy_fails_when_emails_would_link_to_the_development_address(tmp_path):
    env = {**_production_env(tmp_path), "CLINIC_REMINDERS": "{}"}
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "clinic.E004" in result.stderr


# --- headers on every page ---------------------------------------------------------------------

@pytest.mark.django_db
def test_every_page_a_logged_in_user_sees_is_no_store_with_a_strict_csp():
    objects = build_dataset()
    client = Client()
    client.force_login(UserFactory(username="headers-root", is_superuser=True))
    pages = 0
    for label, url, _ in concrete_requests(objects):
        response = client.get(url, secure=True)
        if response.status_code != 200:
            continue
        pages += 1
        assert "no-store" in response["Cache-Control"], label
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, label
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, label
        assert response["X-Content-Type-Options"] == "nosniff", label
        assert response["Referrer-Policy"] == "same-origin", label
        assert response["X-Frame-Options"] == "DENY", label
        assert "max-age=31536000" in response["Strict-Transport-Security"], label
    assert pages >= 100


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle=|<style[\s>]", re.IGNORECASE)


@pytest.mark.django_db
def test_the_clinic_pages_have_no_inline_script_or_style_the_csp_would_block():
    """The CSP refuses inline scripts and styles, so the browser would drop them: the pages
    (clinician pages, login, public opt-out; the admin is Django's own) must not rely on any.
    A JSON data block (json_script) is not a script and is allowed."""
    objects = build_dataset()
    clients = {"anonymous": Client(), "superuser": Client()}
    clients["superuser"].force_login(UserFactory(username="inline-root", is_superuser=True))
    pages = 0
    for label, url, _ in concrete_requests(objects):
        if url.startswith("/admin/"):
            continue
        for who, client in clients.items():
            response = client.get(url, secure=True)
            if (response.status_code != 200
                    or not response["Content-Type"].startswith("text/html")):
                continue
            pages += 1
            content = response.content.decode()
            scripts = [m.group(0) for m in INLINE_SCRIPT.finditer(content)
                       if "application/json" not in m.group(0)]
            assert not scripts, f"{label} {url} as {who}: inline script {scripts[0]!r}"
            style = INLINE_STYLE.search(content)
            assert not style, f"{label} {url} as {who}: inline style {style.group(0)!r}"
    assert pages >= 15


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_http_only(client):
    UserFactory(username="cookie-nurse", role="Nurse")
    page = client.get("/admin/login/", secure=True)
    assert page.cookies["csrftoken"]["secure"] and page.cookies["csrftoken"]["httponly"]
    response = client.post("/admin/login/", {"username": "cookie-nurse",
                                             "password": "correct-horse-battery-9",
                                             "next": "/admin/"}, secure=True)
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"]
    assert session_cookie["samesite"] == "Lax"
