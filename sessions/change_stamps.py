"""Database triggers that restamp a session (and its patient) whenever anything the history page
shows of it changes: the keys of the history page's cache (patients/history_cache.py).

Triggers, not services or signals, because a missed write path would show a clinician a stale
blood pressure or a side effect that is not there any more: whoever writes (a service, the
admin, a queryset update, a data migration, psql), the stamp changes in the same transaction.
A stamp is a random number, not a counter: a database restored from a backup hands out no
stamp a running process may have cached under.

PostgreSQL: statement-level triggers with transition tables, so a bulk insert (the demo
seeder's COPY) restamps each session once per statement, not once per row. SQLite: row-level
triggers. Both are installed by migration; a migration that rebuilds one of these tables (SQLite
rebuilds a table to alter it, dropping its triggers) must run `install` again:
tests/patients/test_history_cache.py fails until it does.
"""

# Models whose rows belong to one session, by their session column. Each is shown on the
# session's card or in the charts. FollowUp and Reminder are not here: the history lists them
# beside the timeline, read fresh on every view, never cached.
SESSION_ROW_MODELS = ("Consultation", "Evaluation", "ExpectationSetting", "Administration",
                      "Monitoring", "VitalSign", "SideEffectObservation")
NOT_CACHED = ("FollowUp", "Reminder")
SESSION_MODEL = "TreatmentSession"
SYMPTOM_MODEL = "SymptomType"  # a renamed symptom shows on every card that observed it
TRIGGER_PREFIX = "restamp_"
EVENTS = ("insert", "update", "delete")

