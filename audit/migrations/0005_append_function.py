"""PostgreSQL: the chained append as a server-side function, `audit_append`.

The append used to be one long statement (a CTE moving the chain head and inserting the event)
that PostgreSQL parsed and planned on every page view. As a PL/pgSQL function its plans are
prepared once per connection, which holds behind a transaction-mode pooler too (unlike a
session-level PREPARE), and each append sends a short call instead of the whole statement.

The arguments are the event's fields in audit.services.APPEND_FIELDS order, after the two
pieces of the canonical form around the timestamp (before it, and between it and the previous
hash); tests/audit compares the two lists. The function does what the statement did: under the
head's row lock it takes the next id, the time (the caller's, but never before the last
event's), hashes the canonical form with the last hash, moves the head and writes the event.
"""

from django.db import migrations

APPEND_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION audit_append(
    canonical_before text,
    canonical_between text,
    requested_at timestamptz,
    p_actor_id integer,
    p_actor_role varchar,
    p_action varchar,
    p_allowed boolean,
    p_patient_id bigint,
    p_object_type varchar,
    p_object_id varchar,
    p_ip_address inet,
    p_detail varchar
) RETURNS TABLE (event_id bigint, event_at timestamptz, event_prev_hash varchar, event_hash varchar)
LANGUAGE plpgsql AS $$
DECLARE
    moved record;
BEGIN
    FOR attempt IN 1..2 LOOP
        UPDATE audit_auditchainhead AS head
        SET (last_event_id, last_hash, prev_hash, last_occurred_at) = (
            SELECT nextval(pg_get_serial_sequence('audit_auditevent', 'id')),
                   encode(sha256(convert_to(
                       canonical_before
                       || to_char(chained.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
                       || '+00:00' || canonical_between || head.last_hash || '"}',
                       'UTF8')), 'hex'),
                   head.last_hash,
                   chained.at
            FROM (SELECT GREATEST(requested_at, head.last_occurred_at) AS at) AS chained
        )
        WHERE head.id = 1
        RETURNING head.last_event_id, head.last_hash, head.prev_hash, head.last_occurred_at
        INTO moved;
        EXIT WHEN FOUND;
        -- The first append ever: no head yet.
        INSERT INTO audit_auditchainhead (id, last_event_id, last_hash, prev_hash)
        VALUES (1, NULL, repeat('0', 64), repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
    END LOOP;
    INSERT INTO audit_auditevent (
        id, occurred_at, prev_hash, hash, actor_id, actor_role, action, allowed, patient_id,
        object_type, object_id, ip_address, detail
    ) VALUES (
        moved.last_event_id, moved.last_occurred_at, moved.prev_hash, moved.last_hash,
        p_actor_id, p_actor_role, p_action, p_allowed, p_patient_id, p_object_type, p_object_id,
        p_ip_address, p_detail
    );
    RETURN QUERY SELECT moved.last_event_id, moved.last_occurred_at, moved.prev_hash,
        moved.last_hash;
END;
$$;
"""

DROP_APPEND_FUNCTION_SQL = """
DROP FUNCTION IF EXISTS audit_append(
    text, text, timestamptz, integer, varchar, varchar, boolean, bigint, varchar, varchar, inet,
    varchar
);
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_FUNCTION_SQL)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_FUNCTION_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_fewer_indexes_per_append"),
    ]

    operations = [migrations.RunPython(create_function, drop_function)]
