"""The patient searches can be answered from indexes on PostgreSQL (the bench checks that the
planner picks them at network scale; here, that they match the queries the searches run)."""

import pytest
from django.db import connection

from patients.models import Patient
from patients.selectors import patient_search
from sessions.models import TreatmentCourse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="trigram indexes are PostgreSQL's: run by make test's "
                              "PostgreSQL pass"),
]


def plan(queryset, *, bitmap_only: bool = False) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A test database is too small for the planner to prefer an index: forbid reading
        # the table whole (and, for a search, walking a B-tree whole), so only an index that
        # matches the query's expressions can answer it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        if bitmap_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_a_search_by_part_of_a_name_or_mrn_uses_the_trigram_indexes():
    explained = plan(patient_search(query="bern"), bitmap_only=True)
    for column in ("first_name", "last_name", "mrn"):
        assert f"patient_{column}_trgm_idx" in explained, explained
    assert "Seq Scan on patients_patient" not in explained


def test_the_admin_search_by_email_uses_its_trigram_index():
    explained = plan(Patient.objects.filter(email__icontains="example"), bitmap_only=True)
    assert "patient_email_trgm_idx" in explained and "Seq Scan" not in explained


def test_the_course_list_is_read_in_index_order():
    explained = plan(TreatmentCourse.objects.all()[:100])
    assert "course_ordering_idx" in explained and "Sort" not in explained
