"""A patient's own data (GDPR articles 15 and 20): everything the clinic holds about them, as
a ZIP of `data.json` and their files, built by the worker into storage and served for
PATIENT_EXPORT_HOURS through a view that checks and audits.

The rows are found the way the merge finds them (`patient_relations`), so a model any app adds
later with a foreign key to Patient is exported without being named here; the rows hanging
from those (a session's booking, a screening's findings) come with them. Files: every
FileField of those rows, and what an app adds with `export_files_register` (the photos app:
the released photos and their comparison sheets). Secrets never go out: password hashes,
tokens, internal storage keys and hashes, the search fields derived from the record.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from audit.models import AuditEvent
from audit.services import Action, audit_log, recorded
from core.tasks import task_send_on_commit

from .models import DataExport, Patient
from .services import patient_relations

logger = logging.getLogger(__name__)

Status = DataExport.Status

# A field whose name says it holds a secret or an internal reference stays out of data.json.
SECRET_FIELD = re.compile(
    r"(^|_)(password|token|secret|key|hash|digest|salt|sha256|otp)(_|$)|claimed_by$", re.I
)
# What the Patient row holds only for the app: search forms of its fields, links.
LEFT_OUT = {"name_folded", "phone_e164", "email_folded", "merged_into", "user"}
# The worker's hard limit for one export (people.tasks.build_data_export): a long history of
# photos is copied file by file.
EXPORT_TIME_LIMIT = 11 * 60
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ExportFile:
    """One file of the archive: `path` inside it, read from `storage` under `key`."""

    path: str
    key: str
    about: str = ""
    storage: Storage = field(default=default_storage, compare=False)
    stored: bool = True  # False: a row's FileField names it; photos are stored as they are


# Apps add their own files: a callable taking the patient and giving ExportFiles.
_file_providers: list[Callable[[Patient], Iterable[ExportFile]]] = []


def export_files_register(provider: Callable[[Patient], Iterable[ExportFile]]):
    """Adds `provider(patient)`'s files to every export (usable as a decorator)."""
    if provider not in _file_providers:
        _file_providers.append(provider)
    return provider


# --- finding the rows ----------------------------------------------------------------------


def _label(model: type[models.Model]) -> str:
    return str(capfirst(model._meta.verbose_name_plural))


def _reverse_relations(model: type[models.Model], *, hidden: bool = False) -> list:
    return [
        relation
        for relation in model._meta.get_fields(include_hidden=hidden)
        if relation.auto_created
        and not relation.concrete
        and (relation.one_to_many or relation.one_to_one)
    ]


def patient_row_sets(patient: Patient) -> list[tuple[type[models.Model], models.QuerySet]]:
    """Every kind of row that holds the patient, with a queryset of its rows: those pointing
    to the patient (what a merge moves), then those pointing to one of them."""
    direct: dict[type[models.Model], Q] = {}
    for relation in patient_relations():
        model = relation.related_model
        direct[model] = direct.get(model, Q(pk__in=[])) | Q(**{relation.field.name: patient})
    sets = {model: model._base_manager.filter(query) for model, query in direct.items()}
    children: dict[type[models.Model], Q] = {}
    for model, rows in list(sets.items()):
        if model is Patient:  # records merged into this one: their rows moved here
            continue
        for relation in _reverse_relations(model):
            child = relation.related_model
            if child in direct or child is Patient:
                continue
            target = relation.field.target_field.attname
            query = Q(**{f"{relation.field.name}__in": rows.values(target)})
            children[child] = children.get(child, Q(pk__in=[])) | query
    for model, query in children.items():
        sets[model] = model._base_manager.filter(query)
    return sorted(sets.items(), key=lambda item: item[0]._meta.label)


# --- describing the rows -------------------------------------------------------------------


def _describe(obj) -> str | None:
    if obj is None:
        return None
    full_name = getattr(obj, "get_full_name", None)
    if callable(full_name):
        return full_name() or obj.get_username()
    return str(obj)


def exported_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields of `model` that go into data.json: not secrets, not the app's own links."""
    fields = []
    for f in model._meta.get_fields():
        forward_many = f.many_to_many and not f.auto_created  # a session's areas
        if not (f.concrete or forward_many) or (f.auto_created and not f.primary_key):
            continue
        if SECRET_FIELD.search(f.name) or (model is Patient and f.name in LEFT_OUT):
            continue
        fields.append(f)
    return fields


