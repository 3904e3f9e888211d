"""The history's charts read each session's point as the database's triggers keep it
(sessions/change_stamps.py), worked out in SQL. These tests hold that SQL to the rules the rest
of the clinic applies in Python (sessions/scales.py for the totals,
sessions/safety.blood_pressure_baseline_and_peak for the blood pressure), session by session, and
check that every way of writing leaves the same points as working them out afresh."""

import json
import random
import re
import threading
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection, connections, transaction
from django.utils import timezone

from patients import selectors
from sessions import change_stamps
from sessions.models import (
    Consultation,
    Evaluation,
    Monitoring,
    SessionChangeStamp,
    TreatmentSession,
    VitalSign,
)
from tests.factories import (
    CourseFactory,
    PatientFactory,
    SessionFactory,
    consultation_data,
    evaluation_data,
    monitoring_data,
)
from tests.pages import bulk_history

pytestmark = pytest.mark.django_db

PHASES = [phase for phase, _ in VitalSign.Phase.choices]


def expected_series(patient) -> dict:
    """The charts as the Python rules draw them: each session loaded whole, its scores from the
    consultation's own totals, its blood pressure from the readings its card shows."""
    sessions = list(TreatmentSession.objects.filter(patient=patient, is_archived=False)
                    .order_by("scheduled_at", "id"))
    entries = selectors.timeline_entries([session.pk for session in sessions])
    points = []
    for session in sessions:
        entry = entries[session.pk]
        monitoring = session.step_record("monitoring")
        cadss = monitoring.cadss_score if monitoring else None
        if entry.consultation is None and cadss is None:
            continue
        points.append((
            timezone.localtime(session.scheduled_at).date().isoformat(),
            entry.consultation and entry.consultation["phq9_total"],
            entry.consultation and entry.consultation["gad7_total"],
            cadss, *(entry.baseline_bp or (None, None)), *(entry.peak_bp or (None, None))))
    return selectors._chart_series(points)


def charted(patient) -> dict:
    script = selectors.patient_record(patient).chart_script
    return json.loads(re.search(r">(.*)</script>", script).group(1))


def random_vitals(session, user, rng: random.Random) -> None:
    """Up to eight readings in any phase, some at the same minute (the id decides which is
    later), some archived, some with the same systolic and a different diastolic."""
    start = session.scheduled_at
    VitalSign.objects.bulk_create([VitalSign(
        session=session, recorded_by=user, phase=rng.choice(PHASES),
        systolic_mmhg=rng.choice((118, 130, 130, 151, 162)),
        diastolic_mmhg=rng.choice((70, 84, 96)),
        measured_at=start + timedelta(minutes=rng.choice((0, 10, 10, 40, 95))),
        is_archived=rng.random() < 0.2) for _ in range(rng.randrange(0, 9))])


def test_the_charts_show_the_points_the_python_rules_give_at_every_step(clinician):
    rng = random.Random(6)
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=3)
    for number in range(40):
        session = SessionFactory(course=course, scheduled_at=timezone.now()
                                 - timedelta(days=400 - number, minutes=rng.randrange(1440)))
        if rng.random() < 0.7:
            Consultation.objects.create(session=session, recorded_by=clinician,
                                        **consultation_data(**{
                                            f"phq9_item_{n}": rng.randrange(4)
                                            for n in range(1, 10)}))
        if rng.random() < 0.6:
            Evaluation.objects.create(session=session, recorded_by=clinician,
                                      **evaluation_data(systolic_mmhg=rng.choice((128, 165)),
                                                        diastolic_mmhg=rng.choice((80, 101))))
        random_vitals(session, clinician, rng)
        if rng.random() < 0.3:
            Monitoring.objects.create(session=session, recorded_by=clinician,
                                      observation_minutes=125,
                                      **monitoring_data(cadss_score=rng.randrange(93)))
    series = charted(course.patient)
    assert series == expected_series(course.patient)
    for zone in ("Pacific/Auckland", "America/Los_Angeles"):  # labels are the clinic's dates
        with timezone.override(zone):
            assert charted(course.patient) == expected_series(course.patient)
    # The data reach every branch of the rules.
    assert None in series["phq9"] and None in series["baseline_systolic"]
    assert None in series["peak_systolic"] and len(set(series["peak_systolic"])) > 3
    assert any(cadss is not None for cadss in series["cadss"])


def stored_points() -> dict:
    fields = ("session_id", "stamp", *change_stamps.CHART_COLUMNS)
    return {row[0]: row[2:] for row in SessionChangeStamp.objects.values_list(*fields)}


