"""A clinic can recover: a backup taken while a nurse records vitals restores into an empty
database with every row of every table, as of one instant, and with the audit triggers.

Runs on the database of the pass (SQLite, then PostgreSQL in `make test`). The source is a real
database another process can write: on PostgreSQL the test database itself (transaction=True, so
the seeded rows are committed), on SQLite a file copied from the in-memory test database.
"""

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing, contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clinic.backups import backup_database, restore_database
from sessions.demo import seed_demo
from sessions.models import VitalSign
from tests.factories import PatientFactory
from tests.support import processes

# Committed rows, which pg_dump and the writer's connection see; serialized_rollback brings back
# the roles (groups) the migrations made, which the flush after a transactional test removes.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WRITER_SECONDS = 20  # the writer's own limit, should the test fail before stopping it


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def empty_database(tmp_path: Path):
    """The settings of a new, empty database: PostgreSQL, a fresh database on the test server,
    dropped afterwards; SQLite, a new file."""
    if not is_postgresql():
        yield {**connection.settings_dict, "NAME": str(tmp_path / "restored.sqlite3")}
        return
    name = f"clinic_restore_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**connection.settings_dict, "NAME": name}
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def source_database(tmp_path: Path) -> dict:
    """A database outside this process's transaction that holds what the test wrote."""
    if is_postgresql():
        return dict(connection.settings_dict)
    path = tmp_path / "source.sqlite3"
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as copy:
        connection.connection.backup(copy)  # the in-memory test database, to a file
    return {**connection.settings_dict, "NAME": str(path)}


@contextmanager
def raw_connection(database: dict):
    """A plain DB-API connection, nothing of Django's in between, reading in one snapshot."""
    if database["ENGINE"].endswith("sqlite3"):
        with closing(sqlite3.connect(database["NAME"], isolation_level=None)) as plain:
            plain.execute("BEGIN")  # one read transaction: one snapshot (WAL)
            yield plain
        return
    import psycopg

    with closing(psycopg.connect(dbname=database["NAME"], host=database["HOST"] or None,
                                 port=database["PORT"] or None, user=database["USER"] or None,
                                 password=database["PASSWORD"] or None)) as plain:
        plain.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot
        yield plain


def read_everything(database: dict) -> tuple[dict[str, list], set[str]]:
    """Every table's rows (each as its repr, sorted: a stable order for any column type) and
    the names of the triggers, all as of one instant."""
    postgresql = not database["ENGINE"].endswith("sqlite3")
    with raw_connection(database) as plain:
        cursor = plain.cursor()
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'" if postgresql
                       else "SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {}
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT * FROM "{table}"')
            tables[table] = sorted(repr(row) for row in cursor.fetchall())
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal" if postgresql
                       else "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {name for (name,) in cursor.fetchall()}
    return tables, triggers


def counts_and_checksums(tables: dict[str, list]) -> dict[str, tuple[int, str]]:
    return {table: (len(rows), hashlib.md5("\n".join(rows).encode()).hexdigest())
            for table, rows in tables.items()}


def keyed(rows: list[str]) -> dict[str, str]:
    """Rows by their first column (the primary key of every table Django makes)."""
    return {row[1:].split(",", 1)[0]: row for row in rows}


def start_writer(*, database: dict, session, nurse, stop_file: Path) -> subprocess.Popen:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.test_settings",
                   "CLINIC_VAR_DIR": str(stop_file.parent), "PYTHONUNBUFFERED": "1",
                   "DATABASE_URL": (processes.test_database_url() if is_postgresql()
                                    else f"sqlite:///{database['NAME']}")}
    environment.pop("CELERY_BROKER_URL", None)  # vitals within limits send nothing
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.support.vitals_writer", str(session.pk), str(nurse.pk),
         str(stop_file), str(WRITER_SECONDS)],
        cwd=processes.ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    first_line = writer.stdout.readline()
    assert first_line == "writing\n", first_line + writer.stdout.read()
    return writer


def test_a_backup_taken_while_a_nurse_records_restores_every_row_and_trigger(
        tmp_path, session, advance, nurse):
    seed_demo()
    advance(session, through="administration")
    source = source_database(tmp_path)
    stop_file = tmp_path / "stop"
    writer = start_writer(database=source, session=session, nurse=nurse, stop_file=stop_file)
    try:
        before, source_triggers = read_everything(source)
        (tmp_path / "backups").mkdir()
        backup = backup_database(destination=tmp_path / "backups", database=source)
        after, _ = read_everything(source)
    finally:
        stop_file.touch()
        output, _ = writer.communicate(timeout=30)
    assert writer.returncode == 0, output
    assert backup.parent == tmp_path / "backups" and backup.stat().st_mode & 0o077 == 0

    with empty_database(tmp_path) as target:
        restore_database(source=backup, database=target)
        restored, restored_triggers = read_everything(target)

    vitals, vitals_history = VitalSign._meta.db_table, VitalSign.history.model._meta.db_table
    written_meanwhile = {table for table in after if after[table] != before[table]}
    assert vitals in written_meanwhile and vitals_history in written_meanwhile
    assert restored.keys() == after.keys()
    untouched = set(after) - written_meanwhile
    assert ({t: counts_and_checksums(restored)[t] for t in untouched}
            == {t: counts_and_checksums(after)[t] for t in untouched})
    for table in written_meanwhile:  # as of one instant between `before` and `after`
        rows, rows_before, rows_after = (keyed(tables[table])
                                         for tables in (restored, before, after))
        assert rows_before.keys() <= rows.keys() <= rows_after.keys(), table
        for key, row in rows_before.items():
            if rows_after[key] == row:  # a row the writer did not change (a stamp it did)
                assert rows[key] == row, table
    for table in (vitals, vitals_history):  # written once, never changed: the very rows
        assert set(restored[table]) <= set(after[table])
    # Each vital and its history row commit together: a snapshot has both or neither.
    assert (len(restored[vitals]) - len(before[vitals])
            == len(restored[vitals_history]) - len(before[vitals_history]))

    assert restored_triggers == source_triggers
    assert any(name.startswith("restamp_") for name in restored_triggers)
    if is_postgresql():
        assert any(name.endswith("_append_only") for name in restored_triggers)


def test_restore_refuses_a_database_that_holds_tables_unless_forced(tmp_path):
    PatientFactory(first_name="Ada")
    backup = backup_database(destination=tmp_path / "clinic.backup",
                             database=source_database(tmp_path))
    quiet = {"stdout": StringIO()}
    with empty_database(tmp_path) as target:
        into = ["--into", target["NAME"]]
        call_command("restore", str(backup), *into, **quiet)
        with pytest.raises(CommandError, match="is not empty"):
            call_command("restore", str(backup), *into, **quiet)
        call_command("restore", str(backup), *into, "--force", **quiet)
        restored, _ = read_everything(target)
    assert sum("'Ada'" in row for row in restored["patients_patient"]) == 1


def test_backup_command_writes_a_timestamped_file_in_the_backup_directory(tmp_path, settings):
    """On PostgreSQL only: the SQLite pass's test database lives in this process's memory."""
    if not is_postgresql():
        pytest.skip("the SQLite pass's test database is in memory: no file to back up")
    settings.BACKUP_DIR = tmp_path / "backups"
    call_command("backup", stdout=StringIO())
    (written,) = (tmp_path / "backups").iterdir()
    assert written.name.startswith(f"clinic-{connection.settings_dict['NAME']}-")
    assert written.suffix == ".dump"