def _rows(model: type[models.Model], rows: models.QuerySet, patient: Patient):
    fields = exported_fields(model)
    related = [f.name for f in fields if f.many_to_one or f.one_to_one]
    many = [f.name for f in fields if f.many_to_many]
    if related:
        rows = rows.select_related(*related)
    return fields, rows.prefetch_related(*many).order_by("pk")


def _value(row, f: models.Field, patient: Patient, files: dict):
    if f.many_to_many:
        return sorted(_describe(o) for o in getattr(row, f.name).all())
    if f.many_to_one or f.one_to_one:
        if f.related_model is Patient:
            pk = getattr(row, f.attname)
            return None if pk is None else ("you" if pk == patient.pk else f"record {pk}")
        return _describe(getattr(row, f.name))
    if isinstance(f, models.FileField):
        return files.get((row._meta.label, row.pk, f.name))
    if isinstance(f, models.BinaryField):
        # Bytes (a drawn signature's PNG) have no JSON form: base64, as a data URL would.
        data = f.value_from_object(row)
        return None if data is None else base64.b64encode(bytes(data)).decode("ascii")
    if f.choices:
        return row._get_FIELD_display(f)
    return f.value_from_object(row)


def _record(row, fields, patient: Patient, files: dict) -> dict:
    record = {}
    for f in fields:
        label = str(capfirst(f.verbose_name))
        record[label if label not in record else f.name] = _value(row, f, patient, files)
    return record


def _field_files(model, rows) -> Iterator[tuple[tuple, ExportFile]]:
    """Every file a row's FileField names (a signed consent's PDF), under files/<kind>/."""
    file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    for row in rows if file_fields else ():
        for f in file_fields:
            value = getattr(row, f.name)
            if value:
                base = value.name.rsplit("/", 1)[-1]
                path = f"files/{model._meta.model_name}/{row.pk}-{f.name}-{base}"
                about = f"{f.verbose_name} of {model._meta.verbose_name} {row.pk}"
                yield (
                    (model._meta.label, row.pk, f.name),
                    ExportFile(path, value.name, about, value.storage, stored=False),
                )


def _access_log(patient: Patient) -> list[dict]:
    """Who looked at or changed the record, and when: the audit events naming the patient (the
    staff's addresses and the chain's hashes stay out)."""
    events = AuditEvent.objects.filter(patient_id=patient.pk).select_related("actor")
    return [
        {
            "When": event.occurred_at,
            "Who": _describe(event.actor) or "nobody signed in",
            "Role": event.actor_role,
            "What": event.get_action_display(),
            "Allowed": event.allowed,
            "Item": f"{event.object_type} {event.object_id}".strip(),
            "Detail": event.detail,
        }
        for event in events.order_by("id").iterator(chunk_size=2000)
    ]


@dataclass
class Contents:
    data: dict
    files: list[ExportFile]


def patient_data(patient: Patient, *, now: dt.datetime | None = None) -> Contents:
    """What the export holds: data.json's content and the files to put beside it."""
    now = now or timezone.now()
    row_sets = patient_row_sets(patient)
    field_files: dict[tuple, ExportFile] = {}
    for model, rows in row_sets:
        field_files.update(_field_files(model, rows))
    paths = {key: f.path for key, f in field_files.items()}
    records: dict[str, list[dict]] = {}
    for model, rows in row_sets:
        fields, rows = _rows(model, rows, patient)
        label = "Records merged into yours" if model is Patient else _label(model)
        records[label] = [_record(row, fields, patient, paths) for row in rows]
    files = list(field_files.values())
    for provider in _file_providers:
        files.extend(provider(patient))
    patient_fields = exported_fields(Patient)
    you = _record(patient, patient_fields, patient, {})
    you["Portal account"] = patient.user.get_username() if patient.user_id else None
    return Contents(
        data={
            "About": (
                f"Everything {settings.CLINIC_NAME} holds about you on "
                f"{timezone.localtime(now):%d %B %Y at %H:%M}: your record, every row of your "
                "treatment and bookings, who looked at your record (Access log), and the "
                "files listed under Files, which are in this archive beside this file."
            ),
            "Exported at": now,
            "You": you,
            "Records": records,
            "Access log": _access_log(patient),
            "Files": [],
        },
        files=files,
    )


# --- building and serving the archive -------------------------------------------------------


