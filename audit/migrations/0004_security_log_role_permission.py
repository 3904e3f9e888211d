"""Re-sync the role groups with sessions/roles.py: the clinic admin reads the security log."""

from django.db import migrations

from sessions.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_security_event"),
        ("treatment_sessions", "0015_constraint_messages"),
        ("patients", "0006_constraint_message"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
