"""Create the staff role groups with their permissions (sessions/roles.py)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from sessions.roles import ROLE_PERMISSIONS, permission_codenames


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLE_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in permission_codenames(role):
            app_label, codename = dotted.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label,
                                                 codename=codename))
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("treatment_sessions", "0002_seed_symptom_catalogue"),
        ("patients", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
