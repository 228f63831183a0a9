"""Erasing a patient's record once the law no longer asks the clinic to keep it.

A medical record is kept PATIENT_RETENTION_YEARS from its last change (in the Netherlands 20
years, WGBO art. 7:454 BW); before that no one may erase it, and there is no override. After
it a clinic admin may (`patient_erase`, permission people.erase_patient), in one transaction:

- the photos, their derivatives and comparison sheets go (apps add what is theirs with
  `eraser_register`: the photos app deletes its rows and names its files), as do the data
  exports and every file a related row's FileField holds;
- the portal login is closed: sessions and API tokens deleted, the account deactivated and
  anonymised (its row stays: audit events name it as the actor);
- the clinical rows stay for the clinic's figures, anonymised: they point to the erased
  record, and their free text (notes, messages) is emptied;
- the Patient row stays as "Erased patient #<id>", with no date of birth, contact details,
  notes or search fields; records merged into it earlier are emptied the same way.

Files are deleted through the storage API only once the transaction has committed, so an
erasure that fails halfway leaves every row and every file as it was.

The audit log is not touched: its events are append-only and hash-chained. They hold the
patient's id, never a name, email or date of birth (audit_log's rule for `detail`), so once
the Patient row is anonymised the chain refers only to "Erased patient #<id>" and still
verifies. The erasure itself is an audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session as WebSession
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import Action, audit_log, recorded
from core.models import OutboxMessage

from .models import DataExport, Patient
from .services import patient_relations

logger = logging.getLogger(__name__)

# An app's part of an erasure: deletes its rows of the patient and answers the storage keys
# (default storage) of the files to delete once the erasure has committed.
Eraser = Callable[[Patient], Iterable[str]]
_erasers: list[Eraser] = []

# Sign-in records kept by username by django-axes.
_SIGN_IN_LOGS = ("axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog")


def eraser_register(eraser: Eraser) -> Eraser:
    """Adds `eraser(patient)` to every erasure (usable as a decorator)."""
    if eraser not in _erasers:
        _erasers.append(eraser)
    return eraser


# --- the retention period ----------------------------------------------------------------


def _dated_fields(model: type[models.Model]) -> list[models.DateField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.DateField)]


def _as_day(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def last_changes(patient_ids: Iterable[int] | None = None) -> dict[int, dt.date]:
    """The day each record last changed: the latest date or time in the Patient row and in any
    row pointing to it (sessions, history, photos, and whatever a later app adds), the future
    left out (a booked session is no change yet). One query per dated field of each kind of
    row, for one patient or for all."""
    today = timezone.localdate()
    latest: dict[int, dt.date] = {}

    def note(patient_id, value) -> None:
        if patient_id is None or value is None:
            return
        day = _as_day(value)
        if day <= today and day > latest.get(patient_id, dt.date.min):
            latest[patient_id] = day

    patients = Patient.all_records.filter(merged_into__isnull=True)
    if patient_ids is not None:
        patients = patients.filter(pk__in=list(patient_ids))
    for pk, created, updated in patients.values_list("pk", "created_at", "updated_at"):
        note(pk, created)
        note(pk, updated)
    for relation in patient_relations():
        model = relation.related_model
        if model in (Patient, DataExport):  # a merged record; a copy asked for is no change
            continue
        column = relation.field.name
        rows = model._base_manager.all()
        if patient_ids is not None:
            rows = rows.filter(**{f"{column}__in": list(patient_ids)})
        for f in _dated_fields(model):
            # The future is left out here already, in the database.
            until = timezone.now() if isinstance(f, models.DateTimeField) else today
            grouped = rows.filter(**{f"{f.name}__lte": until})
            grouped = grouped.values(column).annotate(latest=Max(f.name)).order_by()
            for row in grouped:
                note(row[column], row["latest"])
    return latest


def retention_ends(patient: Patient, *, last_change: dt.date | None = None) -> dt.date:
    """The first day the record may be erased."""
    if last_change is None:
        last_change = last_changes([patient.pk]).get(patient.pk, timezone.localdate())
    return last_change + relativedelta(years=settings.PATIENT_RETENTION_YEARS)


@dataclass(frozen=True)
class PastRetention:
    patient_id: int
    last_change: dt.date
    erasable_from: dt.date


def patients_past_retention(*, today: dt.date | None = None) -> list[PastRetention]:
    """Records whose retention period has ended and that are not erased yet, oldest first."""
    today = today or timezone.localdate()
    erased = set(Patient.all_records.filter(erased_at__isnull=False).values_list("pk", flat=True))
    past = []
    for patient_id, last in last_changes().items():
        ends = last + relativedelta(years=settings.PATIENT_RETENTION_YEARS)
        if ends <= today and patient_id not in erased:
            past.append(PastRetention(patient_id, last, ends))
    return sorted(past, key=lambda row: (row.erasable_from, row.patient_id))


# --- erasing -------------------------------------------------------------------------------


@dataclass
class Erasure:
    """What an erasure did, in counts (never names)."""

    files: int = 0
    rows_deleted: int = 0
    rows_anonymised: int = 0
    records: int = 1

    @property
    def summary(self) -> str:
        return (
            f"{self.files} files deleted, {self.rows_deleted} rows deleted, "
            f"{self.rows_anonymised} rows anonymised, {self.records} records emptied"
        )


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _names_match(typed: str, patient: Patient) -> bool:
    return " ".join(typed.split()).casefold() == " ".join(patient.full_name.split()).casefold()


def erasure_refusal(patient: Patient, *, today: dt.date | None = None) -> str:
    """Why the record may not be erased now, in words for the admin; "" when it may."""
    if patient.is_erased:
        return f"This record was already erased on {_day(timezone.localdate(patient.erased_at))}."
    if patient.is_merged:
        return (
            f"This record was merged into record {patient.merged_into_id}: "
            "erase the record kept instead."
        )
    today = today or timezone.localdate()
    ends = retention_ends(patient)
    if today < ends:
        return (
            f"The law asks the clinic to keep this record for {settings.PATIENT_RETENTION_YEARS} "
            f"years after its last change: it may be erased from {_day(ends)}."
        )
    return ""


def _anonymise_person(patient: Patient, now: dt.datetime) -> None:
    patient.first_name = "Erased"
    patient.last_name = f"patient #{patient.pk}"
    patient.date_of_birth = None
    patient.email = patient.phone = patient.notes = ""
    patient.erased_at = now
    patient.user = None
    patient.save()


def _close_login(user, now: dt.datetime) -> None:
    """Ends every way into the portal: the account's sessions and tokens, and the account."""
    from knox.models import get_token_model

    get_token_model().objects.filter(user=user).delete()
    mine = str(user.pk)
    ended = [
        session.pk
        for session in WebSession.objects.filter(expire_date__gt=now).iterator()
        if session.get_decoded().get("_auth_user_id") == mine
    ]
    WebSession.objects.filter(pk__in=ended).delete()
    for label in _SIGN_IN_LOGS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        model.objects.filter(username__iexact=user.get_username()).delete()
    user.username = f"erased-patient-{user.pk}"
    user.email = user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()


