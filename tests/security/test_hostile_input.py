"""Hostile input: POSTs without a CSRF token fail everywhere, stored script payloads render
escaped on every page, sort/filter parameters outside the allow-list are refused (never a 500),
and generated hostile POSTs to the admin forms never cause a 5xx nor a change on rejection.

Built over the URL walk (tests/urlwalk.py), so pages added later are covered too.
"""

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import resolve, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.append_only import is_history_model
from audit.models import PatientAccess, SecurityEvent
from sessions.forms import (
    STEP_FORMS,
    CancelForm,
    RemsSubmitForm,
    SideEffectForm,
    SideEffectUpdateForm,
    VitalSignForm,
)
from sessions.models import TreatmentSession
from tests.admin_forms import form_data, page_form_data
from tests.factories import UserFactory
from tests.security.dataset import build_dataset
from tests.security.test_url_permissions import concrete_requests
from tests.urlwalk import walk

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

# The one view that takes a POST without a CSRF token, by design: the reminder opt-out link's
# RFC 8058 one-click POST comes from a mail client, which cannot carry a token. The signed
# token in the URL is the authority and all it can do is stop one patient's reminders
# (tests/sessions/test_reminder_opt_out.py).
CSRF_EXEMPT_BY_DESIGN = {"reminder_opt_out"}


def test_only_the_reminder_opt_out_is_exempt_from_csrf():
    exempt, checked = set(), 0
    for route in walk():
        if not route.name or route.positional:
            continue
        kwargs = dict.fromkeys(route.kwarg_names, "1")
        if "app_label" in kwargs:
            kwargs["app_label"] = "patients"
        view = resolve(reverse(route.name, kwargs=kwargs)).func
        checked += 1
        if getattr(view, "csrf_exempt", False):
            exempt.add(route.key)
    assert checked >= 135  # every named route: 139 once the password-reset pages went
    assert exempt == CSRF_EXEMPT_BY_DESIGN


def test_every_post_without_a_csrf_token_is_refused_and_changes_nothing(dataset, root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    forms = []  # GET first (reads write access-log rows), then POST
    for label, url, _ in concrete_requests(dataset):
        if label in CSRF_EXEMPT_BY_DESIGN:
            continue
        page = client.get(url)
        data = {}
        if (page.status_code == 200 and page.context and "adminform" in page.context
                and "inline_admin_formsets" in page.context):
            data = form_data(page)
            data.pop("csrfmiddlewaretoken")  # the page's own token: what this test leaves out
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
        if model is PatientAccess and first is not None:  # append-only: add a row instead
            PatientAccess.objects.create(user=first.user, patient=first.patient, **updates)
        elif model is SecurityEvent and first is not None:  # append-only too
            SecurityEvent.objects.create(target=first.target, what=first.what, **updates)
        elif updates and first is not None:  # the row the URL walk shows
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


def test_unparsable_autocomplete_value_is_a_form_error_not_a_500(root_client, dataset):
    session = dataset[TreatmentSession]
    url = reverse("admin:treatment_sessions_treatmentsession_add")
    data = form_data(root_client.get(url))
    data.update(patient="' OR 1=1 --", course="abc", clinician=str(session.clinician_id))
    response = root_client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


# --- generated hostile POSTs ------------------------------------------------------------------

NASTY = ["' OR 1=1 --", "<script>alert(1)</script>", "\x00", "9" * 400, "-1", "1e309", "NaN",
         "Infinity", "-0", "2026-02-30", "31/31/2031", "25:61:61", "../../etc/passwd",
         "${jndi:ldap://x/a}", "\u202egnp.exe", "🙂" * 80, "", " ", "0x10", "[]", "{}",
         "1; DROP TABLE patients_patient", "%s%s%n", "\\", "\r\n\r\nX-Injected: 1",
         "999999999999999999999", "2147483648", "-32769", "1.5", "on", "off", "None"]
hostile_value = st.one_of(st.sampled_from(NASTY), st.text(max_size=60),
                          st.integers().map(str))


def _admin_forms(client, dataset) -> list[tuple[str, str, dict]]:
    forms = []
    for label, url, _ in concrete_requests(dataset):
        if not label.startswith("admin:") or not label.endswith(("_add", "_change")):
            continue
        page = client.get(url)
        if (page.status_code == 200 and "adminform" in page.context
                and "inline_admin_formsets" in page.context):
            forms.append((label, url, form_data(page)))
    return forms


@pytest.fixture
def root_client(root):
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def admin_forms(root_client, dataset):
    """Every admin add/change form, with the data a browser would submit (collected once; the
    fixtures are shared by all of hypothesis' examples)."""
    forms = _admin_forms(root_client, dataset)
    assert len(forms) >= 15
    return forms


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_hostile_posts_never_cause_a_5xx_nor_a_change_when_rejected(
        data, admin_forms, root_client):
    client, forms = root_client, admin_forms
    label, url, valid = data.draw(st.sampled_from(forms), label="form")
    post = dict(valid)
    keys = sorted(post) or ["anything"]
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=6, unique=True),
                         label="mutated fields"):
        post[key] = data.draw(st.one_of(hostile_value, st.lists(hostile_value, max_size=3)))
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=2, unique=True),
                         label="dropped fields"):
        post.pop(key, None)
    if data.draw(st.booleans(), label="extra field"):
        post[data.draw(st.text(min_size=1, max_size=20))] = data.draw(hostile_value)

    before = db_fingerprint()
    response = client.post(url, post)
    assert response.status_code < 500, f"{label}: {response.status_code}"
    if response.status_code != 302:  # rejected: the form again with its errors, or a 400
        assert db_fingerprint() == before, f"{label}: a rejected POST changed the database"


