from __future__ import annotations

from django.core.management.base import BaseCommand

from photos import services


class Command(BaseCommand):
    help = (
        "Queues the derivatives and comparison sheets that are missing (row or file), failed, "
        "made by an older version of the code or held by a task that died (running longer "
        "than the hard time limit). --now makes them in this process instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--now", action="store_true", help="make them here instead of sending tasks"
        )

    def handle(self, *args, now: bool = False, **options) -> None:
        photos, sheets = services.derivatives_requeue_outdated(send=not now)
        if now:
            from photos.models import Comparison, Derivative, Status

            for photo_id in (
                Derivative.objects.filter(status=Status.PENDING)
                .values_list("photo_id", flat=True)
                .distinct()
            ):
                services.photo_derivatives_make(photo_id=photo_id)
            for comparison_id in Comparison.objects.filter(sheet_status=Status.PENDING).values_list(
                "pk", flat=True
            ):
                services.comparison_sheet_make(comparison_id=comparison_id)
        verb = "Made" if now else "Queued"
        self.stdout.write(f"{verb} derivatives for {photos} photo(s) and {sheets} sheet(s).")
        # New derivatives send their own scoring; this catches scores lost or outdated.
        if scores := services.quality_resend_outdated():
            self.stdout.write(f"Queued the quality score of {scores} photo(s).")
        if measures := services.colour_resend_outdated():
            self.stdout.write(f"Queued the colour measure of {measures} photo(s).")
        busy_photos, busy_sheets = services.work_in_progress()
        if busy_photos or busy_sheets:
            self.stdout.write(
                f"Left to the tasks making them: {busy_photos} photo(s) still being made and "
                f"{busy_sheets} sheet(s)."
            )