RESTAMP_FUNCTION = """
CREATE OR REPLACE FUNCTION treatment_sessions_restamp(session_ids bigint[], patient_ids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- In id order, so two transactions restamping the same rows queue instead of deadlocking.
    INSERT INTO {session_stamps} AS stamps (session_id, stamp)
        SELECT id, (random() * 9.2e18)::bigint
        FROM (SELECT DISTINCT unnest(session_ids) AS id) AS ids
        WHERE id IS NOT NULL ORDER BY id
        ON CONFLICT (session_id) DO UPDATE SET stamp = EXCLUDED.stamp;
    INSERT INTO {patient_stamps} AS stamps (patient_id, stamp)
        SELECT id, (random() * 9.2e18)::bigint
        FROM (SELECT unnest(patient_ids) AS id
              UNION SELECT {patient_column} FROM {sessions} WHERE id = ANY(session_ids)) AS ids
        WHERE id IS NOT NULL ORDER BY id
        ON CONFLICT (patient_id) DO UPDATE SET stamp = EXCLUDED.stamp;
END
$$;
"""
# One trigger function per shape of table; TG_OP picks the transition tables that exist.
ROWS_FUNCTION = """
CREATE OR REPLACE FUNCTION treatment_sessions_restamp_{name}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM treatment_sessions_restamp(ARRAY(SELECT {sessions} FROM new_rows),
                                           ARRAY(SELECT {patients} FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM treatment_sessions_restamp(ARRAY(SELECT {sessions} FROM old_rows),
                                           ARRAY(SELECT {patients} FROM old_rows));
    ELSE
        PERFORM treatment_sessions_restamp(
            ARRAY(SELECT {sessions} FROM new_rows UNION SELECT {sessions} FROM old_rows),
            ARRAY(SELECT {patients} FROM new_rows UNION SELECT {patients} FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
"""
SYMPTOM_FUNCTION = """
CREATE OR REPLACE FUNCTION treatment_sessions_restamp_symptom() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM treatment_sessions_restamp(
        ARRAY(SELECT {session_column} FROM {observations}
              WHERE {symptom_column} IN (SELECT id FROM new_rows)), '{{}}');
    RETURN NULL;
END
$$;
"""
TRANSITION_TABLES = {"insert": "NEW TABLE AS new_rows",
                     "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                     "delete": "OLD TABLE AS old_rows"}


def _column(model, field: str) -> str:
    return model._meta.get_field(field).column


def _tables(apps, quote) -> dict[str, str]:
    """The quoted names of the tables the triggers write and read."""
    return {key: quote(apps.get_model("treatment_sessions", name)._meta.db_table)
            for key, name in (("session_stamps", "SessionChangeStamp"),
                              ("patient_stamps", "PatientChangeStamp"),
                              ("sessions", SESSION_MODEL),
                              ("observations", "SideEffectObservation"))}


def _stamped(apps) -> list[tuple]:
    """(model, events, session column expression, patient column expression or None)."""
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    rows = [(apps.get_model("treatment_sessions", name), EVENTS, _column(
        apps.get_model("treatment_sessions", name), "session"), None)
        for name in SESSION_ROW_MODELS]
    return [(session, EVENTS, session._meta.pk.column, _column(session, "patient")), *rows,
            (apps.get_model("treatment_sessions", SYMPTOM_MODEL), ("update",), None, None)]


def trigger_names(apps) -> dict[str, list[str]]:
    """{table: [trigger names]} that install creates: what the tests check is present."""
    return {model._meta.db_table: [f"{TRIGGER_PREFIX}{model._meta.db_table}_{event}"
                                   for event in events]
            for model, events, _, _ in _stamped(apps)}


def _postgresql(apps, quote) -> list[str]:
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    observation = apps.get_model("treatment_sessions", "SideEffectObservation")
    tables = _tables(apps, quote)
    statements = [
        RESTAMP_FUNCTION.format(**tables, patient_column=quote(_column(session, "patient"))),
        SYMPTOM_FUNCTION.format(**tables,
                                session_column=quote(_column(observation, "session")),
                                symptom_column=quote(_column(observation, "symptom"))),
    ]
    functions = {}
    for model, events, session_column, patient_column in _stamped(apps):
        if session_column is None:
            function = "treatment_sessions_restamp_symptom"
        else:
            name = "session" if patient_column else "session_rows"
            function = f"treatment_sessions_restamp_{name}"
            if function not in functions:
                functions[function] = ROWS_FUNCTION.format(
                    name=name, sessions=quote(session_column),
                    patients=quote(patient_column) if patient_column else "NULL::bigint")
        table = quote(model._meta.db_table)
        for event in events:
            trigger = quote(f"{TRIGGER_PREFIX}{model._meta.db_table}_{event}")
            statements += [
                f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
                f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON {table} "
                f"REFERENCING {TRANSITION_TABLES[event]} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}()"]
    return [*statements[:2], *functions.values(), *statements[2:]]


def _sqlite_upsert(table: str, key: str, select: str) -> str:
    """New random stamps for the ids `select` yields (its first column). The SELECT must have
    a WHERE: SQLite needs it to parse INSERT ... SELECT ... ON CONFLICT."""
    return (f"INSERT INTO {table} ({key}, stamp) {select} "
            f"ON CONFLICT ({key}) DO UPDATE SET stamp = excluded.stamp;")


def _sqlite_restamp(apps, quote, session_expression: str, patient_expression: str | None,
                    guard: str) -> str:
    """The body of a row trigger: restamp one session (and its patient)."""
    tables = _tables(apps, quote)
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    patient = patient_expression or (
        f"(SELECT {quote(_column(session, 'patient'))} FROM {tables['sessions']} "
        f"WHERE id = {session_expression})")
    return " ".join((
        _sqlite_upsert(tables["session_stamps"], "session_id",
                       f"SELECT {session_expression}, random() WHERE {guard}"),
        _sqlite_upsert(tables["patient_stamps"], "patient_id",
                       f"SELECT {patient}, random() WHERE {guard} AND {patient} IS NOT NULL")))


def _sqlite(apps, quote) -> list[str]:
    statements = []
    for model, events, session_column, patient_column in _stamped(apps):
        table = quote(model._meta.db_table)
        for event in events:
            trigger = quote(f"{TRIGGER_PREFIX}{model._meta.db_table}_{event}")
            if session_column is None:  # a symptom renamed: every session that observed it
                body = _symptom_sqlite(apps, quote)
            else:
                body = " ".join(
                    _sqlite_restamp(apps, quote, f"{row}.{quote(session_column)}",
                                    f"{row}.{quote(patient_column)}" if patient_column else None,
                                    f"{row}.{quote(session_column)} IS NOT NULL")
                    for row in {"insert": ("NEW",), "update": ("OLD", "NEW"),
                                "delete": ("OLD",)}[event])
            statements += [f"DROP TRIGGER IF EXISTS {trigger}",
                           f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON {table} "
                           f"FOR EACH ROW BEGIN {body} END"]
    return statements


def _symptom_sqlite(apps, quote) -> str:
    tables = _tables(apps, quote)
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    observation = apps.get_model("treatment_sessions", "SideEffectObservation")
    observed = (f"SELECT {quote(_column(observation, 'session'))} FROM {tables['observations']} "
                f"WHERE {quote(_column(observation, 'symptom'))} = NEW.id")
    return " ".join((
        _sqlite_upsert(tables["session_stamps"], "session_id",
                       f"SELECT id, random() FROM {tables['sessions']} "
                       f"WHERE id IN ({observed})"),
        _sqlite_upsert(tables["patient_stamps"], "patient_id",
                       f"SELECT {quote(_column(session, 'patient'))}, random() "
                       f"FROM {tables['sessions']} WHERE id IN ({observed})")))


def install(apps, schema_editor) -> None:
    """Create (or re-create) every restamping trigger; idempotent."""
    vendor = schema_editor.connection.vendor
    build = {"postgresql": _postgresql, "sqlite": _sqlite}.get(vendor)
    if build is None:
        raise NotImplementedError(f"No restamping triggers for {vendor}: the history page's "
                                  "cache would go stale. Add them to sessions/change_stamps.py.")
    for statement in build(apps, schema_editor.quote_name):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor) -> None:
    quote = schema_editor.quote_name
    for table, triggers in trigger_names(apps).items():
        for trigger in triggers:
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(trigger)} ON {quote(table)}",
                                      params=None)
            else:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(trigger)}", params=None)
