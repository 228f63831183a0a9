"""Photo pages for clinicians, the patient's released comparisons, and the image-serving views."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit.services import Action
from core.decorators import role_required
from core.links import id_url
from core.looks import looked_at
from core.views import confirm_page, confirmed, form_status
from people.access import patient_required
from people.models import Patient
from treatments import consents
from treatments.models import BodyArea, Session

from . import queries, services
from .access import CLINICAL_PERMISSION, comparison_for, course_sheet_for, photo_for, send_file
from .models import (
    Alignment,
    Comparison,
    CourseSheet,
    Derivative,
    Phase,
    Photo,
    Purpose,
    Status,
    View,
)

VARIANTS = {"original": None, "large": 2048, "screen": 1024, "grid": 320}


def _photos_with_derivatives(queryset):
    return queryset.select_related("body_area", "session", "quality", "colour").prefetch_related(
        Prefetch("derivatives", queryset=Derivative.objects.order_by("-size"))
    )


class UploadForm(forms.Form):
    body_area = forms.ModelChoiceField(queryset=BodyArea.objects.all(), label="Body area")
    view = forms.ChoiceField(choices=View.choices, label="View")
    view_label = forms.CharField(
        max_length=60, required=False, label="Area-specific view (name it)"
    )
    phase = forms.ChoiceField(choices=Phase.choices, label="Before or after")
    purposes = forms.MultipleChoiceField(
        choices=Purpose.choices,
        initial=[Purpose.CLINICAL],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="The patient consented to",
    )


class RetakeForm(forms.Form):
    view = forms.ChoiceField(
        choices=View.choices,
        required=False,
        error_messages={"invalid_choice": "There is no view %(value)s: choose one from the list."},
    )
    phase = forms.ChoiceField(
        choices=Phase.choices,
        required=False,
        error_messages={"invalid_choice": "A photo is before or after, not %(value)s."},
    )


class ConsentForm(forms.Form):
    purposes = forms.MultipleChoiceField(
        choices=Purpose.choices, widget=forms.CheckboxSelectMultiple, required=False
    )


@role_required(CLINICAL_PERMISSION)
def session_photos(request, session_id: int):
    session = get_object_or_404(
        Session.objects.select_related("plan__body_area", "plan__modality", "patient"),
        pk=session_id,
    )
    looked_at(request, session, detail="photos")
    photos = list(_photos_with_derivatives(Photo.objects.filter(session=session)))
    context = {
        "session": session,
        "grid": queries.session_grid(session, photos),
        "busy": queries.derivatives_pending(photos),
        "photos": photos,
    }
    if request.htmx:
        return render(request, "photos/_session_grid.html", context)
    initial = {
        "body_area": session.plan.body_area_id,
        "phase": Phase.BEFORE,
        # New photos take the patient's standing consent (the signed consent form).
        "purposes": consents.standing_purposes(session.patient),
    }
    status = 200
    # ?view=&phase= (a "Retake" link) preselects what the next photo is of.
    chosen = RetakeForm(request.GET)
    if not chosen.is_valid():
        status = 400
        for error in chosen.errors.values():
            messages.error(request, " ".join(error))
    else:
        initial.update({k: v for k, v in chosen.cleaned_data.items() if v})
    form = UploadForm(initial=initial)
    if request.method == "POST":
        form = UploadForm(request.POST)
        files = request.FILES.getlist("files")
        results = []
        if form.is_valid() and files:
            for upload in files:
                try:
                    photo = services.photo_upload(
                        session=session,
                        body_area=form.cleaned_data["body_area"],
                        view=form.cleaned_data["view"],
                        view_label=form.cleaned_data["view_label"],
                        phase=form.cleaned_data["phase"],
                        purposes=form.cleaned_data["purposes"],
                        file=upload,
                        by=request.user,
                        request=request,
                    )
                    results.append((upload.name, ""))
                    if warning := services.capture_date_warning(photo):
                        messages.warning(request, f"{upload.name}: {warning}")
                except ValidationError as error:
                    results.append((upload.name, " ".join(error.messages)))
            failed = [r for r in results if r[1]]
            for name, reason in failed:
                messages.error(request, f"{name}: {reason}")
            if len(failed) < len(results):
                messages.success(request, f"{len(results) - len(failed)} photo(s) added.")
            if not failed:
                return redirect("photos:session", session_id=session.pk)
            status = 400
        else:
            if not files:
                form.add_error(None, "Choose at least one photo.")
            status = 400
        photos = list(_photos_with_derivatives(Photo.objects.filter(session=session)))
        context.update(
            grid=queries.session_grid(session, photos),
            busy=queries.derivatives_pending(photos),
            photos=photos,
        )
    context.update(
        form=form, guides=queries.framing_guides(session), upload_url=reverse("photo-list")
    )
    return render(request, "photos/session_photos.html", context, status=status)


def _page_number(value: str | None) -> int | None:
    """The ?page= of a listing: 1 when absent, None for anything but 1, 2, 3..."""
    if value is None:
        return 1
    value = value.strip()
    if not value.isdecimal() or int(value) < 1:
        return None
    return int(value)


@role_required(CLINICAL_PERMISSION)
def patient_timeline(request, patient_id: int):
    """The patient's photos session by session, newest first, a page at a time; "Older photos"
    appends the next page in place with htmx, or opens it as a page without JavaScript."""
    patient = get_object_or_404(Patient, pk=patient_id)
    number = _page_number(request.GET.get("page"))
    context = {"patient": patient, "number": number}
    if number is None:
        context["problem"] = "Pages are numbered 1, 2, 3 and so on."
        return render(request, "photos/patient_timeline.html", context, status=400)
    page = queries.timeline_page(patient, number)
    if number > 1 and not page.sessions:
        context["problem"] = f"There is no page {number}: this patient's photos end before it."
        return render(request, "photos/patient_timeline.html", context, status=404)
    detail = "photos" if number == 1 else f"photos page {number}"
    looked_at(request, patient, detail=detail)
    context["page"] = page
    if request.htmx:
        return render(request, "photos/_timeline_page.jinja", context)
    if number == 1:
        context["comparisons"] = (
            Comparison.objects.for_patient(patient)
            .select_related("body_area", "plan__modality")
            .order_by("plan", "body_area", "view", "kind")
        )
        context["comparison_url"] = id_url("photos:comparison")
        context.update(
            trends=queries.patient_redness_trends(patient),
            course_sheets=CourseSheet.objects.filter(plan__patient=patient).select_related(
                "body_area"
            ),
            purposes=[(p.value, p.label) for p in Purpose if p != Purpose.PORTAL],
            papers=CourseSheet.Paper.values,
            paper=settings.PHOTOS_SHEET_PAPER,
        )
    return render(request, "photos/patient_timeline.html", context)


class PairForm(forms.Form):
    before = forms.ModelChoiceField(queryset=Photo.objects.none())
    middle = forms.ModelChoiceField(queryset=Photo.objects.none(), required=False)
    after = forms.ModelChoiceField(queryset=Photo.objects.none())

    def __init__(self, *args, comparison: Comparison, **kwargs):
        super().__init__(*args, **kwargs)
        candidates = (
            Photo.objects.filter(
                patient_id=comparison.patient_id,
                body_area_id=comparison.body_area_id,
                view=comparison.view,
            )
            .select_related("session")
            .order_by("session__number", "phase", "id")
        )
        for name in ("before", "middle", "after"):
            self.fields[name].queryset = candidates
            self.fields[name].label_from_instance = _photo_label
        if comparison.kind == Comparison.Kind.PAIR:
            del self.fields["middle"]


def _photo_label(photo: Photo) -> str:
    return f"Session {photo.session.number} · {photo.get_phase_display()} · photo {photo.pk}"


@role_required(CLINICAL_PERMISSION)
def comparison_detail(request, comparison_id: int):
    comparison = get_object_or_404(
        Comparison.objects.select_related(
            "body_area", "plan__modality", "patient", "before__session", "after__session"
        ),
        pk=comparison_id,
    )
    if request.htmx:
        return render(request, "photos/_sheet_status.html", {"comparison": comparison})
    initial = {"before": comparison.before_id, "after": comparison.after_id}
    if comparison.middle_id:
        initial["middle"] = comparison.middle_id
    form = PairForm(request.POST or None, comparison=comparison, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.comparison_update(
                    comparison=comparison,
                    before=form.cleaned_data["before"],
                    after=form.cleaned_data["after"],
                    middle=form.cleaned_data.get("middle"),
                    by=request.user,
                    request=request,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "The comparison was changed; a new sheet is on its way.")
                return redirect("photos:comparison", comparison_id=comparison.pk)
        status = 400
    return _comparison_page(request, comparison, form=form, status=status)


class NudgeForm(forms.Form):
    """The alignment of the "after" onto the "before", as the comparison page's nudge
    controls set it (normalised coordinates, photos.science)."""

    scale = forms.FloatField(label="Scale")
    rotation_degrees = forms.FloatField(label="Turn (degrees)")
    tx = forms.FloatField(label="Move right (share of the long side)")
    ty = forms.FloatField(label="Move down (share of the long side)")


def _comparison_page(request, comparison: Comparison, *, form=None, nudge=None, status=200):
    looked_at(request, comparison, detail="viewer")
    alignments = {
        a.source: a
        for a in Alignment.objects.filter(
            reference_id=comparison.before_id, moving_id=comparison.after_id
        ).select_related("made_by")
    }
    worker = alignments.get(Alignment.Source.WORKER)
    manual = alignments.get(Alignment.Source.MANUAL)
    shown = manual or (worker if worker is not None and worker.ok else None)
    if nudge is None:
        start = {"scale": 1.0, "rotation_degrees": 0.0, "tx": 0.0, "ty": 0.0}
        if shown is not None:
            start = {k: getattr(shown, k) for k in start}
        nudge = NudgeForm(initial=start)
    if form is None:
        initial = {"before": comparison.before_id, "after": comparison.after_id}
        if comparison.middle_id:
            initial["middle"] = comparison.middle_id
        form = PairForm(comparison=comparison, initial=initial)
    worker_values = None
    if worker is not None and worker.ok:
        worker_values = {
            "scale": worker.scale,
            "rotation_degrees": worker.rotation_degrees,
            "tx": worker.tx,
            "ty": worker.ty,
        }
    return render(
        request,
        "photos/comparison_detail.html",
        {
            "comparison": comparison,
            "form": form,
            "alignment": manual or worker,
            "worker_alignment": worker,
            "manual_alignment": manual,
            "nudge": nudge,
            "nudge_data": {
                "worker": worker_values,
                "before": services.upright_size(comparison.before),
                "after": services.upright_size(comparison.after),
            },
        },
        status=status,
    )


@require_POST
@role_required(CLINICAL_PERMISSION)
def comparison_align(request, comparison_id: int):
    """Saves the clinician's hand-nudged alignment (or, with undo, goes back to the
    worker's); a nudge out of bounds answers 400 with the page and why."""
    comparison = get_object_or_404(
        Comparison.objects.select_related(
            "body_area", "plan__modality", "patient", "before__session", "after__session"
        ),
        pk=comparison_id,
    )
    if request.POST.get("undo") == "1":
        if services.alignment_nudge_undo(comparison=comparison, by=request.user, request=request):
            messages.success(request, "Back to the worker's alignment; the sheet is redrawn.")
        return redirect("photos:comparison", comparison_id=comparison.pk)
    nudge = NudgeForm(request.POST)
    if nudge.is_valid():
        try:
            services.alignment_nudge(
                comparison=comparison, **nudge.cleaned_data, by=request.user, request=request
            )
        except ValidationError as error:
            nudge.add_error(None, error)
        else:
            messages.success(request, "Your alignment is saved; the sheet is redrawn with it.")
            return redirect("photos:comparison", comparison_id=comparison.pk)
    return _comparison_page(request, comparison, nudge=nudge, status=400)


