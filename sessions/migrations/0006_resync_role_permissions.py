"""Re-sync the role groups with sessions/roles.py after the issue-5 refinements: the clinic
admin loses patient records and gains the access log and lifting login lockouts."""

from django.db import migrations

from sessions.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("treatment_sessions", "0005_history_and_version"),
        ("audit", "0001_patient_access_log"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
