"""The photos' part of a patient's own data (people.export) and of an erasure (people.erasure).

The export holds the photos released to the patient (those of the comparisons a clinician
released, every photo consented for the portal, as portal.queries shows them) and those
comparisons' PDF sheets. An erasure deletes every photo of the patient with its derivatives,
quality scores, alignments, comparisons and course sheets, and names their files for deletion.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone

from people.export import ExportFile
from people.models import Patient

from .models import Comparison, CourseSheet, Derivative, Photo, Status

JPEG = "image/jpeg"


def released_comparisons(patient: Patient):
    return (
        Comparison.objects.for_patient(patient)
        .released()
        .filter(sheet_status=Status.READY)
        .order_by("created_at", "id")
    )


def export_files(patient: Patient) -> Iterator[ExportFile]:
    """The released photos (a JPEG original as taken, otherwise its screen derivative) and the
    released comparisons' PDF sheets."""
    comparisons = list(released_comparisons(patient))
    photo_ids = {pk for comparison in comparisons for pk in comparison.photo_ids}
    photos = Photo.objects.filter(pk__in=photo_ids).select_related("session", "body_area")
    screens = dict(
        Derivative.objects.filter(
            photo_id__in=photo_ids, size=Derivative.Size.SCREEN, status=Status.READY
        ).values_list("photo_id", "storage_key")
    )
    for photo in photos.order_by("session__starts_at", "session__number", "phase", "id"):
        key = photo.storage_key if photo.content_type == JPEG else screens.get(photo.pk)
        if not key:
            continue
        day = photo.session.day or timezone.localdate(photo.uploaded_at)
        name = f"{day:%Y-%m-%d}-{photo.body_area.slug}-{photo.view}-{photo.phase}-{photo.pk}.jpg"
        about = (
            f"{photo.get_phase_display()} photo, {photo.body_area.name}, {photo.view_name}, "
            f"session {photo.session.number} ({day:%d %B %Y})"
        )
        yield ExportFile(f"photos/{name}", key, about)
    for comparison in comparisons:
        if comparison.sheet_pdf_key:
            yield ExportFile(
                f"comparisons/comparison-{comparison.pk}.pdf",
                comparison.sheet_pdf_key,
                f"{comparison.get_kind_display()} sheet, {comparison.get_view_display()}",
            )


def photos_erase(patient: Patient) -> list[str]:
    """Deletes the patient's photos and everything made from them; answers their files."""
    photos = Photo.objects.filter(patient=patient)
    comparisons = Comparison.objects.filter(patient=patient)
    keys = list(photos.values_list("storage_key", flat=True))
    keys += (
        Derivative.objects.filter(photo__patient=patient)
        .exclude(storage_key="")
        .values_list("storage_key", flat=True)
    )
    # Course sheets hang off the course (which stays, anonymised), not off a photo: named here.
    course_sheets = CourseSheet.objects.filter(plan__patient=patient)
    for sheets in (comparisons, course_sheets):
        for jpeg, pdf in sheets.values_list("sheet_jpeg_key", "sheet_pdf_key"):
            keys += [key for key in (jpeg, pdf) if key]
    course_sheets.delete()
    comparisons.delete()
    photos.delete()
    return keys