@require_POST
@role_required(CLINICAL_PERMISSION)
def photo_reference(request, photo_id: int):
    """Marks the photo as the reference of its view in its session."""
    photo = get_object_or_404(Photo.objects.select_related("session__plan"), pk=photo_id)
    services.photo_reference_set(photo=photo, by=request.user, request=request)
    messages.success(
        request,
        f"Photo {photo.pk} is now the reference for {photo.view_name.lower()}, "
        f"{photo.get_phase_display().lower()}: comparisons use it.",
    )
    return redirect("photos:session", session_id=photo.session_id)


@require_POST
@role_required(CLINICAL_PERMISSION)
def comparison_release(request, comparison_id: int):
    comparison = get_object_or_404(
        Comparison.objects.select_related("patient", "body_area"), pk=comparison_id
    )
    release = request.POST.get("release") == "1"
    back = reverse("photos:comparison", kwargs={"comparison_id": comparison.pk})
    # Releasing shows a patient's photos outside the clinic: asked once more. Withdrawing is
    # the safe direction and happens at once.
    if release and not comparison.released_to_portal and not confirmed(request):
        looked_at(request, comparison, detail="release confirmation")
        return confirm_page(
            request,
            question=f"Release this comparison to {comparison.patient.full_name}'s portal?",
            consequences=[
                f"{comparison.body_area.name}, {comparison.get_view_display().lower()}.",
                "The patient sees these photos in the portal and can download the sheet.",
                "You can withdraw it later; what was downloaded stays downloaded.",
            ],
            button="Yes, release to the portal",
            back=back,
        )
    try:
        services.comparison_release(
            comparison=comparison, released=release, by=request.user, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, "Released to the portal." if release else "Withdrawn from the portal."
        )
    return redirect("photos:comparison", comparison_id=comparison.pk)


