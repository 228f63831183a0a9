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
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core import versions
from core.cache import keep_under, read_under_tokens, renew_token

# A safety net only: correctness comes from the versions in the key and the kept value.
PART_CACHE_SECONDS = 6 * 60 * 60


def _raise_pending(connection) -> None:
    from .models import Patient

    patient_ids = connection.pending_record_changes.copy()
    connection.pending_record_changes.clear()
    if patient_ids:
        Patient.objects.filter(pk__in=patient_ids).update(record_version=F("record_version") + 1)
        if settings.SHARED_CACHE:
            renew_token(*(record_token_key(patient_id) for patient_id in patient_ids))


def record_token_key(patient_id: int) -> str:
    """With a shared cache: the patient's record token, renewed beside every raise of their
    record version, so a kept record page needs no read of the patient row to know it is
    current."""
    return f"record-token:{patient_id}"


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


def _part_key(name: str, patient_id: int, version: str, now: dt.datetime, vary) -> str:
    return ":".join(
        [
            "record",
            name,
            str(patient_id),
            version,
            timezone.localdate(now).isoformat(),
            *(str(value) for value in vary),
        ]
    )


def _kept_or_drawn(stamp, kept, key: str, now: dt.datetime, draw: Callable[[], tuple]):
    """What a `keep_under` entry read under `stamp` holds, if it is still true at `now`; else
    what `draw()` returns (the value, and the moment it stops being true), kept under `stamp`."""
    if kept is not None and (kept[1] is None or now < kept[1]):
        return kept[0]
    value, true_until = draw()
    keep_under(stamp, key, (value, true_until), PART_CACHE_SECONDS)
    return value


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
    key = _part_key(name, patient.pk, f"v{patient.record_version}", now, vary)
    stamp, kept = versions.read_kept((versions.REFERENCE, *versions_named), key)
    return _kept_or_drawn(stamp, kept, key, now, draw)


def patient_part(
    name: str,
    patient_id: int,
    *vary: Any,
    draw: Callable[[], tuple[Any, dt.datetime | None]],
    versions_named: tuple[str, ...] = (),
    now: dt.datetime | None = None,
):
    """`cached_part` for a patient known by id alone, for a part that shows nothing of the
    patient's row: with a shared cache, kept under the patient's record token, so a kept part
    reads no row at all; without one, the patient's record version is read for the key.
    Http404 for an unknown patient."""
    from .models import Patient

    if not settings.SHARED_CACHE:
        version = get_object_or_404(
            Patient.objects.values_list("record_version", flat=True), pk=patient_id
        )
        patient = Patient(pk=patient_id, record_version=version)
        return cached_part(name, patient, *vary, draw=draw, versions_named=versions_named, now=now)
    return _kept_under_record_token(name, patient_id, "token", vary, draw, versions_named, now)


def _kept_under_record_token(
    name: str, patient_id: int, layout: str, vary, draw, versions_named=(), now=None
):
    """With a shared cache: what `draw()` returns, kept under the patient's record token and
    the named versions (the reference lists always), read with them in one round trip.
    `layout` names what the entries hold, so entries of two layouts never share a key."""
    now = now or timezone.now()
    key = _part_key(name, patient_id, layout, now, vary)
    tokens = [versions.token_key(named) for named in (versions.REFERENCE, *versions_named)]
    stamp, kept = read_under_tokens([*tokens, record_token_key(patient_id)], key)
    return _kept_or_drawn(stamp, kept, key, now, draw)


@functools.cache
def _patient_attnames() -> list[str]:
    from .models import Patient

    return [field.attname for field in Patient._meta.concrete_fields]


def record_page(
    name: str,
    patient_id: int,
    *vary: Any,
    draw: Callable[[Any], tuple[Any, dt.datetime | None]],
    load: Callable[[], Any] | None = None,
    now: dt.datetime | None = None,
):
    """The patient and what `draw(patient)` returns for their record, for a record page.

    `name` names the part's layout too: a page that changes what its part holds gives it a new
    name, so entries kept by a release before are never read (they expire). `load()` reads the
    patient, raising what the page answers when it cannot (by default Http404 for an unknown
    id). With a shared cache, the patient's row and the part are kept together under the
    patient's record token and the reference version, so a kept page reads no row at all; a
    missing or renewed token only means reading and drawing again. Without one, the patient is
    read for their record version and the part is kept under it (`cached_part`).
    """
    from .models import Patient

    if load is None:

        def load():
            return get_object_or_404(Patient, pk=patient_id)

    if not settings.SHARED_CACHE:
        patient = load()
        return patient, cached_part(name, patient, *vary, draw=lambda: draw(patient), now=now)

    def drawn():
        patient = load()
        part, true_until = draw(patient)
        # The row, not the instance: whatever relations drawing loaded onto it are not kept.
        row = tuple(getattr(patient, attname) for attname in _patient_attnames())
        return (row, part), true_until

    # "row": these entries hold (patient row, part), where patient_part's hold the part alone.
    row, part = _kept_under_record_token(name, patient_id, "row", vary, drawn, now=now)
    return Patient.from_db(DEFAULT_DB_ALIAS, _patient_attnames(), row), part
