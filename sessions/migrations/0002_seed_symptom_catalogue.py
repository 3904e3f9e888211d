"""Seed the side-effect and symptom catalogue of DESIGN.md section 2. Admins extend it later;
re-running adds only what is missing and never removes an entry a record may point to."""

from django.db import migrations
from django.utils.text import slugify

from sessions.migrations._catalogue import CATALOGUE


def seed(apps, schema_editor):
    SymptomType = apps.get_model("treatment_sessions", "SymptomType")
    for category, names in CATALOGUE.items():
        for name in names:
            SymptomType.objects.get_or_create(
                code=slugify(f"{category}-{name}")[:60],
                defaults={"name": name, "category": category},
            )


class Migration(migrations.Migration):
    dependencies = [("treatment_sessions", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
