"""Change stamps for the history page's cache, and the triggers that keep them
(sessions/change_stamps.py)."""

from django.db import migrations, models

from sessions import change_stamps


class Migration(migrations.Migration):

    dependencies = [
        ('treatment_sessions', '0010_reminder_open_due_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='PatientChangeStamp',
            fields=[
                ('patient_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('stamp', models.BigIntegerField()),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='SessionChangeStamp',
            fields=[
                ('session_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('stamp', models.BigIntegerField()),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.RunPython(change_stamps.install, change_stamps.uninstall),
    ]
