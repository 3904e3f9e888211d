"""Database triggers that restamp a session (and its patient) whenever anything the history page
shows of it changes: the keys of the history page's cache (patients/history_cache.py). In the
same statement they work out the session's point on the history's charts
(SessionChangeStamp's chart columns), so that a patient's charts over hundreds of sessions are
one narrow read, not a read of every session's steps and vitals.

Triggers, not services or signals, because a missed write path would show a clinician a stale
blood pressure or a side effect that is not there any more: whoever writes (a service, the
admin, a queryset update, a data migration, psql), the stamp changes in the same transaction.
A stamp is a random number, not a counter: a database restored from a backup hands out no
stamp a running process may have cached under.

PostgreSQL: statement-level triggers with transition tables, so a bulk insert (the demo
seeder's COPY) restamps each session once per statement, not once per row. SQLite: row-level
triggers. Both are installed by migration; a migration that rebuilds one of these tables (SQLite
rebuilds a table to alter it, dropping its triggers) must run `install` again:
tests/patients/test_history_cache.py fails until it does. A change to CHART_SELECT needs a
migration that runs `install` and `chart_points_backfill`, or the points already kept stay as
the old rule left them.
"""

from sessions.safety import PRE_DOSE_PHASE

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
    {chart_points}
    INSERT INTO {patient_stamps} AS stamps (patient_id, stamp)
        SELECT id, (random() * 9.2e18)::bigint
        FROM (SELECT unnest(patient_ids) AS id
              UNION SELECT {patient_column} FROM {sessions} WHERE id = ANY(session_ids)) AS ids
        WHERE id IS NOT NULL ORDER BY id
        ON CONFLICT (patient_id) DO UPDATE SET stamp = EXCLUDED.stamp;
END
$$;
"""
# The chart points of the sessions just restamped. The statement above holds their rows locked
# until commit, having waited for any other transaction writing them; this one reads in a
# snapshot of its own, taken after that (READ COMMITTED: one per statement), so it sees what
# that transaction committed and never leaves a point that misses a vital recorded meanwhile.
POSTGRESQL_CHART_POINTS = """
    {update_chart_points}
    DELETE FROM {session_stamps} WHERE session_id = ANY(session_ids)
        AND NOT EXISTS (SELECT 1 FROM {sessions} WHERE id = session_id);
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


# A session's point on the charts, in SQL because the triggers work it out: the same rules as
# sessions/scales.py (a total is the sum of the answers) and
# sessions/safety.blood_pressure_baseline_and_peak (baseline: the last reading before dosing,
# else the evaluation's; peak: the highest reading after dosing, by systolic then diastolic),
# over the vitals not archived. tests/patients/test_chart_points.py holds the two to the same
# answers, session by session.
CHART_COLUMNS = ("patient_id", "scheduled_at", "is_archived", "evaluation_id", "phq9_total",
                 "gad7_total", "cadss_score", "baseline_systolic_mmhg", "baseline_diastolic_mmhg",
                 "peak_systolic_mmhg", "peak_diastolic_mmhg")
CHART_SELECT = """
SELECT s.id AS session_id, s.{patient} AS patient_id, s.{scheduled_at} AS scheduled_at,
    s.{is_archived} AS is_archived, e.id AS evaluation_id, {phq9_total} AS phq9_total,
    {gad7_total} AS gad7_total, m.{cadss_score} AS cadss_score,
    COALESCE(({last_before_dosing_systolic}), e.{systolic}) AS baseline_systolic_mmhg,
    COALESCE(({last_before_dosing_diastolic}), e.{diastolic}) AS baseline_diastolic_mmhg,
    ({highest_after_dosing_systolic}) AS peak_systolic_mmhg,
    ({highest_after_dosing_diastolic}) AS peak_diastolic_mmhg
FROM {sessions} AS s
    LEFT JOIN {evaluations} AS e ON e.{session} = s.id
    LEFT JOIN {consultations} AS c ON c.{session} = s.id
    LEFT JOIN {monitorings} AS m ON m.{session} = s.id
WHERE {where}"""
# One value of one reading of a session: a scalar subquery.
SESSION_READING = ("SELECT v.{column} FROM {vitals} AS v WHERE v.{session} = s.id "
                   "AND NOT v.{is_archived} AND v.{phase} {comparison} '{pre_dose_phase}' "
                   "ORDER BY {order} LIMIT 1")