def _copy_into(archive: zipfile.ZipFile, item: ExportFile, when: dt.datetime) -> bool:
    """Copies one stored file into the archive in chunks (never whole in memory); False when
    storage no longer has it."""
    try:
        source = item.storage.open(item.key, "rb")
    except (FileNotFoundError, OSError):
        return False
    info = zipfile.ZipInfo(item.path, date_time=when.timetuple()[:6])
    # Photos and PDFs are compressed already: stored as they are.
    info.compress_type = zipfile.ZIP_STORED if item.stored else zipfile.ZIP_DEFLATED
    with source, archive.open(info, "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, COPY_CHUNK)
    return True


def archive_write(contents: Contents, target, *, now: dt.datetime) -> None:
    """Writes the ZIP to the file object `target`: the files first, then data.json naming the
    files it holds (and those storage no longer had)."""
    local = timezone.localtime(now)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        missing = []
        for item in contents.files:
            if _copy_into(archive, item, local):
                contents.data["Files"].append({"File": item.path, "What": item.about})
            else:
                missing.append(item.about or item.path)
        if missing:
            contents.data["Files missing from storage"] = missing
        data = json.dumps(contents.data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        archive.writestr(zipfile.ZipInfo("data.json", date_time=local.timetuple()[:6]), data)


def data_export_request(*, patient: Patient, by, request=None) -> DataExport:
    """Asks the worker for the patient's export; one already under way is answered instead of
    a second. Audited as requested."""
    if patient.is_erased or patient.is_merged:
        raise ValidationError("This record holds no data of its own to export.")
    with recorded():
        under_way = DataExport.objects.for_patient(patient).filter(
            status__in=(Status.PENDING, Status.RUNNING)
        )
        if (export := under_way.first()) is not None:
            return export
        export = DataExport.objects.create(patient=patient, requested_by=by)
        audit_log(actor=by, action=Action.CREATE, obj=export, request=request, detail="data export")
        from .tasks import build_data_export

        task_send_on_commit(build_data_export, export.pk)
    return export


def data_export_build(*, export_id: int, now: dt.datetime | None = None) -> str:
    """The worker's part: claims the export, writes its archive to storage and marks it ready
    until PATIENT_EXPORT_HOURS from now; a failure is recorded on the row for the page."""
    now = now or timezone.now()
    claimed = DataExport.objects.filter(pk=export_id, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=now
    )
    if not claimed:
        return "not pending"
    export = DataExport.objects.select_related("patient__user").get(pk=export_id)
    key = f"exports/{uuid.uuid4().hex}.zip"
    try:
        with tempfile.TemporaryFile() as spool:
            archive_write(patient_data(export.patient, now=now), spool, now=now)
            size = spool.tell()
            spool.seek(0)
            saved = default_storage.save(key, File(spool, name=key))
    except Exception as error:  # noqa: BLE001 - recorded for the page; the patient asks again
        logger.exception("data export %s failed", export_id)
        DataExport.objects.filter(pk=export_id).update(
            status=Status.FAILED, reason=f"{type(error).__name__}"[:300]
        )
        return "failed"
    ready = timezone.now()
    DataExport.objects.filter(pk=export_id).update(
        status=Status.READY,
        storage_key=saved,
        size_bytes=size,
        ready_at=ready,
        expires_at=ready + dt.timedelta(hours=settings.PATIENT_EXPORT_HOURS),
    )
    return "ready"


def data_exports_purge(*, now: dt.datetime | None = None) -> int:
    """Beat: deletes the archives past their download time (the row stays, expired) and fails
    the exports whose task died. Answers how many archives were deleted."""
    now = now or timezone.now()
    died = now - dt.timedelta(seconds=EXPORT_TIME_LIMIT + 60)
    # A pending one waits for the broker (the outbox sends it later); a running one this old
    # lost its worker.
    DataExport.objects.filter(status=Status.RUNNING, started_at__lt=died).update(
        status=Status.FAILED, reason="The worker did not finish it."
    )
    expired = list(
        DataExport.objects.filter(status=Status.READY, expires_at__lte=now).values_list(
            "pk", "storage_key"
        )
    )
    for pk, key in expired:
        with transaction.atomic():
            DataExport.objects.filter(pk=pk).update(status=Status.EXPIRED, storage_key="")
        if key:
            default_storage.delete(key)
    return len(expired)


def latest_export(patient: Patient) -> DataExport | None:
    return DataExport.objects.for_patient(patient).first()
