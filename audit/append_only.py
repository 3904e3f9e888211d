"""PostgreSQL triggers that make the audit tables append-only: an UPDATE or DELETE on a
history table, the access log or the security log raises, whoever issues it (the app, a
script, psql).

TRUNCATE is not a row operation and stays possible for the database owner (the test suite's
flush uses it); revoke it from the application's role in production if wanted.

On SQLite the security log (privilege changes) has triggers too. SQLite has no TRUNCATE and
its flush is a DELETE, so its triggers let a DELETE through only inside ``maintenance()``,
which the test suite's flush uses between tests: a SQL function the app registers on each of
its connections tells the trigger. Any other connection (the ``sqlite3`` shell) does not have
the function, so its UPDATE or DELETE fails too. SQLite drops a table's triggers when a
migration rebuilds the table: such a migration must call ``install`` again
(tests/security/test_security_log.py fails until it does).
"""

from contextlib import contextmanager, suppress
from contextvars import ContextVar

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""
TRIGGER_SUFFIX = "_append_only"


def is_history_model(model) -> bool:
    names = {f.name for f in model._meta.get_fields()}
    return {"history_id", "history_date", "history_type", "history_user"} <= names


SQLITE_PERMIT_FUNCTION = "audit_maintenance_permitted"
_maintenance: ContextVar[bool] = ContextVar("audit_maintenance", default=False)


def _existing_tables(apps, labels) -> list[str]:
    tables = []
    for label in labels:
        with suppress(LookupError):  # an earlier migration: the model does not exist yet
            tables.append(apps.get_model(label)._meta.db_table)
    return tables


def append_only_tables(apps) -> list[str]:
    """Every django-simple-history table, plus the access log and the security log."""
    tables = [m._meta.db_table for m in apps.get_models() if is_history_model(m)]
    tables += _existing_tables(apps, ["audit.PatientAccess", "audit.SecurityEvent"])
    return sorted(set(tables))


def sqlite_append_only_tables(apps) -> list[str]:
    return _existing_tables(apps, ["audit.SecurityEvent"])


@contextmanager
def maintenance():
    """Let this thread's DELETEs through the SQLite triggers: for emptying a test database."""
    token = _maintenance.set(True)
    try:
        yield
    finally:
        _maintenance.reset(token)


def sqlite_connection_created(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_PERMIT_FUNCTION, 0, lambda: int(_maintenance.get()))


def _install_sqlite(apps, schema_editor) -> None:
    quote = schema_editor.quote_name
    for table in sqlite_append_only_tables(apps):
        for operation in ("UPDATE", "DELETE"):
            trigger = quote(f"{table}{TRIGGER_SUFFIX}_{operation.lower()}")
            permitted = f"{SQLITE_PERMIT_FUNCTION}()" if operation == "DELETE" else "0"
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}", params=None)
            schema_editor.execute(
                f"CREATE TRIGGER {trigger} BEFORE {operation} ON {quote(table)} "
                f"FOR EACH ROW WHEN NOT {permitted} BEGIN SELECT RAISE(ABORT, "
                f"'audit table {table} is append-only: {operation} refused'); END",
                params=None)


def _uninstall_sqlite(apps, schema_editor) -> None:
    quote = schema_editor.quote_name
    for table in sqlite_append_only_tables(apps):
        for operation in ("update", "delete"):
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {quote(f'{table}{TRIGGER_SUFFIX}_{operation}')}",
                params=None)


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        _install_sqlite(apps, schema_editor)
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    schema_editor.execute(FUNCTION_SQL, params=None)
    for table in append_only_tables(apps):
        trigger = quote(table + TRIGGER_SUFFIX)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quote(table)}", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON {quote(table)} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()", params=None,
        )


def uninstall(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        _uninstall_sqlite(apps, schema_editor)
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table in append_only_tables(apps):
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {quote(table + TRIGGER_SUFFIX)} ON {quote(table)}",
            params=None)
