"""The patient's own check before a session (issue 22): the day-to-day factors asked in plain
words, with the day a yes needs, and how long a reported condition is taken to last.

The wording and the days are the clinic's starting data, edited in the admin; a factor an admin
already worded is left alone.
"""

import django.db.models.deletion
from django.db import migrations, models

# slug: (question, date question, days a reported condition is taken to last)
PATIENT_WORDING = {
    "cold-sore": ("Do you have a cold sore (on the lips or the face)?", "Since when?", 10),
    "tan": (
        "Have you sunbathed, used a sunbed or got a deep tan lately?",
        "When was the last time?",
        None,
    ),
    "sunburn": ("Do you have sunburn?", "Since when?", 7),
    "waxing": ("Have you waxed the area we treat lately?", "When was the last time?", None),
    "laser-ipl": (
        "Have you had a laser or IPL treatment somewhere else lately?",
        "When was the last time?",
        None,
    ),
    "pregnancy": ("Are you pregnant, or could you be?", "", None),
    "infection": (
        "Do you have an infection, a boil or an open wound on the skin?",
        "Since when?",
        14,
    ),
    "rosacea-flare": ("Is your rosacea flaring up?", "Since when?", 14),
    "retinoids": (
        "Are you using retinoids (vitamin A creams) or fruit-acid products on your skin?",
        "Since when?",
        None,
    ),
    "new-medicine": ("Have you started a new medicine since your last visit?", "Since when?", None),
}


def seed(apps, schema_editor):
    Factor = apps.get_model("treatments", "Factor")
    for slug, (question, date_question, lasts) in PATIENT_WORDING.items():
        Factor.objects.filter(slug=slug, patient_question="").update(
            patient_question=question,
            patient_date_question=date_question,
            reported_lasts_days=lasts,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0011_consultations_course_templates"),
    ]

    operations = [
        migrations.AddField(
            model_name="factor",
            name="patient_date_question",
            field=models.CharField(
                blank=True,
                help_text="Asked with a yes, e.g. 'Since when?' or 'When was the last time?'. Empty: the day the patient answers is taken.",
                max_length=120,
            ),
        ),
        migrations.AddField(
            model_name="factor",
            name="patient_question",
            field=models.CharField(
                blank=True,
                help_text="How the patient is asked before a session, in plain words, e.g. 'Do you have a cold sore?'. Empty: the name, as a question.",
                max_length=200,
            ),
        ),
        migrations.AddField(
            model_name="factor",
            name="reported_lasts_days",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="A condition a patient reports before a session is taken to last this many days from the day it began (a cold sore heals in about 10), or at least until the day they answer. Empty: until a clinician sees the patient.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="presessioncheck",
            name="source",
            field=models.CharField(
                choices=[
                    ("clinician", "The clinician's check on the day"),
                    ("patient", "Answered by the patient before the visit"),
                ],
                default="clinician",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="screening",
            name="occasion",
            field=models.CharField(
                choices=[
                    ("planning", "Course planned"),
                    ("booking", "Session booked"),
                    ("check_in", "Check-in"),
                    ("pre_visit", "Patient's answers before the visit"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="PreSessionAnswer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("question", models.CharField(max_length=200)),
                ("answer", models.BooleanField()),
                (
                    "day",
                    models.DateField(
                        blank=True, help_text="Since when, or the day it happened.", null=True
                    ),
                ),
                ("until", models.DateField(blank=True, null=True)),
                (
                    "factor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.factor",
                    ),
                ),
                (
                    "pre_session_check",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="answers",
                        to="treatments.presessioncheck",
                    ),
                ),
            ],
            options={
                "ordering": ["pre_session_check", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("pre_session_check", "factor"), name="one_answer_per_question"
                    )
                ],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
