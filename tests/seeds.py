"""The data migrations' rows, put back after a test that flushed the database.

Tests on a live server or with a worker process use real transactions, and pytest-django
empties every table after them; migrations do not run again, so the seeded catalogue, rules
and gaps would be missing for the tests that follow. The rows are kept as the migrations left
them, once before the first test (`snapshot()`), and loaded back after each flush
(`reseed()`): running the migrations' seed functions again against today's models broke as
soon as a later migration renamed a field they set. Roles survive: they are rebuilt on the
post_migrate signal that the flush sends.
"""

from __future__ import annotations

from django.apps import apps
from django.core import serializers
from django.db import connection, transaction

SEEDED_APPS = ("treatments", "scheduling")

_kept: str | None = None


def _models():
    for app_label in SEEDED_APPS:
        yield from apps.get_app_config(app_label).get_models()


def snapshot() -> None:
    """Keeps every row of the seeded apps, as the migrations left them."""
    global _kept

    def rows():
        for model in _models():
            yield from model._default_manager.order_by("pk").iterator()

    _kept = serializers.serialize("json", rows())


def reseed() -> None:
    if _kept is None:
        return
    tables = [model._meta.db_table for model in _models()]
    with transaction.atomic(), connection.constraint_checks_disabled():
        waiting = []
        for obj in serializers.deserialize("json", _kept, handle_forward_references=True):
            obj.save()
            if obj.deferred_fields:
                waiting.append(obj)
        for obj in waiting:
            obj.save_deferred_fields()
    connection.check_constraints(table_names=tables)
