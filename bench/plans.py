"""EXPLAIN (ANALYZE) of the queries the list pages, the history page, the services and the
reminder dispatcher run, built from the same querysets the code builds (PostgreSQL only)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from patients.models import Condition, Patient
from sessions.admin import STEP_SELECT_RELATED
from sessions.bulk_demo import bulk_patients
from sessions.models import (
    FollowUp,
    Reminder,
    SideEffectObservation,
    TreatmentSession,
    VitalSign,
)


def _scans(node: dict) -> list[str]:
    found = []
    if "Scan" in node["Node Type"] or node["Node Type"] in ("Sort", "Incremental Sort"):
        where = node.get("Index Name") or node.get("Relation Name") or ""
        found.append(f"{node['Node Type']} {where}".strip())
    for child in node.get("Plans", []):
        found += _scans(child)
    return found


def explain(query) -> tuple[float, list[str]]:
    """`query`: a queryset, or (sql, params)."""
    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = query if isinstance(query, tuple) else query.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)  # FOR UPDATE claims lock rows; release them
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return plan[0]["Execution Time"], _scans(plan[0]["Plan"])


def queries() -> list[tuple[str, object]]:
    now = timezone.now()
    patient = bulk_patients("history500").first() or Patient.objects.order_by("id").first()
    term = Patient.objects.values_list("last_name", flat=True).order_by("last_name").first()
    session_ids = list(patient.sessions.values_list("id", flat=True))
    session = patient.sessions.filter(status="completed").first()
    course = patient.courses.first()
    today = timezone.localdate()
    day_start = timezone.make_aware(timezone.datetime(today.year, today.month, today.day))
    return [
        ("session changelist page", TreatmentSession.objects.select_related(
            *STEP_SELECT_RELATED).order_by("-scheduled_at", "-id")[:100]),
        ("session changelist count",
         ("SELECT COUNT(*) FROM treatment_sessions_treatmentsession", [])),
        ("session changelist, patient-name search", TreatmentSession.objects.filter(
            Q(patient__last_name__icontains=term) | Q(patient__first_name__icontains=term)
            | Q(patient__mrn__icontains=term)).order_by("-scheduled_at", "-id")[:100]),
        ("patient changelist page", Patient.objects.order_by("last_name", "first_name",
                                                              "id")[:100]),
        ("patient search (admin icontains)", Patient.objects.filter(
            Q(mrn__icontains=term) | Q(last_name__icontains=term)
            | Q(first_name__icontains=term) | Q(email__icontains=term))
            .order_by("last_name", "first_name", "id")[:100]),
        ("vital signs changelist page", VitalSign.objects.select_related("session__patient")
         .order_by("measured_at", "id")[:100]),
        ("side effects changelist page", SideEffectObservation.objects.order_by(
            "onset_at", "id")[:100]),
        ("follow-ups changelist page", FollowUp.objects.order_by("due_on", "id")[:100]),
        ("reminders changelist page", Reminder.objects.order_by("due_at", "id")[:100]),
        ("history: sessions of a patient (500)", TreatmentSession.objects.filter(
            patient=patient).select_related(*STEP_SELECT_RELATED).order_by("-scheduled_at")),
        ("history: vitals of those sessions", VitalSign.objects.filter(
            session_id__in=session_ids).order_by("measured_at", "id")),
        ("history: side effects of those sessions", SideEffectObservation.objects.filter(
            session_id__in=session_ids).order_by("onset_at", "id")),
        ("history: follow-ups", FollowUp.objects.filter(patient=patient).order_by("due_on")),
        ("history: reminders", Reminder.objects.filter(patient=patient).order_by("due_at")),
        ("service: active conditions (evaluation)", Condition.objects.filter(
            patient=patient, is_active=True)),
        ("service: unresolved side effects (monitoring)", SideEffectObservation.objects.filter(
            session=session, is_archived=False, resolved_at__isnull=True)),
        ("service: pre-dose baseline", VitalSign.objects.filter(
            session=session, phase="pre_dose", is_archived=False).order_by("-measured_at")[:1]),
        ("service: in-progress sessions of a course", TreatmentSession.objects.filter(
            course=course, status="in_progress")),
        ("dispatcher: claim due reminders", Reminder.objects.filter(
            status="pending", due_at__lte=now).order_by("due_at")
         .select_for_update(skip_locked=True)[:500]),
        ("dispatcher: reclaim expired leases", Reminder.objects.filter(
            status="sending", claimed_at__lt=now - timedelta(minutes=10))),
        ("dashboard: today's sessions", TreatmentSession.objects.filter(
            scheduled_at__gte=day_start, scheduled_at__lt=day_start + timedelta(days=1))
         .select_related(*STEP_SELECT_RELATED)),
        ("dashboard: in monitoring now", TreatmentSession.objects.filter(
            status="in_progress", administration__isnull=False)),
        ("dashboard: serious side effects, 7 days", SideEffectObservation.objects.filter(
            Q(is_serious=True) | Q(severity__in=("severe", "life_threatening")),
            onset_at__gte=now - timedelta(days=7)).order_by("-onset_at")),
        ("dashboard: failed reminders", Reminder.objects.filter(status="failed")
         .order_by("-due_at")),
    ]


def explain_all() -> list[tuple[str, float, str, str]]:
    rows = []
    for name, query in queries():
        ms, scans = explain(query)
        seq = [s for s in scans if s.startswith("Seq Scan")]
        access = "seq scan" if seq else "index"
        rows.append((name, ms, access, "; ".join(dict.fromkeys(scans))))
    return rows
