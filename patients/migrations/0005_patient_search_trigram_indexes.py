"""Trigram indexes for the patient searches (PostgreSQL only).

The clinician search and the admin lists find a patient by any part of a name, MRN or email:
Django's `icontains`, `UPPER(column) LIKE UPPER('%word%')`, which no B-tree can answer, so
PostgreSQL read every patient (10,000 at network scale: 8-12 ms per count and per page, twice
per search). A GIN index of the upper-cased text's trigrams answers it (pg_trgm, a trusted
extension: the database's owner may create it). SQLite has no such index and scans, which at an
embedded clinic's size is fine. Declared here rather than in the model's Meta, as the indexes
exist on one backend only.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

SEARCHED_COLUMNS = ("first_name", "last_name", "mrn", "email")


def _index_name(column: str) -> str:
    return f"patient_{column}_trgm_idx"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("patients", "Patient")._meta.db_table)
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {_index_name(column)} ON {table} "
            f"USING gin (UPPER({schema_editor.quote_name(column)}::text) gin_trgm_ops)")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_index_name(column)}")


class Migration(migrations.Migration):

    dependencies = [
        ("patients", "0004_history_cache_entry"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