def _empty_related_rows(patient: Patient, erasure: Erasure, keys: list) -> None:
    """Rows pointing to the patient stay, their free text emptied and their files named for
    deletion."""
    for relation in patient_relations():
        model = relation.related_model
        if model is Patient:
            continue
        rows = model._base_manager.filter(**{relation.field.name: patient})
        texts = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.TextField) and f.blank and not f.choices
        ]
        file_fields = [
            f.name for f in model._meta.concrete_fields if isinstance(f, models.FileField)
        ]
        for name in file_fields:
            for value in rows.exclude(**{name: ""}).values_list(name, flat=True):
                keys.append(value)
        changes = {name: "" for name in texts + file_fields}
        if changes:
            erasure.rows_anonymised += rows.update(**changes)


def patient_erase(*, patient: Patient, typed_name: str, by, request=None) -> Erasure:
    """Erases the record after its retention period (see the module's docstring). The admin
    types the patient's name to confirm. Refused, with the reason and audited, before the
    period ends, for a record merged or erased already, or without the permission."""
    if not (by.is_superuser or by.has_perm("people.erase_patient")):
        raise ValidationError("Only a clinic admin erases a patient's record.")
    now = timezone.now()
    erasure = Erasure()
    keys: list[str] = []
    with recorded():
        # Checked and erased under one lock: nothing changes the record in between.
        patient = (
            Patient.all_records.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=patient.pk)
        )
        refusal = erasure_refusal(patient)
        if not refusal and not _names_match(typed_name, patient):
            refusal = "Type the patient's full name exactly as shown to confirm the erasure."
        if not refusal:
            _erase(patient, erasure, keys, now)
            audit_log(
                actor=by,
                action=Action.DELETE,
                obj=patient,
                request=request,
                detail=f"erased after the retention period: {erasure.summary}"[:300],
            )
            transaction.on_commit(lambda: _delete_files(keys))
    if refusal:
        audit_log(
            actor=by,
            action=Action.DELETE,
            obj=patient,
            allowed=False,
            request=request,
            detail="erasure refused",
        )
        raise ValidationError(refusal)
    return erasure


def _erase(patient: Patient, erasure: Erasure, keys: list[str], now: dt.datetime) -> None:
    user = patient.user
    for eraser in _erasers:
        keys.extend(eraser(patient))
    exports = DataExport.objects.filter(patient=patient)
    keys.extend(key for key in exports.values_list("storage_key", flat=True) if key)
    erasure.rows_deleted += exports.delete()[0]
    _empty_related_rows(patient, erasure, keys)
    for merged in Patient.all_records.filter(merged_into=patient):
        _anonymise_person(merged, now)
        erasure.records += 1
    # Emails not sent yet name the patient's address (and hold their name).
    unsent = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.EMAIL)
    for address in {patient.email.strip(), user.email.strip() if user else ""} - {""}:
        erasure.rows_deleted += unsent.filter(summary__icontains=address).delete()[0]
    if user is not None:
        _close_login(user, now)
    _anonymise_person(patient, now)
    erasure.files = len(keys)


def _delete_files(keys: list[str]) -> None:
    for key in keys:
        try:
            default_storage.delete(key)
        except OSError:  # pragma: no cover - logged for the admin; the rows are gone already
            logger.exception("an erased record's file could not be deleted: %s", key)
