"""The chain becomes keyed (HMAC-SHA256 with AUDIT_CHAIN_KEY, see audit.models), and TRUNCATE
is refused like UPDATE and DELETE.

The existing chain is checked with its old, unkeyed hashes first; a broken chain stops the
migration, rather than being re-signed and so made to look intact. Run with the production
AUDIT_CHAIN_KEY set.
"""

import datetime
import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations

GENESIS_HASH = "0" * 64
TABLE = "audit_auditevent"

TRUNCATE_TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_reject_truncate() RETURNS trigger AS $$
BEGIN
    -- A superuser may: it can switch the trigger off anyway, and Django's test runner empties
    -- tables with TRUNCATE. The application's role is never a superuser (README, Audit log).
    IF current_setting('is_superuser') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: TRUNCATE on audit_auditevent is not allowed';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_truncate();
"""

DROP_TRUNCATE_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS audit_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_reject_truncate();
"""


def _canonical(row, prev_hash) -> bytes:
    occurred_at = row["occurred_at"]
    if isinstance(occurred_at, str):
        occurred_at = datetime.datetime.fromisoformat(occurred_at)
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=datetime.UTC)
    fields = {
        "occurred_at": occurred_at.astimezone(datetime.UTC).isoformat(timespec="microseconds"),
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
        "action": row["action"],
        "allowed": bool(row["allowed"]),
        "patient_id": row["patient_id"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "ip_address": row["ip_address"],
        "detail": row["detail"],
        "prev_hash": prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def key_the_chain(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    key = settings.AUDIT_CHAIN_KEY.encode()
    connection = schema_editor.connection
    old_prev = new_prev = GENESIS_HASH
    rewritten = []
    rows = AuditEvent.objects.order_by("id").values(
        "id",
        "occurred_at",
        "actor_id",
        "actor_role",
        "action",
        "allowed",
        "patient_id",
        "object_type",
        "object_id",
        "ip_address",
        "detail",
        "prev_hash",
        "hash",
    )
    for row in rows.iterator(chunk_size=2000):
        unkeyed = hashlib.sha256(_canonical(row, old_prev)).hexdigest()
        if row["prev_hash"] != old_prev or row["hash"] != unkeyed:
            raise RuntimeError(
                f"audit event {row['id']} breaks the unkeyed chain: run verify_audit on the "
                "previous release and investigate before keying the chain"
            )
        keyed = hmac.new(key, _canonical(row, new_prev), hashlib.sha256).hexdigest()
        rewritten.append((new_prev, keyed, row["id"]))
        old_prev, new_prev = unkeyed, keyed
    if not rewritten:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_append_only")
        cursor.executemany(f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s", rewritten)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_append_only")
    last_prev, last_hash, _ = rewritten[-1]
    AuditChainHead.objects.filter(pk=1).update(last_hash=last_hash, prev_hash=last_prev)


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRUNCATE_TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRUNCATE_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_drop_append_function"),
    ]

    operations = [
        migrations.RunPython(key_the_chain, migrations.RunPython.noop),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
