from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_verify


class Command(BaseCommand):
    help = "Checks the audit log's hash chain; exits non-zero at the first broken link."

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(
                f"Audit log broken at event {report.broken_at}: {report.problem} "
                f"({report.verified} events before it verified)."
            )
        self.stdout.write(f"OK: {report.verified} audit events verified.")
