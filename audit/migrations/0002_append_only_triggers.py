"""On PostgreSQL, refuse UPDATE and DELETE on every history table and the access log.

A model given HistoricalRecords later needs a migration running audit.append_only.install
again (it is idempotent); tests/audit/test_append_only.py fails until it has one.
"""

from django.db import migrations

from audit import append_only


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_patient_access_log"),
        ("patients", "0002_history_and_version"),
        ("treatment_sessions", "0005_history_and_version"),
    ]
    operations = [migrations.RunPython(append_only.install, append_only.uninstall)]
