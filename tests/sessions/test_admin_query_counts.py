"""No N+1 on any admin list page: the number of queries a changelist runs is the same for a
handful of rows as for many (the bulk generator fills every model)."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import PatientAccess
from patients.models import Patient
from sessions.bulk_demo import bulk_seed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Catalogue and staff tables do not grow with clinical data.
FIXED_SIZE = {"auth.Group", "auth.User", "treatment_sessions.SymptomType"}


def _fill_security_tables(count: int) -> None:
    """The audit, login-protection and second-factor tables grow with use, not with the bulk
    generator's clinical data: give each `count` more rows, from as many users and patients."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_totp.models import TOTPDevice

    patients = list(Patient.objects.order_by("id"))
    for n in range(count):
        user = UserFactory(role="Clinician")
        TOTPDevice.objects.create(user=user, name=f"Phone {n}", confirmed=True)
        PatientAccess.objects.create(user=user, patient=patients[n % len(patients)],
                                     what=f"admin record: patient {n}", ip_address="127.0.0.1")
        who = {"username": user.username, "ip_address": "127.0.0.1", "user_agent": "bench",
               "http_accept": "text/html", "path_info": "/admin/login/"}
        AccessLog.objects.create(**who)
        AccessFailureLog.objects.create(**who)
        AccessAttempt.objects.create(**who, get_data="", post_data="", failures_since_start=1)


def _changelists():
    return sorted(((model, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}"
                                   "_changelist"))
                   for model in admin.site._registry), key=lambda pair: pair[0]._meta.label)


def _query_counts(client) -> dict[str, int]:
    counts = {}
    for model, url in _changelists():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[model._meta.label] = len(queries)
    return counts


def test_every_admin_list_page_runs_the_same_queries_for_few_and_many_rows(client, superuser):
    client.force_login(superuser)
    bulk_seed(patients=2, sessions_per_patient=6, seed=41)
    _fill_security_tables(2)
    few_rows = {model._meta.label: model.objects.count() for model, _ in _changelists()}
    _query_counts(client)  # warm the per-process caches (content types) first
    few = _query_counts(client)
    bulk_seed(patients=25, sessions_per_patient=6, seed=42)
    _fill_security_tables(25)
    many_rows = {model._meta.label: model.objects.count() for model, _ in _changelists()}
    many = _query_counts(client)
    for label, count in few_rows.items():
        if label not in FIXED_SIZE:
            assert count >= 1, f"{label}: the small data set must show at least one row"
            assert many_rows[label] >= max(20, 2 * count), label
    assert many == few


def test_session_change_page_queries_do_not_grow_with_vitals_and_side_effects(client,
                                                                               superuser):
    """A session page loads its steps, vitals and side effects in a fixed number of queries."""
    from sessions.models import TreatmentSession

    client.force_login(superuser)
    bulk_seed(patients=3, sessions_per_patient=8, seed=43)
    counts = {}
    completed = TreatmentSession.objects.filter(status="completed").select_related(
        "administration")
    url = reverse("admin:treatment_sessions_treatmentsession_change", args=[completed[0].pk])
    client.get(url)  # warm the per-process caches (content types) first
    for session in completed:
        vitals = session.vital_signs.count()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:treatment_sessions_treatmentsession_change",
                                          args=[session.pk]))
        assert response.status_code == 200
        counts.setdefault(len(queries), []).append((vitals, session.side_effects.count()))
    sizes = {pair for pairs in counts.values() for pair in pairs}
    assert len(sizes) > 1, "sessions of different sizes are compared"
    assert len(counts) == 1, counts
