"""Chains the audit log with SHA-256 hashes and makes it append-only.

Existing events are chained in id order. On PostgreSQL a trigger rejects UPDATE and DELETE
on the table, whoever asks; the model refuses both through the ORM on every database.
"""

import datetime
import hashlib
import json

from django.db import migrations, models

GENESIS_HASH = "0" * 64

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_reject_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on audit_auditevent is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_reject_change();
"""


def _hash(event, prev_hash):
    fields = {
        "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat(
            timespec="microseconds"
        ),
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "action": event.action,
        "allowed": bool(event.allowed),
        "patient_id": event.patient_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "ip_address": event.ip_address,
        "detail": event.detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def chain_existing(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    prev = GENESIS_HASH
    last_id = None
    for event in AuditEvent.objects.order_by("id"):
        event.prev_hash = prev
        event.hash = _hash(event, prev)
        event.save(update_fields=["prev_hash", "hash"])
        prev, last_id = event.hash, event.pk
    if last_id is not None:
        AuditChainHead.objects.update_or_create(
            pk=1, defaults={"last_event_id": last_id, "last_hash": prev}
        )


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False),
                ),
                ("last_event_id", models.BigIntegerField(blank=True, null=True)),
                ("last_hash", models.CharField(default=GENESIS_HASH, max_length=64)),
            ],
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="occurred_at",
            field=models.DateTimeField(db_index=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default=GENESIS_HASH, editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("view", "Viewed"),
                    ("download", "Downloaded"),
                    ("create", "Created"),
                    ("change", "Changed"),
                    ("delete", "Deleted"),
                    ("login", "Signed in"),
                    ("logout", "Signed out"),
                    ("invite", "Invited"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["actor", "-occurred_at"], name="audit_audit_actor_i_322ce5_idx"
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
