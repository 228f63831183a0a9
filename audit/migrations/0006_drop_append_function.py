"""The audit append is one implementation, in Python (audit.services.audit_log): the
PostgreSQL function of migration 0005 goes."""

from django.db import migrations

DROP_APPEND_FUNCTION_SQL = """
DROP FUNCTION IF EXISTS audit_append(
    text, text, timestamptz, integer, varchar, varchar, boolean, bigint, varchar, varchar, inet,
    varchar
);
"""


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_FUNCTION_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_append_function"),
    ]

    operations = [migrations.RunPython(drop_function, migrations.RunPython.noop)]
