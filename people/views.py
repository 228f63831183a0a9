from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import Action
from core.decorators import role_required
from core.looks import looked_at
from core.params import lenient, parse_id
from core.views import form_status

from . import erasure, export, services
from .forms import PatientForm
from .models import DataExport, Patient

SEARCH_LIMIT = 25


@role_required("people.view_patient")
def patient_list(request):
    query = request.GET.get("q", "").replace("\x00", "").strip()  # NUL: PostgreSQL refuses it
    patients = list(Patient.objects.search(query)[:SEARCH_LIMIT]) if query else []
    looked_at(request, many=patients, detail="search")
    template = "people/_patient_results.html" if request.htmx else "people/patient_list.html"
    return render(request, template, {"patients": patients, "query": query})


def _with_shared(candidates: list[Patient], typed: Patient) -> list[Patient]:
    for candidate in candidates:
        candidate.shared = candidate.shared_with(typed)
    return candidates


def _patient_form_page(request, form: PatientForm, save, patient: Patient | None = None):
    """The create and edit forms: saves through `save(**cleaned_data)`, or shows why not,
    with the records the patient may already have."""
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(**form.cleaned_data)
        except services.LikelyDuplicate as error:
            duplicates = _with_shared(error.candidates, form.instance)
            services.duplicates_shown(candidates=duplicates, by=request.user, request=request)
            form.add_error(None, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return saved
    if patient is not None:
        looked_at(request, patient, detail="edit form")
    return render(
        request,
        "people/patient_form.html",
        {"form": form, "patient": patient, "duplicates": duplicates},
        status=form_status(form),
    )


@role_required("people.add_patient")
def patient_create(request):
    form = PatientForm(request.POST or None)

    def save(**fields):
        patient = services.patient_create(**fields, by=request.user)
        messages.success(request, f"{patient.full_name} was added.")
        return redirect(patient)

    return _patient_form_page(request, form, save)


@role_required("people.view_patient")
def patient_detail(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    looked_at(request, patient)
    # Audit events keep the ids they were written with: these lead to the merged records'.
    merged_records = Patient.all_records.filter(merged_into=patient).order_by("merged_at")
    exports = []
    if request.user.has_perm("people.export_patient_data"):
        exports = list(DataExport.objects.for_patient(patient)[:3])
    return render(
        request,
        "people/patient_detail.html",
        {"patient": patient, "merged_records": list(merged_records), "exports": exports},
    )


@role_required("people.change_patient")
def patient_edit(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = PatientForm(request.POST or None, instance=patient)

    def save(**fields):
        services.patient_update(patient=patient, **fields, by=request.user)
        messages.success(request, "The patient's details were saved.")
        return redirect(patient)

    return _patient_form_page(request, form, save, patient)


@require_http_methods(["GET", "POST"])
@role_required("people.merge_patient")
def patient_merge(request, patient_id: int):
    """Merges a duplicate record into this one: choose it (suggested or searched), see what
    moves, confirm."""
    patient = get_object_or_404(Patient, pk=patient_id)
    source = request.POST if request.method == "POST" else request.GET
    duplicate = None
    error = ""
    if (duplicate_id := lenient(parse_id, source.get("duplicate"))) is not None:
        duplicate = Patient.objects.filter(pk=duplicate_id).exclude(pk=patient.pk).first()
    if request.method == "POST":
        if duplicate is None:
            error = "Choose the duplicate record to merge into this one."
        else:
            try:
                moved = services.patient_merge(
                    duplicate=duplicate, into=patient, by=request.user, request=request
                )
            except ValidationError as refusal:
                error = " ".join(refusal.messages)
            else:
                summary = ", ".join(f"{count} {name}" for name, count in sorted(moved.items()))
                messages.success(
                    request,
                    f"Record {duplicate.pk} was merged into this one"
                    + (f" (moved: {summary})." if summary else "."),
                )
                return redirect(patient)
    query = request.GET.get("q", "").replace("\x00", "").strip()
    if duplicate is not None:
        candidates = []
    elif query:
        candidates = list(Patient.objects.search(query).exclude(pk=patient.pk)[:SEARCH_LIMIT])
    else:
        candidates = list(
            Patient.objects.likely_duplicates(
                first_name=patient.first_name,
                last_name=patient.last_name,
                date_of_birth=patient.date_of_birth,
                phone=patient.phone,
                email=patient.email,
            ).exclude(pk=patient.pk)[: services.DUPLICATES_SHOWN]
        )
    _with_shared(candidates, patient)
    rows = services.patient_rows(duplicate) if duplicate is not None else {}
    looked_at(request, patient, *([duplicate] if duplicate else []), detail="merge")
    looked_at(request, many=candidates, detail="merge candidates")
    return render(
        request,
        "people/patient_merge.html",
        {
            "patient": patient,
            "duplicate": duplicate,
            "shared": duplicate.shared_with(patient) if duplicate else [],
            "rows": rows,
            "candidates": candidates,
            "query": query,
            "error": error,
        },
        status=400 if error else 200,
    )


@require_POST
@role_required("people.invite_patient")
def patient_invite(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    try:
        services.patient_invite(patient=patient, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "The invitation was emailed to the patient.")
    return redirect(patient)


# --- the patient's own data: the export the clinic produces, and erasure -----------------


def export_download(request, export) -> HttpResponse:
    """The export's archive as a download, audited as one; an expired one says so (410)."""
    if not export.is_downloadable():
        return render(
            request,
            "people/export_gone.html",
            {"export": export, "hours": settings.PATIENT_EXPORT_HOURS},
            status=410 if export.status in (export.Status.READY, export.Status.EXPIRED) else 404,
        )
    try:
        handle = default_storage.open(export.storage_key, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("The export's file is no longer available.") from None
    looked_at(request, export, action=Action.DOWNLOAD, detail="data export")
    day = timezone.localdate(export.ready_at)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"my-data-{day:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@role_required("people.export_patient_data")
def patient_export(request, patient_id: int):
    """Staff produce the patient's data export for them (the patient's page lists it)."""
    patient = get_object_or_404(Patient, pk=patient_id)
    try:
        export.data_export_request(patient=patient, by=request.user, request=request)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "The data export is being prepared; it is listed below.")
    return redirect(patient)


@require_GET
@role_required("people.export_patient_data")
def patient_export_download(request, patient_id: int, export_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    found = get_object_or_404(DataExport.objects.for_patient(patient), pk=export_id)
    return export_download(request, found)


@require_http_methods(["GET", "POST"])
@role_required("people.erase_patient")
def patient_erase(request, patient_id: int):
    """The erasure, after the retention period only: the page says when it becomes possible,
    and the admin confirms by typing the patient's name."""
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    refusal = erasure.erasure_refusal(patient)
    error = ""
    if request.method == "POST":
        try:
            done = erasure.patient_erase(
                patient=patient,
                typed_name=request.POST.get("typed_name", ""),
                by=request.user,
                request=request,
            )
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(request, f"The record was erased: {done.summary}.")
            return redirect(patient)
    looked_at(request, patient, detail="erase form")
    return render(
        request,
        "people/patient_erase.html",
        {
            "patient": patient,
            "refusal": refusal,
            "error": error,
            "rows": services.patient_rows(patient) if not refusal else {},
            "years": settings.PATIENT_RETENTION_YEARS,
        },
        status=400 if error else 200,
    )
