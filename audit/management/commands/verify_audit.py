from django.core.management.base import BaseCommand, CommandError

from audit.anchors import anchor_write
from audit.services import audit_verify


class Command(BaseCommand):
    help = (
        "Checks the audit log's keyed hash chain against its latest anchor; exits non-zero at "
        "the first break. When it holds, anchors the head again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-anchor", action="store_true", help="do not write a new anchor afterwards"
        )

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit log broken at event {report.broken_at}: {report.problem} "
                f"({report.verified} events before it verified)."
            )
        self.stdout.write(f"OK: {report.verified} audit events verified.")
        if not options["no_anchor"] and (anchor := anchor_write()) is not None:
            self.stdout.write(f"Anchored at event {anchor.event_id}.")