@role_required(CLINICAL_PERMISSION)
def photo_detail(request, photo_id: int):
    photo = get_object_or_404(
        _photos_with_derivatives(Photo.objects.select_related("uploaded_by", "patient")),
        pk=photo_id,
    )
    looked_at(request, photo)
    form = ConsentForm(request.POST or None, initial={"purposes": photo.purposes})
    if request.method == "POST" and form.is_valid():
        try:
            services.photo_consent_update(
                photo=photo,
                purposes=form.cleaned_data["purposes"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Consent saved.")
            return redirect("photos:photo", photo_id=photo.pk)
    context = {"photo": photo, "form": form, "regions_form": RegionsForm.for_photo(photo)}
    return render(request, "photos/photo_detail.html", context, status=form_status(form))


class RegionsForm(forms.Form):
    """The clinician's neutral patch and redness region, in percent of the photo (the photo
    page's script fills them by dragging on the photo; typed by hand without it)."""

    REGIONS = {"neutral_patch": "Neutral patch", "redness_region": "Redness region"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for region, label in self.REGIONS.items():
            for key, name in zip(
                services.REGION_KEYS, ("left", "top", "width", "height"), strict=True
            ):
                self.fields[f"{region}_{key}"] = forms.FloatField(
                    required=False, min_value=0, max_value=100, label=f"{label}: {name} (%)"
                )

    @classmethod
    def for_photo(cls, photo: Photo, data=None) -> RegionsForm:
        initial = {}
        for region in cls.REGIONS:
            for key, value in (getattr(photo, region) or {}).items():
                initial[f"{region}_{key}"] = round(value * 100, 1)
        return cls(data, initial=initial)

    def clean(self):
        cleaned = super().clean()
        for region, label in self.REGIONS.items():
            values = [cleaned.get(f"{region}_{key}") for key in services.REGION_KEYS]
            if all(v is None for v in values):
                cleaned[region] = None
            elif any(v is None for v in values):
                self.add_error(None, f"{label}: give its left, top, width and height, or none.")
            else:
                cleaned[region] = dict(
                    zip(services.REGION_KEYS, [v / 100 for v in values], strict=True)
                )
        return cleaned


@require_POST
@role_required(CLINICAL_PERMISSION)
def photo_regions(request, photo_id: int):
    photo = get_object_or_404(
        _photos_with_derivatives(Photo.objects.select_related("uploaded_by", "patient")),
        pk=photo_id,
    )
    regions_form = RegionsForm.for_photo(photo, request.POST)
    if regions_form.is_valid():
        try:
            services.photo_regions_set(
                photo=photo,
                neutral_patch=regions_form.cleaned_data["neutral_patch"],
                redness_region=regions_form.cleaned_data["redness_region"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                regions_form.add_error(None, message)
        else:
            messages.success(request, "Regions saved; the colour is being measured again.")
            return redirect("photos:photo", photo_id=photo.pk)
    looked_at(request, photo, detail="regions refused")
    form = ConsentForm(initial={"purposes": photo.purposes})
    context = {"photo": photo, "form": form, "regions_form": regions_form}
    return render(request, "photos/photo_detail.html", context, status=400)


class CourseSheetForm(forms.Form):
    plan = forms.IntegerField()
    body_area = forms.ModelChoiceField(queryset=BodyArea.objects.all())
    view = forms.ChoiceField(choices=View.choices)
    view_label = forms.CharField(max_length=60, required=False)
    purpose = forms.ChoiceField(choices=Purpose.choices)
    paper = forms.ChoiceField(choices=CourseSheet.Paper.choices, required=False)


@require_POST
@role_required(CLINICAL_PERMISSION)
def course_sheet_new(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = CourseSheetForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return _timeline_problem(request, patient, f"The course sheet was not made: {problems}")
    plan = patient.plans.filter(pk=form.cleaned_data["plan"]).first()
    if plan is None:
        return _timeline_problem(request, patient, "That course is not this patient's.")
    try:
        sheet = services.course_sheet_request(
            plan=plan,
            body_area=form.cleaned_data["body_area"],
            view=form.cleaned_data["view"],
            view_label=form.cleaned_data["view_label"],
            purpose=form.cleaned_data["purpose"],
            paper=form.cleaned_data["paper"] or None,
            by=request.user,
            request=request,
        )
    except ValidationError as error:
        return _timeline_problem(request, patient, " ".join(error.messages))
    messages.success(request, "The course sheet is being drawn.")
    return redirect("photos:course_sheet", sheet_id=sheet.pk)


def _timeline_problem(request, patient, problem: str):
    looked_at(request, patient, detail="course sheet refused")
    context = {"patient": patient, "number": 1, "problem": problem}
    return render(request, "photos/patient_timeline.html", context, status=400)


@role_required(CLINICAL_PERMISSION)
def course_sheet_detail(request, sheet_id: int):
    sheet = course_sheet_for(request, sheet_id)
    if request.htmx:
        return render(request, "photos/_course_sheet_status.html", {"sheet": sheet})
    looked_at(request, sheet, detail="course sheet")
    from .models import PhotoColour

    colours = PhotoColour.objects.filter(
        photo_id__in=sheet.photo_ids, status=Status.READY, redness__isnull=False
    ).select_related("photo__session__plan__modality", "photo__body_area")
    trends = queries.redness_trends(colours)
    return render(
        request,
        "photos/course_sheet.html",
        {"sheet": sheet, "trend": trends[0] if trends else None},
    )


@patient_required
def my_comparisons(request, patient):
    comparisons = (
        Comparison.objects.for_patient(patient)
        .released()
        .filter(sheet_status=Status.READY)
        .select_related("body_area", "plan__modality")
    )
    looked_at(request, patient=patient, detail="my comparisons")
    return render(
        request, "photos/my_comparisons.html", {"patient": patient, "comparisons": comparisons}
    )


# --- serving images ------------------------------------------------------------------------


@require_GET
def image(request, photo_id: int, variant: str):
    if variant not in VARIANTS:
        raise Http404("No such size.")
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    photo = photo_for(request, photo_id, original=variant == "original")
    if variant == "original":
        key, content_type = photo.storage_key, photo.content_type
    else:
        derivative = photo.derivatives.filter(size=VARIANTS[variant], status=Status.READY).first()
        if derivative is None:
            raise Http404("This size is not ready yet.")
        key, content_type = derivative.storage_key, "image/jpeg"
    looked_at(
        request,
        photo,
        action=Action.DOWNLOAD if variant == "original" else Action.VIEW,
        detail=f"image {variant}",
    )
    return send_file(key, content_type)


@require_GET
def course_sheet_file(request, sheet_id: int, fmt: str):
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if fmt not in ("jpg", "pdf"):
        raise Http404("No such format.")
    sheet = course_sheet_for(request, sheet_id)
    if sheet.sheet_status != Status.READY or not sheet.sheet_pdf_key:
        raise Http404("The sheet is not ready yet.")
    key = sheet.sheet_pdf_key if fmt == "pdf" else sheet.sheet_jpeg_key
    content_type = "application/pdf" if fmt == "pdf" else "image/jpeg"
    looked_at(request, sheet, action=Action.DOWNLOAD, detail=f"course sheet {fmt}")
    return send_file(key, content_type, filename=f"course-{sheet.pk}-{sheet.purpose}.{fmt}")


@require_GET
def sheet(request, comparison_id: int, fmt: str):
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if fmt not in ("jpg", "pdf"):
        raise Http404("No such format.")
    comparison = comparison_for(request, comparison_id)
    if comparison.sheet_status != Status.READY:
        raise Http404("The sheet is not ready yet.")
    key = comparison.sheet_pdf_key if fmt == "pdf" else comparison.sheet_jpeg_key
    content_type = "application/pdf" if fmt == "pdf" else "image/jpeg"
    looked_at(request, comparison, detail=f"sheet {fmt}")
    return send_file(key, content_type, filename=f"comparison-{comparison.pk}.{fmt}")
