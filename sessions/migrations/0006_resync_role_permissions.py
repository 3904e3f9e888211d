"""Re-sync the role groups with sessions/roles.py after the issue-5 refinements: the clinic
admin loses patient records and gains the access log and lifting login lockouts.

Not strict: models named in sessions/roles.py after this migration (the security log,
audit 0003) do not exist yet here; their re-sync migration (audit 0004) sets them.
"""

from functools import partial

from django.db import migrations

from sessions.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("treatment_sessions", "0005_history_and_version"),
        ("audit", "0001_patient_access_log"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(partial(sync_role_groups, strict=False),
                                       migrations.RunPython.noop)]
