"""The history page's cache never shows a clinician something that has changed.

Each test opens the history (filling the cache), changes the record by some path that bypasses
the services — a queryset update, a bulk insert, a delete, raw SQL, as an admin action, a
script or psql would — and opens it again: the change shows. The database's triggers
(sessions/change_stamps.py) are what make that true, so every path is tested on both databases.
"""

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.append_only import is_history_model
from patients import history_cache
from patients.models import HistoryCacheEntry
from patients.tasks import history_cache_prune_task, history_cache_warm_today_task
from sessions import change_stamps
from sessions.models import (
    Administration,
    Consultation,
    Evaluation,
    ExpectationSetting,
    Monitoring,
    SideEffectObservation,
    SymptomType,
    TreatmentSession,
    VitalSign,
)
from tests.factories import (
    CourseFactory,
    SessionFactory,
    symptom,
)
from tests.pages import bulk_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(client, clinician):
    """A patient with three completed sessions and a function returning their history page,
    already seen once (so cached)."""
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=3)
    client.force_login(clinician)
    url = reverse("patient_history", args=[course.patient.pk])

    def page() -> str:
        response = client.get(url)
        assert response.status_code == 200
        return response.content.decode()

    page()
    history = TreatmentSession.objects.filter(patient=course.patient)
    return page, history.order_by("-scheduled_at").first(), course


def newest_card(page: str) -> str:
    return re.search(r"<article .*?</article>", page, re.S).group(0)


def add_vital_in_bulk(session, user, systolic: int, diastolic: int) -> None:
    """A periodic vital an hour into the session, by bulk_create (no service, no signal)."""
    VitalSign.objects.bulk_create([VitalSign(
        session=session, recorded_by=user, phase="periodic", systolic_mmhg=systolic,
        diastolic_mmhg=diastolic, measured_at=session.started_at + timedelta(minutes=60))])


def chart(page: str) -> dict:
    return json.loads(re.search(r'<script id="chart-data" type="application/json">(.*?)'
                                r"</script>", page).group(1))


def test_a_vital_added_shows_in_its_card_and_the_blood_pressure_chart(history, clinician):
    page, newest, _ = history
    assert "199/84" not in page()
    add_vital_in_bulk(newest, clinician, 199, 84)
    seen = page()
    assert "199/84" in newest_card(seen)
    assert chart(seen)["peak_systolic"][-1] == 199


def test_a_vital_archived_by_raw_sql_leaves_its_card(history):
    page, newest, _ = history
    assert "<td>148/84</td>" in newest_card(page())
    vital = VitalSign.objects.get(session=newest, systolic_mmhg=148)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {VitalSign._meta.db_table} SET is_archived = %s WHERE id = %s",
                       [True, vital.pk])
    seen = page()
    assert "<td>148/84</td>" not in newest_card(seen)
    assert "peak 136/84" in newest_card(seen)  # the next highest after dosing
    assert chart(seen)["peak_systolic"][-1] == 136


def test_changed_answers_change_the_scores_in_the_card_and_the_chart(history):
    page, newest, _ = history
    before = chart(page())["phq9"][-1]
    Consultation.objects.filter(session=newest).update(phq9_item_9=3)
    seen = page()
    assert chart(seen)["phq9"][-1] == before + 3
    assert f"PHQ-9 {before + 3} " in newest_card(seen)
    assert "item 9 above 0" in newest_card(seen)


@pytest.mark.parametrize(("model", "change", "shown"), [
    (Evaluation, {"decision": "held"}, "Evaluation: held"),
    (Administration, {"lot_number": "LOT-RECALLED"}, "lot LOT-RECALLED"),
    (Monitoring, {"discharged_with": "Sister"}, "discharged with Sister"),
])
def test_a_step_corrected_in_place_shows_corrected(history, model, change, shown):
    page, newest, _ = history
    assert shown not in page()
    model.objects.filter(session=newest).update(**change)
    assert shown in newest_card(page())


def test_a_step_deleted_shows_as_missing(history):
    page, newest, _ = history
    assert "step-missing" not in newest_card(page())
    ExpectationSetting.objects.filter(session=newest).delete()
    assert 'class="step-missing" title="Setting expectations"' in newest_card(page())


def test_a_side_effect_added_and_a_symptom_renamed_show(history, clinician):
    page, newest, _ = history
    page()
    SideEffectObservation.objects.create(
        session=newest, recorded_by=clinician, symptom=symptom("Visual disturbances"),
        severity="moderate", onset_at=newest.started_at + timedelta(minutes=20),
        intervention="reassurance")
    assert "Visual disturbances" in newest_card(page())
    SymptomType.objects.filter(name="Nausea", category="acute").update(name="Queasiness")
    seen = page()
    assert "Nausea" not in seen
    assert seen.count("Queasiness") == 3  # every session's card that observed it


