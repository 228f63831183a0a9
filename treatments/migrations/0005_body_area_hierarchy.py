"""Body areas form a hierarchy: the face holds the eyes, the lips, the cheeks, the forehead, the
nose and the chin (../shared/DOMAIN.md). The parts missing from the seed are added; the clinic
edits the hierarchy in the admin after."""

import django.db.models.deletion
from django.db import migrations, models

FACE = "face"
# slug: name, for the parts of the face
FACE_PARTS = {
    "around-eyes": "Around the eyes",
    "around-lips": "Around the lips",
    "cheeks": "Cheeks",
    "forehead": "Forehead",
    "nose": "Nose",
    "chin": "Chin",
}


def seed(apps, schema_editor):
    BodyArea = apps.get_model("treatments", "BodyArea")
    face, _ = BodyArea.objects.get_or_create(slug=FACE, defaults={"name": "Face"})
    for slug, name in FACE_PARTS.items():
        part = (
            BodyArea.objects.filter(slug=slug).first()
            or BodyArea.objects.filter(name=name).first()
            or BodyArea.objects.create(slug=slug, name=name)
        )
        if part.parent_id is None and part.pk != face.pk:
            part.parent = face
            part.save(update_fields=["parent"])


class Migration(migrations.Migration):
    dependencies = [("treatments", "0004_completed_session_names_its_screening")]

    operations = [
        migrations.AddField(
            model_name="bodyarea",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                help_text="The area this one is part of (the lips are part of the face), if any.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="children",
                to="treatments.bodyarea",
            ),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
