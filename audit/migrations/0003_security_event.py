"""The security log (who changed whose privileges), append-only from the start: the same
triggers as the other audit tables, on PostgreSQL and on SQLite (audit/append_only.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from audit import append_only


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only_triggers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SecurityEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('occurred_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('what', models.CharField(choices=[('group_added', 'added to group'), ('group_removed', 'removed from group'), ('permission_added', 'permission granted'), ('permission_removed', 'permission withdrawn'), ('password_set', 'password set by someone else'), ('password_changed', 'password changed by its owner'), ('activated', 'account activated'), ('deactivated', 'account deactivated'), ('staff_granted', 'staff status granted'), ('staff_revoked', 'staff status revoked'), ('superuser_granted', 'superuser status granted'), ('superuser_revoked', 'superuser status revoked')], max_length=30)),
                ('details', models.CharField(blank=True, help_text='Group or permission names; never a password.', max_length=300)),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('target', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'security event',
                'verbose_name_plural': 'security events',
                'ordering': ['-occurred_at', '-id'],
                'indexes': [models.Index(fields=['target', '-occurred_at'], name='security_target_idx')],
            },
        ),
        # Reversed, the table goes and its triggers with it: nothing to undo here.
        migrations.RunPython(append_only.install, migrations.RunPython.noop),
    ]
