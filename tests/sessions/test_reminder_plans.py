"""The statement that begins each reminder's attempt finds its row by primary key, whatever
the planner believes about how many rows are being sent.

Statistics are taken when nothing is being sent; a morning's burst then puts thousands of rows
in `sending`. Planned on those statistics, "id = X AND status = 'sending'" tied between the
primary key and the status index, and PostgreSQL walked every sending row of the status index
for each reminder: 24.6 s of PostgreSQL CPU for 10,000 reminders in `make bench` (9.7 s
since), growing with the burst."""

import pytest
from django.db import connection
from django.utils import timezone

from sessions.dispatch import _begin_loaded_attempt, _mark_sent_params, _mark_sent_sql
from sessions.models import Reminder
from sessions.reminders import ReminderSettings
from tests.factories import PatientFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="query plans are PostgreSQL's: run by make test's PostgreSQL "
                              "pass"),
]


def test_beginning_an_attempt_finds_the_row_by_primary_key_during_a_burst(monkeypatch):
    patient = PatientFactory()
    now = timezone.now()
    Reminder.objects.bulk_create(
        Reminder(kind="follow_up_check", cause=f"plan:{n}", patient=patient, due_at=now,
                 status="sent", sent_at=now) for n in range(3000))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Reminder._meta.db_table}")  # nothing in 'sending' yet
    ids = list(Reminder.objects.order_by("id").values_list("id", flat=True)[:2000])
    Reminder.objects.filter(pk__in=ids).update(status="sending", sent_at=None, claimed_at=now)
    previous, reminder = (Reminder.objects.select_related("patient", "session").get(pk=pk)
                          for pk in ids[:2])
    plans = []

    def explain(self, sql, params=None):  # the statement as it runs, explained instead
        self.cursor.execute(f"EXPLAIN {sql}", params)
        plans.append("\n".join(row[0] for row in self.cursor.fetchall()))

    with connection.cursor() as cursor:
        monkeypatch.setattr(type(cursor), "execute", explain)
        _begin_loaded_attempt(reminder, ReminderSettings.from_settings(), marking=previous)
        monkeypatch.undo()
        cursor.execute(f"EXPLAIN {_mark_sent_sql()}", _mark_sent_params(previous))
        plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert len(plans) == 2  # the begin (with the previous row's mark) and a mark alone
    for plan in plans:
        table_scans = [line for line in plan.splitlines()
                       if f"on {Reminder._meta.db_table}" in line and "Update" not in line]
        assert table_scans and all("_pkey" in line for line in table_scans), plan
