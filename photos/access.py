"""Who may see which image, and how its bytes leave the app.

Clinicians see every photo. A patient sees derivatives (never the original) of their own
photos that are consented for the portal and part of a comparison a clinician released, and
those comparisons' sheets. Anyone else's id answers 404; front desk gets 403. Every answer,
allowed or refused, is audited.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from audit.services import Action, audit_log

from .models import Comparison, Photo, Purpose

CLINICAL_PERMISSION = "people.use_clinical"


def is_clinical(user) -> bool:
    return user.is_authenticated and user.has_perm(CLINICAL_PERMISSION)


def portal_patient_id(user) -> int | None:
    if not user.is_authenticated or not user.has_perm("people.use_portal"):
        return None
    patient = getattr(user, "patient", None)
    return patient.pk if patient is not None else None


def photo_for(request, photo_id: int, *, original: bool) -> Photo:
    """The photo if this user may see this variant of it; otherwise audits and refuses."""
    user = request.user
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is not None and is_clinical(user):
        return photo
    patient_id = portal_patient_id(user)
    if photo is not None and patient_id is not None and photo.patient_id == patient_id:
        released = (
            Comparison.objects.released()
            .filter(Q(before=photo) | Q(after=photo) | Q(middle=photo))
            .exists()
        )
        if not original and photo.consent_portal and released:
            return photo
    _refuse(request, photo, patient_id, detail="image", missing="No such photo.")


def comparison_for(request, comparison_id: int) -> Comparison:
    user = request.user
    comparison = Comparison.objects.filter(pk=comparison_id).first()
    if comparison is not None and is_clinical(user):
        return comparison
    patient_id = portal_patient_id(user)
    if (
        comparison is not None
        and patient_id == comparison.patient_id
        and Comparison.objects.released().filter(pk=comparison.pk).exists()
    ):
        return comparison
    _refuse(request, comparison, patient_id, detail="sheet", missing="No such comparison.")


def course_sheet_for(request, sheet_id: int):
    """A course sheet is the clinic's (clinical, education or marketing use): clinicians only.
    A photo whose consent for the sheet's purpose was withdrawn since it was drawn hides the
    sheet until it is redrawn (the withdrawal deletes its files; this is the second lock)."""
    from .models import CourseSheet

    user = request.user
    sheet = CourseSheet.objects.select_related("plan", "body_area").filter(pk=sheet_id).first()
    if sheet is not None and is_clinical(user):
        withdrawn = (
            Photo.objects.filter(pk__in=sheet.photo_ids)
            .exclude(**{f"consent_{sheet.purpose}": True})
            .exists()
        )
        if withdrawn:
            sheet.sheet_status = "pending"
        return sheet
    _refuse(
        request, sheet, portal_patient_id(user), detail="course sheet", missing="No such sheet."
    )


def _refuse(request, obj, patient_id, *, detail: str, missing: str):
    """Audits a refused attempt on an existing object, then answers 403 to signed-in staff
    without the clinical role and 404 to everyone else (a patient learns nothing of others)."""
    if obj is not None:
        audit_log(
            actor=request.user,
            action=Action.VIEW,
            obj=obj,
            allowed=False,
            request=request,
            detail=detail,
        )
        if patient_id is None and request.user.is_authenticated:
            raise PermissionDenied("Photos are for clinicians.")
    raise Http404(missing)


def send_file(key: str, content_type: str, *, filename: str | None = None) -> HttpResponse:
    """The stored bytes under `key`, by the configured delivery, with strict headers."""
    mode = settings.PHOTOS_DELIVERY
    if mode == "x-accel":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.PHOTOS_X_ACCEL_PREFIX + key
    elif mode == "signed-url":
        response = HttpResponseRedirect(default_storage.url(key))
    else:
        try:
            handle = default_storage.open(key, "rb")
        except (FileNotFoundError, OSError):
            raise Http404("The file is not available yet.") from None
        response = FileResponse(handle, content_type=content_type)
    response["Content-Type"] = content_type
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'inline; filename="{filename}"' if filename else "inline"
    return response


__all__ = ["Purpose", "comparison_for", "course_sheet_for", "is_clinical", "photo_for", "send_file"]
