"""The large-table paginator numbers pages from PostgreSQL's estimate only for an unfiltered
list of a big table; everything else is counted exactly."""

import pytest
from django.db import connection

from sessions import paginators
from sessions.bulk_demo import bulk_seed
from sessions.models import TreatmentSession
from sessions.paginators import LargeTablePaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions(db):
    bulk_seed(patients=3, sessions_per_patient=7, seed=61)
    return TreatmentSession.objects.order_by("-scheduled_at")


def test_small_tables_and_filtered_lists_are_counted_exactly(sessions):
    assert LargeTablePaginator(sessions, 5).count == 21
    completed = sessions.filter(status="completed")
    assert LargeTablePaginator(completed, 5).count == completed.count()


def test_above_the_threshold_an_unfiltered_list_uses_the_planner_estimate(sessions,
                                                                          monkeypatch):
    monkeypatch.setattr(paginators, "EXACT_COUNT_UP_TO", 0)
    filtered = sessions.filter(status="scheduled")
    assert LargeTablePaginator(filtered, 5).count == filtered.count()  # still exact
    if connection.vendor != "postgresql":
        assert LargeTablePaginator(sessions, 5).count == 21  # no estimate on SQLite
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE treatment_sessions_treatmentsession")
        cursor.execute("SELECT reltuples::bigint FROM pg_class "
                       "WHERE oid = 'treatment_sessions_treatmentsession'::regclass")
        estimate = cursor.fetchone()[0]
    assert estimate > 0
    assert LargeTablePaginator(sessions, 5).count == estimate
