"""PostgreSQL triggers that make the audit tables append-only: an UPDATE or DELETE on a
history table or on the access log raises, whoever issues it (the app, a script, psql).

TRUNCATE is not a row operation and stays possible for the database owner (the test suite's
flush uses it); revoke it from the application's role in production if wanted.
"""

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


def append_only_tables(apps) -> list[str]:
    """Every django-simple-history table, plus the access log."""
    tables = [m._meta.db_table for m in apps.get_models() if is_history_model(m)]
    tables.append(apps.get_model("audit", "PatientAccess")._meta.db_table)
    return sorted(set(tables))


def install(apps, schema_editor) -> None:
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
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table in append_only_tables(apps):
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {quote(table + TRIGGER_SUFFIX)} ON {quote(table)}",
            params=None)
