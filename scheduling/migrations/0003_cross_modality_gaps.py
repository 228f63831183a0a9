"""The clinic's starting cross-modality rule: no microdermabrasion within 7 days after laser.

Editable data (Django admin). Modalities are looked up by kind; when the catalogue has not been
seeded yet nothing is created (scheduling.demo.load() adds the rule too).
"""

from django.db import migrations

LASER_KINDS = ("laser_peel", "laser_resurfacing")
DEFAULT_GAPS = [(kind, "microdermabrasion", 7) for kind in LASER_KINDS]


def seed(apps, schema_editor):
    Modality = apps.get_model("treatments", "Modality")
    CrossModalityGap = apps.get_model("scheduling", "CrossModalityGap")
    by_kind = {m.kind: m for m in Modality.objects.all()}
    for after, then, days in DEFAULT_GAPS:
        if after in by_kind and then in by_kind:
            CrossModalityGap.objects.get_or_create(
                after=by_kind[after], then=by_kind[then], defaults={"days": days}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_no_double_booking_on_postgresql"),
        ("treatments", "0003_seed_catalogue_rules"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
