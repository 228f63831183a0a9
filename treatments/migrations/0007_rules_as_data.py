"""Rules as data, all the way (issue 17, observations 9-11).

- Windows in days, weeks or calendar months: `window_days` becomes `window` with a unit, and
  the seeded isotretinoin rule's 183 days become 6 months.
- The texts come from the rule's data: the seeded reasons lose the window they repeated, and
  the rules that ask something of a booked patient say what (the email dates it).
- The pre-session check asks every question that changes from day to day: laser or IPL
  elsewhere, a new medicine since the last visit (a new factor and rule), and the rest.
- A used rule is retired, never deleted; a completed session keeps its aftercare.

The lead re-points the dependency to 0005_body_area_hierarchy at merge.
"""

import datetime

import django.db.models.deletion
from django.db import migrations, models

# The seeded texts (0003) and what they become; a text an admin changed is left alone.
REASONS = {
    "Laser or IPL in the last 7 days": (
        "No microdermabrasion within 7 days after a laser or IPL treatment.",
        "No microdermabrasion after a laser or IPL treatment.",
    ),
    "Waxing of the area in the last 7 days": (
        "No treatment where the skin was waxed in the last 7 days.",
        "No treatment where the skin was waxed.",
    ),
    "Isotretinoin in the last 6 months": (
        "Isotretinoin in the last 6 months: the skin heals poorly and scars.",
        "Isotretinoin: the skin heals poorly and scars.",
    ),
}
# rule name: what a booked patient is asked to avoid from the window's first day
ADVICE = {
    "Laser or IPL in the last 7 days": "no laser or IPL treatment",
    "Waxing of the area in the last 7 days": "no waxing in the treated area",
    "Deep tan or sunbathing": "no tanning or sunbathing (no sunbed)",
}
# The questions of the day's check: (slug, seeded name, new name)
DAY_TO_DAY = [
    ("cold-sore", None, None),
    ("tan", None, None),
    ("sunburn", None, None),
    ("waxing", None, None),
    ("laser-ipl", "Laser or IPL treatment", "Laser or IPL treatment elsewhere"),
    ("pregnancy", None, None),
    ("infection", None, None),
    ("rosacea-flare", None, None),
]
NEW_MEDICINE = {
    "slug": "new-medicine",
    "name": "New medicine since the last visit",
    "kind": "medication",
}
NEW_MEDICINE_RULE = {
    "name": "New medicine since the last visit",
    "severity": "relative",
    "reason": "A medicine started since the last visit: check what it is before treating.",
}


def seed(apps, schema_editor):
    Factor = apps.get_model("treatments", "Factor")
    ScreeningRule = apps.get_model("treatments", "ScreeningRule")
    ScreeningRule.objects.filter(
        name="Isotretinoin in the last 6 months", window=183, window_unit="days"
    ).update(window=6, window_unit="months")
    for name, (seeded, now) in REASONS.items():
        ScreeningRule.objects.filter(name=name, reason=seeded).update(reason=now)
    for name, advice in ADVICE.items():
        ScreeningRule.objects.filter(name=name, patient_advice="").update(patient_advice=advice)
    for slug, seeded_name, name in DAY_TO_DAY:
        Factor.objects.filter(slug=slug).update(in_pre_session_check=True)
        if name:
            Factor.objects.filter(slug=slug, name=seeded_name).update(name=name)
    factor, _ = Factor.objects.get_or_create(
        slug=NEW_MEDICINE["slug"],
        defaults={
            "name": NEW_MEDICINE["name"],
            "kind": NEW_MEDICINE["kind"],
            "in_pre_session_check": True,
        },
    )
    ScreeningRule.objects.get_or_create(
        name=NEW_MEDICINE_RULE["name"],
        defaults={
            "factor": factor,
            "severity": NEW_MEDICINE_RULE["severity"],
            "reason": NEW_MEDICINE_RULE["reason"],
        },
    )


def keep_aftercare(apps, schema_editor):
    """Sessions completed before aftercare was kept keep what the rules give them now, so a
    later edit no longer rewrites them."""
    Session = apps.get_model("treatments", "Session")
    AftercareRule = apps.get_model("treatments", "AftercareRule")
    from django.utils import timezone

    rules = [
        (rule, {level.pk for level in rule.levels.all()}) for rule in AftercareRule.objects.all()
    ]
    rules.sort(key=lambda pair: (pair[0].position, pair[0].pk))
    done = Session.objects.filter(status="completed", aftercare__isnull=True).only(
        "pk", "starts_at", "completed_at", "depth_level_id", "plan__modality_id"
    )
    batch = []
    for session in done.select_related("plan").iterator(chunk_size=5000):
        moment = session.starts_at or session.completed_at
        if moment is None:
            continue
        day = timezone.localdate(moment)
        kept = [
            {"text": rule.text, "until": (day + datetime.timedelta(days=rule.days)).isoformat()}
            for rule, levels in rules
            if rule.modality_id in (None, session.plan.modality_id)
            and (not levels or session.depth_level_id in levels)
        ]
        session.aftercare = sorted(kept, key=lambda item: item["until"])
        batch.append(session)
        if len(batch) >= 5000:  # a clinic's whole history in a few hundred statements
            Session.objects.bulk_update(batch, ["aftercare"])
            batch = []
    Session.objects.bulk_update(batch, ["aftercare"])


class Migration(migrations.Migration):
    dependencies = [("treatments", "0006_override_category")]

    operations = [
        migrations.RenameField(
            model_name="screeningrule", old_name="window_days", new_name="window"
        ),
        migrations.AlterField(
            model_name="screeningrule",
            name="window",
            field=models.PositiveIntegerField(
                blank=True,
                null=True,
                help_text="Look-back: the factor counts from its day through this many units"
                " later; empty means 'present on the day'.",
            ),
        ),
        migrations.AddField(
            model_name="screeningrule",
            name="window_unit",
            field=models.CharField(
                choices=[("days", "days"), ("weeks", "weeks"), ("months", "calendar months")],
                default="days",
                max_length=6,
            ),
        ),
        migrations.AddField(
            model_name="screeningrule",
            name="patient_advice",
            field=models.CharField(
                blank=True,
                max_length=200,
                help_text="What a booked patient is asked to avoid, e.g. 'no waxing in the"
                " treated area'; the booking email dates it from the window. Empty: nothing is"
                " asked.",
            ),
        ),
        migrations.AddField(
            model_name="screeningrule",
            name="retired_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="screeningrule",
            name="active",
            field=models.BooleanField(
                default=True, help_text="Untick to retire the rule: screening no longer reads it."
            ),
        ),
        migrations.AlterField(
            model_name="screeningrule",
            name="reason",
            field=models.CharField(
                max_length=300,
                help_text="Shown to staff when the rule fires, followed by the window ('within 7"
                " days') and the evidence. Do not write the window here: it comes from the"
                " window fields.",
            ),
        ),
        migrations.AlterField(
            model_name="screeningfinding",
            name="rule",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="findings",
                to="treatments.screeningrule",
            ),
        ),
        migrations.AddField(
            model_name="session",
            name="aftercare",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(keep_aftercare, migrations.RunPython.noop),
    ]