def raw_points(select: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(select)
        return {session_id: tuple(values) for session_id, *values in cursor.fetchall()}


def points_as_kept_and_worked_out_afresh() -> tuple[dict, dict]:
    """The chart columns as the triggers left them, and as the same SQL gives them now over
    every session (both read raw, so compared value for value)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in ("session_id", *change_stamps.CHART_COLUMNS))
    kept = raw_points(f"SELECT {columns} FROM {quote(SessionChangeStamp._meta.db_table)}")
    return kept, raw_points(change_stamps.chart_select(apps, quote, "1 = 1"))


def test_every_way_of_writing_leaves_the_points_a_fresh_reckoning_gives(clinician):
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=4)
    first, second, third, fourth = TreatmentSession.objects.filter(
        patient=course.patient).order_by("scheduled_at")
    before = stored_points()
    VitalSign.objects.filter(session=first, phase="pre_dose").update(phase="periodic")
    VitalSign.objects.filter(session=second).order_by("id").first().delete()
    Evaluation.objects.filter(session=third).delete()
    Consultation.objects.filter(session=third).update(gad7_item_1=3)
    Monitoring.objects.filter(session=third).update(cadss_score=50)
    other = PatientFactory()
    TreatmentSession.objects.filter(pk=fourth.pk).update(patient=other, is_archived=True)
    with connection.cursor() as cursor:  # as psql would
        cursor.execute(f"UPDATE {VitalSign._meta.db_table} SET systolic_mmhg = 199 "
                       f"WHERE session_id = %s", [second.pk])
    after = stored_points()
    kept, afresh = points_as_kept_and_worked_out_afresh()
    assert kept == afresh
    assert {pk for pk in after if after[pk] != before[pk]} == {
        first.pk, second.pk, third.pk, fourth.pk}
    assert after[fourth.pk][:3] == (other.pk, fourth.scheduled_at, True)
    assert charted(course.patient) == expected_series(course.patient)


def test_a_reading_moved_to_another_session_changes_both_points(clinician):
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=2)
    older, newer = TreatmentSession.objects.filter(patient=course.patient).order_by(
        "scheduled_at")
    VitalSign.objects.filter(session=older, systolic_mmhg=148).update(session=newer,
                                                                      systolic_mmhg=187)
    kept, afresh = points_as_kept_and_worked_out_afresh()
    assert kept == afresh
    assert charted(course.patient)["peak_systolic"] == [136, 187]
    assert charted(course.patient) == expected_series(course.patient)


def test_a_session_deleted_leaves_no_point(clinician):
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=2)
    gone = TreatmentSession.objects.filter(patient=course.patient).first()
    for model in (VitalSign, *(apps.get_model("treatment_sessions", name) for name in (
            "SideEffectObservation", "Consultation", "Evaluation", "ExpectationSetting",
            "Administration", "Monitoring"))):
        model.objects.filter(session=gone).delete()
    TreatmentSession.objects.filter(pk=gone.pk).delete()
    assert gone.pk not in stored_points()
    assert len(charted(course.patient)["labels"]) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite has one writer at a time, so nothing is recorded at once: "
                           "run by make test's PostgreSQL pass")
def test_a_reading_committed_while_another_is_recorded_is_in_the_point(clinician):
    """Two nurses record a reading of the same session at once. The second transaction's
    trigger waits for the first to commit, then works the point out from what is committed:
    the peak is the first nurse's 190, not the 180 the second alone would give."""
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=1)
    session = TreatmentSession.objects.get(patient=course.patient)
    first_inserted, second_waiting = threading.Event(), threading.Event()
    errors = []

    def record(systolic, inserted=None, wait_for=None):
        try:
            with transaction.atomic():
                VitalSign.objects.create(
                    session=session, recorded_by=clinician, phase="periodic",
                    systolic_mmhg=systolic, diastolic_mmhg=90,
                    measured_at=session.scheduled_at + timedelta(minutes=70))
                if inserted is not None:
                    inserted.set()
                if wait_for is not None:
                    assert wait_for.wait(20), "the second nurse's insert never waited"
        except Exception as error:  # noqa: BLE001 (reported below, in the test's thread)
            errors.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=record, args=(190, first_inserted, second_waiting))
    second = threading.Thread(target=record, args=(180,))
    first.start()
    assert first_inserted.wait(20)
    second.start()
    for _ in range(200):  # until the second transaction waits for the first's row lock
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()")
            if cursor.fetchone()[0]:
                break
        threading.Event().wait(0.05)
    second_waiting.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert charted(course.patient)["peak_systolic"] == [190]
    kept, afresh = points_as_kept_and_worked_out_afresh()
    assert kept == afresh