# --- the clinician pages' forms, generated the same way --------------------------------------

# POST-only actions on the session page: the form each one binds.
PAGE_POST_FORMS = {
    "session_cancel": CancelForm,
    "vital_sign_add": VitalSignForm,
    "side_effect_add": SideEffectForm,
    "side_effect_update": SideEffectUpdateForm,
    "rems_submit": RemsSubmitForm,
}


@pytest.fixture
def page_forms(root_client, dataset):
    """Every form of the clinician pages: the step pages as rendered, the POST-only actions
    with the fields of their form."""
    forms = []
    for label, url, _ in concrete_requests(dataset):
        if label == "session_step":
            page = root_client.get(url)
            if page.status_code == 200 and "form" in page.context:  # the next step: as shown
                forms.append((label, url, page_form_data(page, "step-form")))
            else:  # a step not open on this session: post its form's fields anyway
                step = url.rstrip("/").rsplit("/", 1)[-1]
                forms.append((label, url, dict.fromkeys(STEP_FORMS[step].base_fields, "")))
        elif label in PAGE_POST_FORMS:
            forms.append((label, url, dict.fromkeys(PAGE_POST_FORMS[label].base_fields, "")))
    assert {label for label, _, _ in forms} >= {"session_step", *PAGE_POST_FORMS}
    return forms


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_generated_hostile_posts_to_the_clinician_pages_never_cause_a_5xx_nor_a_change(
        data, page_forms, root_client):
    label, url, valid = data.draw(st.sampled_from(page_forms), label="form")
    post = dict(valid)
    keys = sorted(post) or ["anything"]
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=6, unique=True),
                         label="mutated fields"):
        post[key] = data.draw(st.one_of(hostile_value, st.lists(hostile_value, max_size=3)))
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=2, unique=True),
                         label="dropped fields"):
        post.pop(key, None)

    before = db_fingerprint()
    response = root_client.post(url, post)
    assert response.status_code < 500, f"{label}: {response.status_code}"
    if response.status_code != 302:  # rejected: the form again with its errors
        assert db_fingerprint() == before, f"{label}: a rejected POST changed the database"
