"""The benchmark harness itself: rows it reports are real measurements of real pages, hooks
for pages not built yet say why, and the table shows every row."""

import argparse

import pytest
from django.db import connection
from django.urls import NoReverseMatch, reverse

from bench import run
from sessions.bulk_demo import bulk_seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def bench(db):
    bulk_seed(patients=3, sessions_per_patient=4, seed=71)
    for size in run.HISTORY_SIZES[:2]:
        bulk_seed(patients=1, sessions_per_patient=size, seed=71 + size, tag=f"history{size}")
    from sessions.demo import ensure_accounts

    ensure_accounts()
    args = argparse.Namespace(repeat=3, tasks=10, concurrency=1)
    return run.Bench(args=args, database_url="", broker_url="")


def test_a_page_row_has_timings_and_the_query_count(bench):
    plumbing, layout = run.trivial_page(bench)
    for row in (plumbing, layout):
        assert row.status == "ok"
        assert 0 < row.median_ms <= row.p95_ms
        assert row.queries >= 2  # the session and the user, at least
    assert bench.facts["trivial_ms"] == plumbing.median_ms
    assert bench.facts["layout_ms"] == layout.median_ms
    assert layout.value != "0 KiB" and plumbing.value == "0 KiB"  # base.html vs plain text


def test_history_rows_give_their_ratio_to_both_yardsticks(bench):
    run.trivial_page(bench)
    rows = run.patient_history(bench)
    assert [row.name for row in rows[:4]] == [
        "patient history, 1 session, seen again",
        "patient history, 1 session, after a vital changes",
        "patient history, 1 session, first view in this process",
        "patient history, 1 session, never viewed, nothing cached"]
    for row in rows[:8]:  # 1 and 50 sessions: the fixture seeds no 500-session patient
        assert row.status == "ok"
        assert "× /healthz" in row.value and "× /account/" in row.value
        # Against the yardsticks timed alongside the page, not minutes earlier.
        assert row.data["ratios"]["layout_ms"] == pytest.approx(
            row.median_ms / row.data["alongside_ms"]["layout_ms"])
        assert row.data["alongside_ms"]["layout_ms"] > 0
        assert "timed alongside: /healthz" in row.note


def test_history_cases_measure_what_they_say(bench, django_assert_num_queries):
    """Seen again, the page reads neither the charts' rows nor a card's; in a new process it
    reads them from the database tier, not from the sessions; after a vital changes it reads
    the sessions again (tests/patients/test_history_cache.py shows only the changed one), and
    never viewed it also finds nothing in the database tier."""
    from sessions.bulk_demo import bulk_patients
    from sessions.models import VitalSign

    patient = bulk_patients("history50").first()
    vitals = VitalSign.objects.filter(session__patient=patient).count()
    queries = {row.name.split("50 sessions, ")[1]: row.queries
               for row in run.patient_history(bench) if "50 sessions" in row.name}
    assert (queries["seen again"] < queries["first view in this process"]
            < queries["after a vital changes"] < queries["never viewed, nothing cached"])
    # One vital recorded, then corrected before each request: the record does not grow.
    assert VitalSign.objects.filter(session__patient=patient).count() == vitals + 1


def test_every_admin_list_is_measured(bench):
    from django.contrib import admin

    rows = run.every_admin_changelist(bench)
    assert len(rows) == len(admin.site._registry)
    assert all(row.status == "ok" and row.queries for row in rows)


def test_a_page_that_fails_is_reported_not_timed(bench):
    with pytest.raises(RuntimeError, match="answered 404"):
        run.measure_page(bench, "missing", "/admin/no-such-page/")


def _url_exists(name, **kwargs):
    try:
        reverse(name, kwargs=kwargs or None)
        return True
    except NoReverseMatch:
        return False


def test_hooks_measure_a_page_once_it_exists_and_otherwise_say_why(bench):
    rows = run.dashboard(bench) + run.patient_search(bench)
    for row, exists in zip(rows, (_url_exists("dashboard"), _url_exists("patient_search")),
                           strict=True):
        if exists:
            assert row.status == "ok" and row.median_ms is not None
        else:
            assert row.status == "not available yet"
            assert "not merged" in row.note


def test_table_lists_every_row_with_its_status():
    rows = [run.Row(name="page", median_ms=1.5, p95_ms=2.0, queries=4, value="3 KiB"),
            run.Row(name="later", status="not available yet", note="no URL")]
    text = run.table(rows)
    assert "| page | 1.5 | 2.0 | 4 | 3 KiB |  |" in text
    assert "| later |  |  |  | **not available yet** | no URL |" in text


def test_p95_of_twenty_timings_is_the_nineteenth():
    assert run._p95([float(n) for n in range(1, 21)]) == 19.0


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="EXPLAIN plans are PostgreSQL's: run by make test's PostgreSQL pass")


@postgresql_only
def test_every_page_row_carries_the_plans_of_the_selects_it_ran(bench):
    row = run.dashboard(bench)[0]
    plans = row.data["plans"]
    assert plans["selects"] >= 5 and len(plans["plans"]) == plans["selects"]
    assert all(plan["sql"].startswith("SELECT") and plan["scans"] for plan in plans["plans"])
    assert f"in {plans['selects']} SELECTs" in row.note and "big seq scans:" in row.note


@postgresql_only
def test_dispatcher_and_service_plans_are_explained(bench):
    rows = {row.name: row for row in run.query_plans(bench)}
    claim = rows["plan: dispatcher: claim due reminders"]
    assert claim.median_ms is not None and claim.value in ("index", "seq scan")
    assert "reminder" in claim.note


def test_warming_reports_how_long_the_days_histories_take(bench):
    from django.utils import timezone

    from patients.selectors import patients_with_sessions_around

    todays = patients_with_sessions_around(day=timezone.localdate()).count()
    [row] = run.history_warming(bench)
    assert row.status == "ok" and row.value.endswith("patients/s")
    assert f"{min(todays, run.WARM_SAMPLE)} of today's {todays:,} patients built" in row.note
