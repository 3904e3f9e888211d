"""Malformed admin URLs a logged-in user can type are refused (400, 403 or 404), never a 500.

Autocomplete asked about a reverse relation (a patient's ``reminders``) and history pages
asked for an id the primary key cannot hold ("abc", a NUL, a number past 64 bits) used to
raise inside Django or django-simple-history before any permission check.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.test import Client
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSED = (400, 403, 404)
UNPARSABLE_IDS = ("abc", "%00", "-1", "99999999999999999999")


def _reverse_relation_names() -> list[tuple[str, str, str]]:
    """(app_label, model_name, a reverse relation's name) for every registered model that has
    one, plus the cases the penetration test found."""
    cases = {("patients", "patient", "reminders"),
             ("treatment_sessions", "treatmentsession", "administration"),
             ("auth", "group", "user")}
    for model in admin.site._registry:
        reverse_relations = [field for field in model._meta.get_fields()
                             if field.auto_created and not field.concrete]
        if reverse_relations:
            cases.add((model._meta.app_label, model._meta.model_name,
                       reverse_relations[0].name))
    return sorted(cases)


def _history_urls() -> list[str]:
    urls = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        base = reverse(f"admin:{info[0]}_{info[1]}_changelist")
        for bad_id in UNPARSABLE_IDS:
            urls.append(f"{base}{bad_id}/history/")
            if isinstance(model_admin, SimpleHistoryAdmin):
                urls.append(f"{base}1/history/{bad_id}/")
                urls.append(f"{base}{bad_id}/history/1/")
    return sorted(urls)


@pytest.fixture(params=["superuser", "Nurse"])
def client(request):
    if request.param == "superuser":
        user = UserFactory(username="malformed-root", is_superuser=True)
    else:
        user = UserFactory(username="malformed-nurse", role="Nurse")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize(("app_label", "model_name", "field_name"), _reverse_relation_names())
def test_autocomplete_for_a_reverse_relation_is_refused(client, app_label, model_name,
                                                        field_name):
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": app_label, "model_name": model_name, "field_name": field_name,
        "term": "x"})
    assert response.status_code in REFUSED


def _refused(response) -> bool:
    """400, 403 or 404; or Django's own answer for an id naming no object on the admins it
    owns (users, groups, lockouts, devices): back to the admin index, which says so."""
    if response.status_code == 302:
        return response.url == reverse("admin:index")
    return response.status_code in REFUSED


@pytest.mark.parametrize("url", _history_urls())
def test_history_page_with_an_unparsable_id_is_refused(client, url):
    response = client.get(url)
    assert _refused(response), response.status_code


def test_autocomplete_for_a_forward_relation_still_answers(client):
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "treatment_sessions", "model_name": "treatmentsession",
        "field_name": "patient", "term": "x"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_quoted_ids_reach_the_history_page(client):
    """An id the admin quotes in its URLs still resolves to 404 for a missing object."""
    base = reverse("admin:patients_patient_changelist")
    assert _refused(client.get(f"{base}{quote('no/such')}/history/"))
