"""Create the staff role groups with their permissions (sessions/roles.py).

Permissions of apps migrated later are set by the re-sync migration 0005.
"""

from functools import partial

from django.db import migrations

from sessions.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("treatment_sessions", "0002_seed_symptom_catalogue"),
        ("patients", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(partial(sync_role_groups, strict=False),
                                       migrations.RunPython.noop)]