def test_session_changes_show_in_the_timeline_and_the_charts(history, clinician):
    page, newest, course = history
    assert "newest first, 3</small>" in page()
    TreatmentSession.objects.filter(pk=newest.pk).update(
        status="cancelled", cancelled_at=timezone.now(), cancellation_reason="Unwell today")
    assert "Cancelled: Unwell today" in newest_card(page())
    moved = newest.scheduled_at + timedelta(days=1)
    TreatmentSession.objects.filter(pk=newest.pk).update(scheduled_at=moved)
    assert chart(page())["labels"][-1] == timezone.localtime(moved).strftime("%Y-%m-%d")
    TreatmentSession.objects.filter(pk=newest.pk).update(is_archived=True)
    assert "newest first, 2</small>" in page()
    bulk_history(course=course, user=clinician, count=2)
    seen = page()
    assert "newest first, 4</small>" in seen and len(chart(seen)["labels"]) == 4


def test_a_change_renders_only_its_own_session_again(history, clinician):
    page, newest, _ = history
    add_vital_in_bulk(newest, clinician, 150, 84)
    with CaptureQueriesContext(connection) as queries:
        seen = page()
    vitals_loaded_for = [
        re.search(r'"session_id" IN \(([\d, ]+)\)', query["sql"]).group(1)
        for query in queries.captured_queries
        if f'FROM "{VitalSign._meta.db_table}"' in query["sql"]
        and re.search(r'"session_id" IN \([\d, ]+\)', query["sql"])]
    assert vitals_loaded_for == [str(newest.pk)]  # the other two cards came from the cache
    charted = [re.search(r'"id" IN \(([\d, ]+)\)', query["sql"]).group(1)
               for query in queries.captured_queries
               if f'"{Consultation._meta.db_table}"."phq9_item_1"' in query["sql"]]
    # That session's steps are read once, for its card and its chart point; no other's.
    assert charted == [str(newest.pk)]
    assert "150/84" in newest_card(seen) and seen.count("<article ") == 3


def test_every_restamping_trigger_is_installed():
    """A migration that rebuilds one of these tables (SQLite rebuilds a table to alter it)
    drops its triggers: it must run sessions.change_stamps.install again."""
    expected = {name for names in change_stamps.trigger_names(apps).values() for name in names}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {name for (name,) in cursor.fetchall()}
    assert expected - present == set()


def test_every_model_recorded_for_a_session_restamps_it_or_is_never_cached():
    """A new model holding something of a session must join change_stamps.SESSION_ROW_MODELS
    (if its card or the charts show it) or NOT_CACHED (if the history reads it fresh)."""
    for model in apps.get_app_config("treatment_sessions").get_models():
        if is_history_model(model):
            continue
        points_at_session = any(field.is_relation and field.concrete
                                and field.related_model is TreatmentSession
                                for field in model._meta.get_fields())
        if points_at_session:
            assert model.__name__ in (change_stamps.SESSION_ROW_MODELS
                                      + change_stamps.NOT_CACHED), model.__name__


# --- the shared tier: what one web process built, another reads --------------------------------

def another_process():
    """What a second gunicorn worker, or this one after a restart, starts with: its memory
    tier empty, the database tier as the first process left it."""
    caches[history_cache.CACHE_ALIAS].clear()


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_another_process_shows_the_record_without_rebuilding_it(history):
    page, _, _ = history
    first = page()
    another_process()
    with CaptureQueriesContext(connection) as queries:
        again = page()
    assert without_csrf_token(again) == without_csrf_token(first)
    steps_read = [query["sql"] for query in queries.captured_queries
                  if f'"{Consultation._meta.db_table}"' in query["sql"]]
    assert steps_read == []  # neither the charts nor a card were built again


def test_another_process_shows_a_change_made_since(history, clinician):
    page, newest, _ = history
    page()
    another_process()
    add_vital_in_bulk(newest, clinician, 197, 83)
    seen = page()
    assert "197/83" in newest_card(seen)
    assert chart(seen)["peak_systolic"][-1] == 197


def test_each_page_writes_the_database_tier_in_one_statement(history, clinician):
    page, newest, _ = history
    add_vital_in_bulk(newest, clinician, 151, 84)
    another_process()
    with CaptureQueriesContext(connection) as queries:
        page()
    table = HistoryCacheEntry._meta.db_table
    writes = [query["sql"] for query in queries.captured_queries
              if query["sql"].startswith(f'INSERT INTO "{table}"')]
    assert len(writes) == 1  # the patient's record and the changed session's card together


