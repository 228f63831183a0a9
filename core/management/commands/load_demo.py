from __future__ import annotations

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

# Each module has load(), safe to run again; later ones may use what earlier ones made.
DEMO_MODULES = [
    "people.demo",
    "treatments.demo",
    "scheduling.demo",
    "photos.demo",  # it photographs the sessions the others made
    "portal.demo",  # last: books Alice's next session, releases her frontal comparison
]


class Command(BaseCommand):
    help = "Loads the demo clinic (staff for each role, patients, courses, photos). Idempotent."

    def handle(self, *args, **options) -> None:
        logins: list[tuple[str, str]] = []  # (role, username): every one, as the README lists
        with transaction.atomic():
            for module_name in DEMO_MODULES:
                result = import_module(module_name).load()
                if result:
                    logins.extend(result)
        from people.demo import DEMO_PASSWORD

        self.stdout.write(
            self.style.SUCCESS(f"Demo clinic ready. Logins (password for all: {DEMO_PASSWORD}):")
        )
        for role, username in logins:
            self.stdout.write(f"  {role:<14} {username}")