def _has_chart_columns(apps) -> bool:
    """Migration 0011 installs the triggers before 0013 adds the chart columns."""
    stamps = apps.get_model("treatment_sessions", "SessionChangeStamp")
    return any(field.name == "phq9_total" for field in stamps._meta.get_fields())


def chart_select(apps, quote, where: str) -> str:
    """Each chart column of the sessions `where` picks (a condition on `s.id`), by name."""
    from sessions.models import GAD7_FIELDS, PHQ9_FIELDS

    def model(name):
        return apps.get_model("treatment_sessions", name)

    session, vital = model(SESSION_MODEL), model("VitalSign")
    consultation, monitoring = model("Consultation"), model("Monitoring")

    systolic, diastolic, measured_at = (quote(_column(vital, name)) for name in (
        "systolic_mmhg", "diastolic_mmhg", "measured_at"))
    orders = {"last_before_dosing": ("=", f"v.{measured_at} DESC, v.id DESC"),
              "highest_after_dosing": ("<>", f"v.{systolic} DESC, v.{diastolic} DESC")}
    readings = {
        f"{name}_{label}": SESSION_READING.format(
            column=column, vitals=quote(vital._meta.db_table),
            session=quote(_column(vital, "session")),
            is_archived=quote(_column(vital, "is_archived")),
            phase=quote(_column(vital, "phase")), comparison=comparison,
            pre_dose_phase=PRE_DOSE_PHASE, order=order)
        for name, (comparison, order) in orders.items()
        for label, column in (("systolic", systolic), ("diastolic", diastolic))}
    evaluation = model("Evaluation")
    return CHART_SELECT.format(
        **readings,
        sessions=quote(session._meta.db_table),
        evaluations=quote(evaluation._meta.db_table),
        consultations=quote(consultation._meta.db_table),
        monitorings=quote(monitoring._meta.db_table),
        session=quote(_column(consultation, "session")),
        patient=quote(_column(session, "patient")),
        scheduled_at=quote(_column(session, "scheduled_at")),
        is_archived=quote(_column(session, "is_archived")),
        cadss_score=quote(_column(monitoring, "cadss_score")),
        phq9_total=" + ".join(f"c.{quote(name)}" for name in PHQ9_FIELDS),
        gad7_total=" + ".join(f"c.{quote(name)}" for name in GAD7_FIELDS),
        systolic=quote(_column(evaluation, "systolic_mmhg")),
        diastolic=quote(_column(evaluation, "diastolic_mmhg")),
        where=where)


def update_chart_points(apps, quote, where: str) -> str:
    """The statement that sets the chart columns of the sessions `where` picks."""
    stamps = quote(apps.get_model("treatment_sessions", "SessionChangeStamp")._meta.db_table)
    assignments = ", ".join(f"{quote(name)} = chart.{quote(name)}" for name in CHART_COLUMNS)
    return (f"UPDATE {stamps} SET {assignments} FROM ({chart_select(apps, quote, where)}) "
            f"AS chart WHERE {stamps}.session_id = chart.session_id;")


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


