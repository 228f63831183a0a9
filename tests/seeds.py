"""The data migrations' rows, put back after a test that flushed the database.

Tests on a live server or with a worker process use real transactions, and pytest-django
empties every table after them; migrations do not run again, so the seeded catalogue, rules
and gaps would be missing for the tests that follow. Roles survive: they are rebuilt on the
post_migrate signal that the flush sends.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

SEED_MIGRATIONS = [
    ("treatments.migrations.0003_seed_catalogue_rules", "seed"),
    ("scheduling.migrations.0003_cross_modality_gaps", "seed"),
]


def reseed() -> None:
    for module, function in SEED_MIGRATIONS:
        getattr(import_module(module), function)(apps, None)
