"""Backups of the clinic's database, and their restore into an empty database.

PostgreSQL: `pg_dump` in its custom format, read back with `pg_restore`. pg_dump reads in one
snapshot, so a backup taken while nurses record is the database as of one instant, with its
triggers (the append-only audit tables, the change stamps) and its sequences.

SQLite: Python's `sqlite3` online backup API, in one step: the copy is made under one read
transaction, which in WAL mode never blocks the app's writers and sees none of their later
commits. Copying the file instead could catch it half-written, and misses the WAL.

The client programs are run with an argument list, never through a shell, and the connection
settings (password included) travel in the environment, not on a command line anyone can read.
A backup holds every patient's record: files are created readable by their owner only.
"""

import os
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.client import DatabaseClient

POSTGRESQL = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"
SUFFIXES = {POSTGRESQL: ".dump", SQLITE: ".sqlite3"}
PRIVATE_FILE, PRIVATE_DIRECTORY = 0o600, 0o700


class BackupError(Exception):
    """A backup or restore that did not happen, with what the operator can do about it."""


def database_settings(*, into: str | None = None, using: str = "default") -> dict:
    """The settings of the configured database, or of another database `into` on the same
    PostgreSQL server (a database name) or another SQLite file (a path)."""
    database = dict(connections[using].settings_dict)
    database.setdefault("OPTIONS", {})
    if database["ENGINE"] not in SUFFIXES:
        raise BackupError(f"No backup for the {database['ENGINE']} database engine: "
                          "PostgreSQL and SQLite only.")
    if into is not None:
        database["NAME"] = into
    return database


def default_destination(*, database: dict, now: datetime | None = None) -> Path:
    """var/backups/clinic-<database>-<UTC time>.dump (or .sqlite3): sorted by name is sorted by
    time, and two databases' backups in one directory do not mix."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = Path(str(database["NAME"])).stem if database["ENGINE"] == SQLITE else database["NAME"]
    return Path(settings.BACKUP_DIR) / f"clinic-{name}-{stamp}{SUFFIXES[database['ENGINE']]}"


def backup_database(*, destination: Path | None = None, database: dict | None = None) -> Path:
    """Write a backup of `database` (default: the configured one) to `destination` (default:
    a new timestamped file in BACKUP_DIR; a directory: a timestamped file in it). The file
    appears under its name only once complete, so an interrupted backup leaves no file that
    looks like a backup."""
    database = database or database_settings()
    if destination is None:
        destination = default_destination(database=database)
    elif Path(destination).is_dir():
        destination = Path(destination) / default_destination(database=database).name
    destination = Path(destination)
    if destination.exists():
        raise BackupError(f"{destination} exists: choose a new file; a backup never overwrites.")
    destination.parent.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    try:
        if database["ENGINE"] == POSTGRESQL:
            _run(["pg_dump", "--format=custom", f"--file={partial}"], database)
            _run(["pg_restore", "--list", str(partial)], database)  # readable back
        else:
            _sqlite_copy(source=Path(database["NAME"]), target=partial)
        partial.rename(destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def restore_database(*, source: Path, database: dict | None = None, force: bool = False) -> None:
    """Restore the backup `source` into `database` (default: the configured one), which must
    be empty: a restore over a working clinic's data is refused unless `force`, which replaces
    whatever the target holds by the backup's contents."""
    database = database or database_settings()
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No backup file at {source}.")
    tables = table_names(database=database)
    if tables and not force:
        raise BackupError(
            f"The database {database['NAME']} is not empty ({len(tables)} tables): restore into "
            "an empty database, or pass --force to replace its contents with the backup.")
    if database["ENGINE"] == POSTGRESQL:
        # One transaction: a restore that fails half-way leaves the target as it was. No
        # owner: the tables belong to whoever restores (the migration role), as after migrate.
        _run(["pg_restore", f"--dbname={database['NAME']}", "--no-owner", "--single-transaction",
              "--exit-on-error", *(["--clean", "--if-exists"] if force else []), str(source)],
             database)
    else:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup:
            problems = backup.execute("PRAGMA quick_check").fetchall()
        if problems != [("ok",)]:
            raise BackupError(f"{source} is not a sound SQLite backup: {problems[:3]}")
        _sqlite_copy(source=source, target=Path(database["NAME"]))


def table_names(*, database: dict) -> list[str]:
    """The tables of `database` (none if an SQLite file does not exist yet)."""
    if database["ENGINE"] == POSTGRESQL:
        query = ("SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                 "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
        output = _run(["psql", "--no-psqlrc", "--tuples-only", "--no-align",
                       f"--command={query}"], database)
        return sorted(line for line in output.splitlines() if line)
    path = Path(database["NAME"])
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as target:
        rows = target.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(name for (name,) in rows)


def _sqlite_copy(*, source: Path, target: Path) -> None:
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(target)
    try:
        # pages=-1: the whole database in one step, hence one read transaction and one
        # snapshot. In steps, every commit of the app between two steps restarts the copy.
        reader.backup(writer, pages=-1)
    finally:
        writer.close()
        reader.close()


def _run(args: list[str], database: dict) -> str:
    """Run a PostgreSQL client program against `database`; its output, or BackupError."""
    _, password_and_tls = DatabaseClient.settings_to_cmd_args_env(database, [])
    connection = {"PGDATABASE": database["NAME"], "PGHOST": database.get("HOST"),
                  "PGPORT": database.get("PORT"), "PGUSER": database.get("USER")}
    environment = {**os.environ, **(password_and_tls or {}),
                   **{key: str(value) for key, value in connection.items() if value}}
    try:
        finished = subprocess.run(args, env=environment, capture_output=True, text=True,
                                  check=False)
    except FileNotFoundError as error:
        raise BackupError(f"{args[0]} is not installed: install the PostgreSQL client programs "
                          "of the server's version (Debian: postgresql-client).") from error
    if finished.returncode != 0:
        raise BackupError(f"{args[0]} failed ({finished.returncode}): "
                          f"{finished.stderr.strip()}")
    return finished.stdout