def _postgresql(apps, quote, chart: bool) -> list[str]:
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    observation = apps.get_model("treatment_sessions", "SideEffectObservation")
    tables = _tables(apps, quote)
    chart_points = POSTGRESQL_CHART_POINTS.format(
        **tables, update_chart_points=update_chart_points(
            apps, quote, "s.id = ANY(session_ids)")) if chart else ""
    statements = [
        RESTAMP_FUNCTION.format(**tables, patient_column=quote(_column(session, "patient")),
                                chart_points=chart_points),
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
                    guard: str, chart: bool, chart_guard: str = "") -> str:
    """The body of a row trigger: restamp one session (and its patient), and work its chart
    point out again where `chart_guard` (a condition starting with AND) allows."""
    tables = _tables(apps, quote)
    session = apps.get_model("treatment_sessions", SESSION_MODEL)
    patient = patient_expression or (
        f"(SELECT {quote(_column(session, 'patient'))} FROM {tables['sessions']} "
        f"WHERE id = {session_expression})")
    chart_points = (
        update_chart_points(apps, quote, f"s.id = {session_expression}{chart_guard}"),
        f"DELETE FROM {tables['session_stamps']} WHERE session_id = {session_expression} "
        f"AND NOT EXISTS (SELECT 1 FROM {tables['sessions']} WHERE id = {session_expression})"
        f"{chart_guard};",
    ) if chart else ()
    return " ".join((
        _sqlite_upsert(tables["session_stamps"], "session_id",
                       f"SELECT {session_expression}, random() WHERE {guard}"),
        *chart_points,
        _sqlite_upsert(tables["patient_stamps"], "patient_id",
                       f"SELECT {patient}, random() WHERE {guard} AND {patient} IS NOT NULL")))


def _sqlite(apps, quote, chart: bool) -> list[str]:
    statements = []
    for model, events, session_column, patient_column in _stamped(apps):
        table = quote(model._meta.db_table)
        for event in events:
            trigger = quote(f"{TRIGGER_PREFIX}{model._meta.db_table}_{event}")
            if session_column is None:  # a symptom renamed: every session that observed it
                body = _symptom_sqlite(apps, quote)
            else:
                column = quote(session_column)
                # An update works the new session's point out; the old session's only when the
                # row left it (SQLite runs the body once per row: no point twice per vital).
                moved = f" AND OLD.{column} IS NOT NEW.{column}"
                body = " ".join(
                    _sqlite_restamp(apps, quote, f"{row}.{column}",
                                    f"{row}.{quote(patient_column)}" if patient_column else None,
                                    f"{row}.{column} IS NOT NULL", chart,
                                    moved if (event, row) == ("update", "OLD") else "")
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
    """Create (or re-create) every restamping trigger; idempotent. They keep the chart points
    too once the table has their columns (migration 0013)."""
    _install(apps, schema_editor, chart=_has_chart_columns(apps))


def install_without_chart_points(apps, schema_editor) -> None:
    """Migration 0013 undone: the triggers as 0011 left them, before the columns go."""
    _install(apps, schema_editor, chart=False)


def _install(apps, schema_editor, *, chart: bool) -> None:
    vendor = schema_editor.connection.vendor
    build = {"postgresql": _postgresql, "sqlite": _sqlite}.get(vendor)
    if build is None:
        raise NotImplementedError(f"No restamping triggers for {vendor}: the history page's "
                                  "cache would go stale. Add them to sessions/change_stamps.py.")
    for statement in build(apps, schema_editor.quote_name, chart):
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


def chart_points_backfill(apps, schema_editor) -> None:
    """A row, and its chart point, for every session (sessions nothing had touched since the
    triggers were installed had none)."""
    quote = schema_editor.quote_name
    tables = _tables(apps, quote)
    random = ("(random() * 9.2e18)::bigint" if schema_editor.connection.vendor == "postgresql"
              else "random()")
    schema_editor.execute(
        f"INSERT INTO {tables['session_stamps']} (session_id, stamp) "
        f"SELECT id, {random} FROM {tables['sessions']} WHERE true "
        f"ON CONFLICT (session_id) DO NOTHING", params=None)
    schema_editor.execute(update_chart_points(apps, quote, "true"), params=None)
