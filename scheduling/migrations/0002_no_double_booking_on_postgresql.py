"""No double booking, enforced by PostgreSQL: an exclusion constraint over each resource's time.

Two active reservations of the same resource may not overlap ([start, end) ranges, so back to
back is fine). SQLite has no such constraint; there the booking service serialises writers.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE scheduling_reservation
    ADD CONSTRAINT reservation_no_overlap
    EXCLUDE USING gist (resource WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (active);
"""
DROP = "ALTER TABLE scheduling_reservation DROP CONSTRAINT IF EXISTS reservation_no_overlap;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
