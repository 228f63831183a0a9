"""Patients' record versions, and the record pages' drawn parts cached under them.

A record page (the clinical chart, the photo timeline, the portal home) costs far more to draw
than to serve, and is looked at far more often than it changes. So its drawn part is cached
under a key that holds everything it was drawn from:

- the patient's `record_version`, raised after every committed change to the patient's own
  rows (people/signals.py and `RecordQuerySet` below call `record_changed`); it is a column of
  the patient row, which every record page reads anyway, so it costs no query;
- today's date, and whatever else the caller names (e.g. the viewer's permissions);
- and, checked in the kept value rather than the key (core/versions.py `read_kept`, one cache
  round trip with the part), the reference version, the clinic's lists shown beside those
  rows, and any other named version the caller names (the calendar, for availability);
- for parts that change with the clock (an upcoming session passing), the drawing names the
  moment it stops being true, and is drawn again from then on.

A cached part is therefore never stale, and nothing has to find and delete it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from core import versions
from core.cache import keep_under

# A safety net only: correctness comes from the versions in the key and the kept value.
PART_CACHE_SECONDS = 6 * 60 * 60


def _raise_pending(connection) -> None:
    from .models import Patient

    patient_ids = connection.pending_record_changes.copy()
    connection.pending_record_changes.clear()
    if patient_ids:
        Patient.objects.filter(pk__in=patient_ids).update(record_version=F("record_version") + 1)


def record_changed(patient_id: int | None) -> None:
    """Raise the patient's record version once the current transaction commits.

    After the commit, not inside it: a reader that saw the old version and the new rows only
    caches under a version that is about to be retired, and no writer waits on the patient row.
    Every change asks for the raise, and the first to run after the commit raises them all in
    one query (a change rolled back at worst raises its version once more than needed).
    """
    if patient_id is None:
        return
    connection = transaction.get_connection()
    if not hasattr(connection, "pending_record_changes"):
        connection.pending_record_changes = set()
    connection.pending_record_changes.add(patient_id)
    transaction.on_commit(lambda: _raise_pending(connection))


class RecordQuerySet(models.QuerySet):
    """Bulk updates and deletes of a patient's rows raise their patients' record versions,
    as saving the rows one by one does through the signals."""

    patient_field = "patient_id"

    def _patient_ids(self) -> set[int]:
        return set(self.order_by().values_list(self.patient_field, flat=True).distinct())

    def update(self, **kwargs) -> int:
        patient_ids = self._patient_ids()
        updated = super().update(**kwargs)
        if updated:
            for patient_id in patient_ids:
                record_changed(patient_id)
        return updated

    update.alters_data = True

    def delete(self):
        patient_ids = self._patient_ids()
        deleted = super().delete()
        for patient_id in patient_ids:
            record_changed(patient_id)
        return deleted

    delete.alters_data = True
    delete.queryset_only = True


def cached_part(
    name: str,
    patient,
    *vary: Any,
    draw: Callable[[], tuple[Any, dt.datetime | None]],
    versions_named: tuple[str, ...] = (),
    now: dt.datetime | None = None,
):
    """What `draw()` returns for this patient's record, drawn at most once per version.

    `draw` returns the part (any picklable value, usually HTML) and the moment it stops being
    true, or None when only the date matters. `vary`: anything else the part depends on;
    `versions_named`: named versions it depends on besides the reference lists.
    """
    now = now or timezone.now()
    key = ":".join(
        [
            "record",
            name,
            str(patient.pk),
            str(patient.record_version),
            timezone.localdate(now).isoformat(),
            *(str(value) for value in vary),
        ]
    )
    stamp, kept = versions.read_kept((versions.REFERENCE, *versions_named), key)
    if kept is not None and (kept[1] is None or now < kept[1]):
        return kept[0]
    part, true_until = draw()
    keep_under(stamp, key, (part, true_until), PART_CACHE_SECONDS)
    return part
