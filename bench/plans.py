"""EXPLAIN (ANALYZE) at full size, on PostgreSQL: every SELECT a measured page runs, captured
while it runs (so the plans are of the real queries, not copies of them), and the queries of
the services and the reminder dispatcher, built from the same querysets the code builds."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from patients.models import Condition, Patient
from sessions.bulk_demo import bulk_patients
from sessions.dispatch import _claimable
from sessions.models import (
    Reminder,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)
from sessions.reminders import ReminderSettings


def _scans(node: dict) -> list[str]:
    found = []
    if "Scan" in node["Node Type"] or node["Node Type"] in ("Sort", "Incremental Sort"):
        where = node.get("Index Name") or node.get("Relation Name") or ""
        found.append(f"{node['Node Type']} {where}".strip())
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def _plan(query) -> dict:
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = query if isinstance(query, tuple) else query.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)  # FOR UPDATE claims lock rows; release them
    return (plan if isinstance(plan, list) else json.loads(plan))[0]


def explain(query) -> tuple[float, list[str]]:
    """`query`: a queryset, or (sql, params)."""
    plan = _plan(query)
    return plan["Execution Time"], _scans(plan["Plan"])


def _big_seq_scans(node: dict, min_rows: int) -> list[str]:
    """Sequential scans that read at least `min_rows` rows (small tables are fine to scan)."""
    found = []
    if node["Node Type"] == "Seq Scan":
        read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get(
            "Actual Loops", 1)
        if read >= min_rows:
            found.append(f"{node.get('Relation Name')} ({read:,} rows)")
    for child in node.get("Plans", []):
        found += _big_seq_scans(child, min_rows)
    return found


def queries() -> list[tuple[str, object]]:
    """The services' and the dispatcher's queries (the pages' own are captured as they run:
    see `explain_captured`)."""
    now = timezone.now()
    reminder_settings = ReminderSettings.from_settings()
    patient = bulk_patients("history500").first() or Patient.objects.order_by("id").first()
    session = patient.sessions.filter(status="completed").first()
    course = patient.courses.first()
    return [
        ("service: active conditions (evaluation)", Condition.objects.filter(
            patient=patient, is_active=True)),
        ("service: unresolved side effects (monitoring)", SideEffectObservation.objects.filter(
            session=session, is_archived=False, resolved_at__isnull=True)),
        ("service: pre-dose baseline", VitalSign.objects.filter(
            session=session, phase="pre_dose", is_archived=False).order_by("-measured_at")[:1]),
        ("service: in-progress sessions of a course", TreatmentSession.objects.filter(
            course=course, status="in_progress")),
        # The dispatcher's own conditions (due pending rows, or sending ones whose lease ran out).
        ("dispatcher: claim due reminders", Reminder.objects.filter(
            _claimable(now, reminder_settings)).order_by("due_at", "id")
         .select_for_update(skip_locked=True).values_list("pk", flat=True)
         [:reminder_settings.batch_size]),
        ("dispatcher: give up on exhausted leases", Reminder.objects.filter(
            _claimable(now, reminder_settings), status="sending",
            attempts__gte=reminder_settings.max_attempts)),
    ]


def explain_all() -> list[tuple[str, float, str, str]]:
    rows = []
    for name, query in queries():
        ms, scans = explain(query)
        seq = [s for s in scans if s.startswith("Seq Scan")]
        access = "seq scan" if seq else "index"
        rows.append((name, ms, access, "; ".join(dict.fromkeys(scans))))
    return rows


def explain_captured(captured: list[dict], *, min_scan_rows: int = 10_000) -> dict:
    """EXPLAIN ANALYZE every SELECT a page ran (as CaptureQueriesContext captured it, values
    bound): their summed execution time, the slowest, and any sequential scan that read
    `min_scan_rows` rows or more."""
    plans = []
    for query in captured:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue  # BEGIN/COMMIT, savepoints, the access-log INSERT
        plan = _plan((sql, None))
        plans.append({"ms": plan["Execution Time"], "scans": _scans(plan["Plan"]),
                      "big_seq_scans": _big_seq_scans(plan["Plan"], min_scan_rows),
                      "sql": sql})
    slowest = max(plans, key=lambda plan: plan["ms"], default=None)
    return {"selects": len(plans), "total_ms": sum(plan["ms"] for plan in plans),
            "slowest": slowest,
            "big_seq_scans": sorted({scan for plan in plans for scan in plan["big_seq_scans"]}),
            "plans": plans}


def summary(explained: dict) -> str:
    """One line for the table: where the database time of a page goes."""
    if not explained["selects"]:
        return ""
    slowest = explained["slowest"]
    first_scans = "; ".join(dict.fromkeys(slowest["scans"][:3]))
    seq = ", ".join(explained["big_seq_scans"]) or "none"
    return (f"PostgreSQL {explained['total_ms']:.1f} ms in {explained['selects']} SELECTs, "
            f"slowest {slowest['ms']:.1f} ms ({first_scans}); big seq scans: {seq}")
