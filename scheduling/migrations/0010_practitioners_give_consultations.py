"""Every practitioner may give the new consultation (treatments 0010): editable per practitioner
in the admin afterwards. Nothing is done when the catalogue has no consultation."""

from django.db import migrations


def qualify(apps, schema_editor):
    Modality = apps.get_model("treatments", "Modality")
    Practitioner = apps.get_model("scheduling", "Practitioner")
    consultation = Modality.objects.filter(kind="consultation").first()
    if consultation is None:
        return
    for practitioner in Practitioner.objects.all():
        practitioner.modalities.add(consultation)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0009_waitlist"),
        ("treatments", "0011_consultations_course_templates"),
    ]

    operations = [migrations.RunPython(qualify, migrations.RunPython.noop)]
