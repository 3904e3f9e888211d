"""Each session's point on the history's charts, kept by the restamping triggers beside its
change stamp (sessions/change_stamps.py): the triggers are installed again to keep it, and every
session gets its row and its point. The triggers are dropped first: SQLite rebuilds the table to
add a column that has a default, and cannot while triggers of other tables name it."""

from django.db import migrations, models

from sessions import change_stamps


class Migration(migrations.Migration):

    dependencies = [
        ('treatment_sessions', '0012_course_ordering_index'),
    ]

    operations = [
        migrations.RunPython(change_stamps.uninstall, change_stamps.install_without_chart_points),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='baseline_diastolic_mmhg',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='baseline_systolic_mmhg',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='cadss_score',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='evaluation_id',
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='gad7_total',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='is_archived',
            field=models.BooleanField(db_default=False, editable=False),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='patient_id',
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='peak_diastolic_mmhg',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='peak_systolic_mmhg',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='phq9_total',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='sessionchangestamp',
            name='scheduled_at',
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name='sessionchangestamp',
            index=models.Index(condition=models.Q(('is_archived', False)), fields=['patient_id', '-scheduled_at', '-session_id'], name='session_stamp_patient_idx'),
        ),
        migrations.RunPython(change_stamps.install, change_stamps.uninstall),
        migrations.RunPython(change_stamps.chart_points_backfill, migrations.RunPython.noop),
    ]
