"""Lists the patient records past their retention period, for a clinic admin to erase."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from people.erasure import patients_past_retention


class Command(BaseCommand):
    help = (
        "Lists the patient records whose retention period (PATIENT_RETENTION_YEARS after "
        "their last change) has ended, with the page that erases each. Erases nothing."
    )

    def handle(self, *args, **options) -> None:
        past = patients_past_retention()
        years = settings.PATIENT_RETENTION_YEARS
        if not past:
            self.stdout.write(f"No record is past its {years}-year retention period.")
            return
        self.stdout.write(f"{len(past)} records are past their {years}-year retention period:")
        base = settings.SITE_URL.rstrip("/")
        for row in past:
            url = base + reverse("people:patient_erase", args=[row.patient_id])
            self.stdout.write(
                f"record {row.patient_id}: last changed {row.last_change:%Y-%m-%d}, "
                f"may be erased since {row.erasable_from:%Y-%m-%d}: {url}"
            )