def test_a_new_look_of_the_cards_is_never_served_from_an_old_one(tmp_path):
    card = tmp_path / "_session_card.html"
    card.write_text("<article>{{ item.when }}</article>")
    before = history_cache.content_version([card])
    card.write_text("<article class='card'>{{ item.when }}</article>")
    assert history_cache.content_version([card]) != before


def test_prune_forgets_old_entries_and_those_of_another_version(history):
    page, _, _ = history
    page()
    kept = set(HistoryCacheEntry.objects.values_list("key", flat=True))
    assert kept  # the page stored its record and cards
    now = timezone.now()
    HistoryCacheEntry.objects.bulk_create([
        HistoryCacheEntry(key="0ld0ld0ld0ld:card:1:2:UTC", value=b"x", stored_at=now),
        HistoryCacheEntry(key=f"{history_cache.CONTENT_VERSION}:card:1:3:UTC", value=b"x",
                          stored_at=now - timedelta(days=settings.HISTORY_CACHE_DAYS + 1)),
    ])
    assert history_cache_prune_task() == 2
    assert set(HistoryCacheEntry.objects.values_list("key", flat=True)) == kept
    another_process()
    assert "newest first, 3</small>" in page()


# Modules patients/selectors.py imports whose code shapes nothing the cache keeps, and why.
NOT_CACHED_SOURCES = {
    "patients.models": "the patient row and its conditions are read on every view",
    "patients.risk": "risk flags are worked out on every view",
    "sessions.selectors": "Bounded: the side lists, read on every view",
}


def test_every_source_of_what_the_cache_keeps_is_in_its_version():
    """A deploy that changes how a card or a chart point is built must not serve the old
    ones: whatever the selectors import from the project either shapes the cached content
    (and is in CONTENT_SOURCES, so a change to it renames every key) or is read fresh."""
    root = Path(settings.BASE_DIR)
    versioned = {path.relative_to(root).as_posix() for path in history_cache.CONTENT_SOURCES}
    source = (root / "patients" / "selectors.py").read_text()
    imported = {module.replace(".", "/") + ".py" for module in
                re.findall(r"^from ((?:patients|sessions)\.\w+) import", source, re.M)}
    imported |= {f"sessions/{module}.py"
                 for module in re.findall(r"^from sessions import (\w+)", source, re.M)}
    read_fresh = {module.replace(".", "/") + ".py" for module in NOT_CACHED_SOURCES}
    assert imported - read_fresh <= versioned, "add what shapes cached content to CONTENT_SOURCES"
    card = (root / "templates" / "jinja2" / history_cache.CARD_TEMPLATE).read_text()
    assert not re.search(r"{%-? *(include|extends|import|from)\b", card)  # else sources too


# --- warming: the day's patients are built before anyone opens them ---------------------------

def steps_read_by(page) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        page()
    return [query["sql"] for query in queries.captured_queries
            if f'"{Consultation._meta.db_table}"' in query["sql"]]


def test_todays_patients_are_built_in_the_background_so_their_first_view_reads(
        client, clinician):
    today, last_month = (CourseFactory(responsible_clinician=clinician) for _ in range(2))
    for course in (today, last_month):
        bulk_history(course=course, user=clinician, count=3)
    SessionFactory(course=today, scheduled_at=timezone.now())
    assert history_cache_warm_today_task() == 1  # the patient seen today, not the other
    assert history_cache_warm_today_task() == 0  # nothing changed since: nothing to build
    another_process()
    client.force_login(clinician)
    for course, built in ((today, True), (last_month, False)):
        url = reverse("patient_history", args=[course.patient.pk])
        assert (steps_read_by(lambda url=url: client.get(url)) == []) is built


def test_a_change_since_the_last_warming_is_built_by_the_next(history, clinician):
    page, newest, course = history
    SessionFactory(course=course, scheduled_at=timezone.now())
    history_cache_warm_today_task()
    add_vital_in_bulk(newest, clinician, 188, 86)
    assert history_cache_warm_today_task() == 1
    another_process()
    assert steps_read_by(page) == []
    assert "188/86" in page()


def test_the_warm_command_says_how_many_patients_it_built(clinician):
    course = CourseFactory(responsible_clinician=clinician)
    bulk_history(course=course, user=clinician, count=2)  # a week ago and two weeks ago
    out = io.StringIO()
    call_command("history_cache_warm", days=7, stdout=out)
    assert "1 of 1 patients built" in out.getvalue()
    with pytest.raises(CommandError, match="--days must be 0 or more"):
        call_command("history_cache_warm", days=-1)
