"""Hostile input: POSTs without a CSRF token fail everywhere, stored script payloads render
escaped on every page, sort/filter parameters outside the allow-list are refused (never a 500),
and generated hostile POSTs to the admin forms never cause a 5xx nor a change on rejection.

Built over the URL walk (tests/urlwalk.py), so pages added later are covered too.
"""

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import reverse

from audit.append_only import is_history_model
from tests.admin_forms import form_data
from tests.factories import UserFactory
from tests.security.dataset import build_dataset
from tests.security.test_url_permissions import concrete_requests

pytestmark = pytest.mark.django_db

AUDITED_APPS = ("patients", "treatment_sessions", "audit", "auth", "axes", "otp_totp",
                "security")


def db_fingerprint() -> dict:
    """Row counts of every table plus every versioned row's version: a rejected request must
    leave this unchanged."""
    state = {}
    for model in apps.get_models():
        manager = model._default_manager
        state[model._meta.label] = manager.count()
        if any(f.name == "version" for f in model._meta.fields):
            state[model._meta.label + " versions"] = sorted(manager.values_list("pk", "version"))
    state.pop("axes.AccessLog", None)  # axes logs every request's login state
    return state


@pytest.fixture
def dataset():
    return build_dataset()


@pytest.fixture
def root():
    return UserFactory(username="hostile-root", is_superuser=True)


# --- CSRF ------------------------------------------------------------------------------------

def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(dataset, root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    forms = []  # GET first (reads write access-log rows), then POST
    for label, url, _ in concrete_requests(dataset):
        page = client.get(url)
        data = {}
        if (page.status_code == 200 and page.context and "adminform" in page.context
                and "inline_admin_formsets" in page.context):
            data = form_data(page)
        forms.append((label, url, data))
    before = db_fingerprint()
    posted = 0
    for label, url, data in forms:
        response = client.post(url, data)
        assert response.status_code == 403, f"{label} {url}: {response.status_code}"
        assert b"CSRF" in response.content, label
        posted += 1
    assert db_fingerprint() == before
    assert posted >= 140


def test_login_form_without_a_csrf_token_is_refused():
    UserFactory(username="csrf-nurse", role="Nurse")
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("admin:login"), {"username": "csrf-nurse",
                                                    "password": "correct-horse-battery-9"})
    assert response.status_code == 403
    assert client.get("/admin/").status_code == 302  # not logged in


# --- stored XSS ------------------------------------------------------------------------------

PAYLOADS = ('"><script>alert(1)</script>', "<xss>1</xss>", "<xss>")
NOT_FREE_TEXT = {"password", "key", "session_key", "salt", "code_hash", "time_zone"}


def _payload_for(field) -> str | None:
    for payload in PAYLOADS:
        if field.max_length is None or len(payload) <= field.max_length:
            return payload
    return None


def store_payloads() -> list[str]:
    stored = []
    for model in apps.get_models():
        if (model._meta.app_label not in AUDITED_APPS or model._meta.label == "auth.Permission"
                or is_history_model(model)):  # history is append-only (and copies these)
            continue
        updates = {}
        for field in model._meta.concrete_fields:
            if (isinstance(field, models.CharField | models.TextField) and not field.choices
                    and field.name not in NOT_FREE_TEXT and not field.unique):
                payload = _payload_for(field)
                if payload:
                    updates[field.name] = payload
        first = model._default_manager.order_by("pk").first()
        if updates and first is not None:  # the row the URL walk shows
            model._default_manager.filter(pk=first.pk).update(**updates)
            stored.append(f"{model._meta.label}: {', '.join(updates)}")
    return stored


def test_script_payloads_in_every_free_text_field_render_escaped_on_every_page(dataset, root):
    stored = store_payloads()
    assert len(stored) >= 15, stored
    client = Client()
    client.force_login(root)
    pages, escaped_seen = 0, 0
    for label, url, _ in concrete_requests(dataset):
        response = client.get(url)
        assert response.status_code < 500, label
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue  # JSON (autocomplete) is inserted as text by the admin's select2
        pages += 1
        content = response.content.decode()
        for payload in PAYLOADS:
            assert payload not in content, f"{label} {url} renders {payload!r} unescaped"
        escaped_seen += "&lt;xss&gt;" in content or "&lt;script&gt;" in content
    assert pages >= 90
    assert escaped_seen >= 30  # the payloads are really on the pages, escaped


# --- sort and filter parameters on the admin changelists --------------------------------------

HOSTILE_QUERIES = (
    {"o": "999"}, {"o": "1'"}, {"o": "-1.a"}, {"o": "1;DROP TABLE x"},
    {"p": "-1"}, {"p": "abc"}, {"p": "99999"},
    {"q": "' OR 1=1 --"}, {"q": "<script>alert(1)</script>"}, {"q": "%_%\\"}, {"q": "\x00"},
    {"q": "x" * 5000},
    {"no_such_field": "1"}, {"id__gt": "abc"}, {"pk__in": "1,2,x"},
    {"patient__user__password__startswith": "pbkdf2"},
    {"clinician__password__startswith": "pbkdf2"},
    {"recorded_by__password__startswith": "md5"},
    {"_to_field": "password"}, {"_to_field": "first_name"},
    {"scheduled_at__year": "abc"}, {"due_at__month": "13"}, {"status__exact": "\x00"},
    {"e": "1"}, {"_popup": "1", "_to_field": "id"},
)


def _changelists(dataset):
    return [(label, url) for label, url, _ in concrete_requests(dataset)
            if label.startswith("admin:") and label.endswith("_changelist")]


def test_hostile_sort_and_filter_parameters_never_cause_a_server_error(dataset, root):
    client = Client()
    client.force_login(root)
    changelists = _changelists(dataset)
    assert len(changelists) >= 20
    for label, url in changelists:
        for query in HOSTILE_QUERIES:
            response = client.get(url, query)
            assert response.status_code < 500, f"{label} {query}: {response.status_code}"
            if any("password" in key or key == "_to_field" and value == "password"
                   for key, value in query.items()):
                assert response.status_code in (302, 400), f"{label} {query} was allowed"


def test_nul_characters_in_parameters_are_a_clear_400(root):
    client = Client()
    client.force_login(root)
    response = client.get(reverse("admin:patients_patient_changelist"), {"q": "a\x00b"})
    assert response.status_code == 400
    assert b"NUL characters" in response.content


def test_filters_outside_a_roles_allow_list_are_refused():
    """The front desk has no condition filter: passing it by hand must not filter patients by
    diagnosis (the list would disclose who has which condition)."""
    desk = UserFactory(username="desk-filter", role="Front desk")
    client = Client()
    client.force_login(desk)
    url = reverse("admin:patients_patient_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"conditions__kind__exact": "psychosis"}).status_code == 400
    assert client.get(url, {"medications__drug_class__exact": "opioid"}).status_code == 400
