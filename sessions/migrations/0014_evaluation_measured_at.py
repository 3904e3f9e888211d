"""When an evaluation's vitals were taken. Evaluations recorded before this field existed get
the time they were recorded: until now the page showed that time as the vitals' time. Their
audit history rows keep NULL (the history tables are append-only)."""

from django.db import migrations, models
from django.db.models import F


def backfill_measured_at(apps, schema_editor):
    Evaluation = apps.get_model("treatment_sessions", "Evaluation")
    Evaluation.objects.filter(measured_at__isnull=True).update(measured_at=F("recorded_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('treatment_sessions', '0013_session_chart_points'),
    ]

    operations = [
        migrations.AddField(
            model_name='evaluation',
            name='measured_at',
            field=models.DateTimeField(null=True, verbose_name='vitals taken at'),
        ),
        migrations.AddField(
            model_name='historicalevaluation',
            name='measured_at',
            field=models.DateTimeField(null=True, verbose_name='vitals taken at'),
        ),
        migrations.RunPython(backfill_measured_at, migrations.RunPython.noop, elidable=True),
    ]
