"""Staff and clinician pages: a patient's chart, history, plans, screening and recording."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from core.decorators import role_required
from core.links import id_url
from core.looks import looked_at
from core.params import lenient, parse_id, parse_whole
from core.views import form_status
from people.models import Patient

from . import consents, gate, services
from . import intake as questionnaire
from .aftercare import aftercare_for
from .consent_pdf import consent_pdf
from .forms import (
    ConsentSignForm,
    CorrectionForm,
    HistoryEntryForm,
    OverrideForm,
    PlanForm,
    PreSessionCheckForm,
    RecordForm,
    SessionLevelForm,
)
from .models import (
    ConsentSignature,
    ConsentVersion,
    HistoryEntry,
    Intake,
    Modality,
    PhotoConsent,
    Screening,
    ScreeningFinding,
    Session,
    TreatmentPlan,
)
from .queries import patient_answers_for

CHART_SCREENINGS = 10
# The chart shows this many sessions at a time (the latest first), however long the record.
CHART_SESSIONS = 30


def _screenings():
    return Screening.objects.select_related(
        "modality", "depth_level", "screened_by", "overridden_by", "session"
    ).prefetch_related(Prefetch("findings", queryset=ScreeningFinding.objects.order_by("id")))


def _screenings_shown(user, **where):
    """The screenings matching `where` for a user who may see them; none for the front desk."""
    return _screenings().filter(**where) if user.has_perm("treatments.view_screening") else []


@dataclass(frozen=True)
class ChartRow:
    day: dt.date | None
    url: str
    course: str
    number: int
    level: str
    status: str


def _chart_sessions(patient, *, earlier: int = 0) -> tuple[list[ChartRow], bool]:
    """A window of CHART_SESSIONS rows of the patient's sessions in date order, the latest
    first skipping `earlier` of them, and whether there are earlier ones: plain columns, not
    five model instances per row, and one reverse() for every row's link."""
    statuses = dict(Session.Status.choices)
    url = id_url("treatments:session_detail")
    rows = list(
        Session.objects.for_patient(patient)
        .order_by("proposed_date", "starts_at", "number")
        .reverse()
        .values_list(
            "pk",
            "number",
            "status",
            "completed_at",
            "starts_at",
            "proposed_date",
            "plan__modality__name",
            "plan__body_area__name",
            "depth_level__name",
        )[earlier : earlier + CHART_SESSIONS + 1]
    )
    more = len(rows) > CHART_SESSIONS
    shown = [
        ChartRow(
            day=Session.day_of(status, completed_at, starts_at, proposed_date),
            url=url(pk),
            course=f"{modality} · {area}",
            number=number,
            level=level or "",
            status=statuses.get(status, status),
        )
        for (pk, number, status, completed_at, starts_at, proposed_date, modality, area, level) in (
            rows[:CHART_SESSIONS]
        )
    ]
    shown.reverse()
    return shown, more


def _earlier(request) -> int:
    """How many of the latest sessions the chart skips (?earlier=N); 0 when absent or bad."""
    skip = partial(parse_whole, minimum=0, maximum=999_999, what="a number of sessions")
    return lenient(skip, request.GET.get("earlier")) or 0


@role_required("treatments.view_treatmentplan")
def chart(request, patient_id: int):
    user = request.user
    patient = get_object_or_404(Patient, pk=patient_id)
    earlier = _earlier(request)
    sessions, more = _chart_sessions(patient, earlier=earlier)
    context = {
        "patient": patient,
        "chart_open": True,
        "plans": TreatmentPlan.objects.for_patient(patient)
        .with_progress()
        .select_related("modality", "body_area", "indication"),
        "sessions": sessions,
        "earlier": earlier + CHART_SESSIONS if more else None,
        "later": max(earlier - CHART_SESSIONS, 0) if earlier else None,
        "flagged": Session.objects.flagged()
        .filter(patient=patient)
        .select_related("plan__modality"),
    }
    if user.has_perm("treatments.view_historyentry"):
        # What the history says now: a corrected report shows as its correction (the
        # session's page shows both).
        context["history"] = (
            HistoryEntry.objects.for_patient(patient)
            .current()
            .select_related("factor", "body_area")
        )
    if user.has_perm("treatments.view_screening"):
        context["screenings"] = _screenings().for_patient(patient)[:CHART_SCREENINGS]
    looked_at(request, patient, detail="chart")
    return render(request, "treatments/chart.html", context)


@role_required("treatments.add_historyentry")
def history_create(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    looked_at(request, patient, detail="history form")
    form = HistoryEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.history_add(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The history was updated.")
            return redirect("treatments:chart", patient.pk)
    return render(
        request,
        "treatments/history_form.html",
        {"form": form, "patient": patient},
        status=form_status(form),
    )


@role_required("treatments.change_historyentry")
def history_edit(request, entry_id: int):
    entry = get_object_or_404(HistoryEntry.objects.select_related("patient"), pk=entry_id)
    looked_at(request, entry)
    form = HistoryEntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        try:
            services.history_update(entry=entry, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The history was updated.")
            return redirect("treatments:chart", entry.patient_id)
    return render(
        request,
        "treatments/history_form.html",
        {"form": form, "patient": entry.patient, "entry": entry},
        status=form_status(form),
    )


@role_required("treatments.add_treatmentplan")
def plan_create(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    looked_at(request, patient, detail="plan form")
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(patient=patient, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The course was planned.")
            return redirect(plan)
    modalities = list(Modality.objects.prefetch_related("levels", "treats__indication"))
    defaults = {
        str(modality.pk): {
            "session_count": modality.default_session_count,
            "interval_days": modality.default_interval_days,
            "min_interval_days": modality.min_interval_days,
        }
        for modality in modalities
    }
    return render(
        request,
        "treatments/plan_form.html",
        {"form": form, "patient": patient, "modalities": modalities, "defaults": defaults},
        status=form_status(form),
    )


@role_required("treatments.view_treatmentplan")
def plan_detail(request, plan_id: int):
    plan = get_object_or_404(
        TreatmentPlan.objects.with_progress().select_related(
            "patient", "modality", "body_area", "indication", "template"
        ),
        pk=plan_id,
    )
    sessions = plan.sessions.select_related("depth_level").order_by("number")
    looked_at(request, plan)
    return render(
        request,
        "treatments/plan_detail.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "sessions": sessions,
            "benefit": services.plan_benefit(plan),
            "levels": plan.modality.levels.all(),
            "screenings": _screenings_shown(request.user, plan=plan),
        },
    )


@require_POST
@role_required("treatments.confirm_treatmentplan")
def plan_confirm(request, plan_id: int):
    """A clinician confirms a course the desk proposed; back to the session they screen, if
    they came from one of its sessions, else to the course."""
    plan = get_object_or_404(TreatmentPlan, pk=plan_id)
    looked_at(request, plan, detail="confirm")
    try:
        services.plan_confirm(plan=plan, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "The course is confirmed.")
    session_id = lenient(parse_id, request.POST.get("session"))
    session = plan.sessions.filter(pk=session_id).first() if session_id else None
    return redirect(session or plan)


def _session(session_id: int) -> Session:
    return get_object_or_404(
        Session.objects.select_related(
            "plan__modality",
            "plan__body_area",
            "plan__indication",
            "plan__template",
            "patient",
            "depth_level",
            "recorded_by",
            "performed_by",
        ),
        pk=session_id,
    )


@role_required("treatments.view_session")
def session_detail(request, session_id: int, check_form=None, status=200):
    session = _session(session_id)
    looked_at(request, session)
    is_open = session.status in services.OPEN_STATUSES
    return render(
        request,
        "treatments/session_detail.html",
        {
            "session": session,
            "plan": session.plan,
            "patient": session.patient,
            "screenings": _screenings_shown(request.user, session=session),
            "check_form": check_form or PreSessionCheckForm(),
            "aftercare": aftercare_for(session),
            "areas": session.areas.all(),
            "open": is_open,
            # What recording would answer now: the record button is offered only when clear.
            "gate_state": gate.state(session) if is_open else None,
            "patient_answers": patient_answers_for([session.pk]).get(session.pk),
            # What the patient reported before the visit, to confirm or correct.
            "reported": (
                questionnaire.reported_history(session.patient)
                if request.user.has_perm("treatments.view_historyentry")
                else None
            ),
        },
        status=status,
    )


@require_POST
@role_required("treatments.add_screening")
def session_screen(request, session_id: int):
    session = _session(session_id)
    form = PreSessionCheckForm(request.POST)
    if not form.is_valid():
        return session_detail(request, session_id, check_form=form, status=400)
    try:
        screening = services.session_check_and_screen(
            session=session,
            present=list(form.cleaned_data["present"]),
            notes=form.cleaned_data["notes"],
            by=request.user,
        )
    except ValidationError as error:
        form.add_error(None, error)
        return session_detail(request, session_id, check_form=form, status=400)
    return redirect(screening)


@role_required("treatments.view_screening")
def screening_detail(request, screening_id: int, form=None, status=200):
    screening = get_object_or_404(
        _screenings().select_related("patient", "body_area", "pre_session_check"),
        pk=screening_id,
    )
    looked_at(request, screening)
    return render(
        request,
        "treatments/screening_detail.html",
        {
            "screening": screening,
            "patient": screening.patient,
            "findings": screening.findings.all(),
            "form": form or OverrideForm(),
        },
        status=status,
    )


@require_POST
@role_required("treatments.override_screening")
def screening_override(request, screening_id: int):
    screening = get_object_or_404(Screening, pk=screening_id)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.screening_override(
                screening=screening,
                category=form.cleaned_data["override_category"],
                reason=form.cleaned_data["override_reason"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The override and its reason were recorded.")
            return redirect(screening)
    return screening_detail(request, screening_id, form=form, status=400)


@role_required("treatments.record_session")
def session_record(request, session_id: int):
    session = _session(session_id)
    looked_at(request, session, detail="record form")
    form = RecordForm(request.POST or None, session=session, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_record(
                session=session,
                depth_level=form.cleaned_data["depth_level"],
                areas=list(form.cleaned_data["areas"]),
                notes=form.cleaned_data["notes"],
                products=form.cleaned_data["products"],
                performed_by=form.cleaned_data["performed_by"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The session was recorded; its aftercare starts today.")
            return redirect(session)
    return render(
        request,
        "treatments/session_record.html",
        {"form": form, "session": session, "patient": session.patient},
        status=form_status(form),
    )


@require_POST
@role_required("treatments.change_session")
def session_level(request, session_id: int):
    session = _session(session_id)
    form = SessionLevelForm(request.POST)
    if form.is_valid():
        try:
            services.session_set_level(
                session=session,
                depth_level=form.cleaned_data["depth_level"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Session {session.number} is now at that level.")
    else:
        messages.error(request, "Choose a level.")
    return redirect(session.plan)


# --- what the patient reported: confirmed or corrected by a clinician ------------------------


def _next_url(request, fallback: str) -> str:
    """The page to go back to (?next= or a form's next), when it is one of ours; else
    `fallback`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _back(request, patient_id: int) -> str:
    """Where a confirmation returns: the page it was made on (a session's), else the chart."""
    return _next_url(request, reverse("treatments:chart", args=[patient_id]))


@require_POST
@role_required("treatments.confirm_historyentry")
def history_confirm(request, entry_id: int):
    entry = get_object_or_404(HistoryEntry, pk=entry_id)
    looked_at(request, entry, detail="confirm report")
    try:
        questionnaire.history_confirm(entry=entry, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The patient's answer is confirmed.")
    return redirect(_back(request, entry.patient_id))


@require_http_methods(["GET", "POST"])
@role_required("treatments.confirm_historyentry")
def history_correct(request, entry_id: int):
    entry = get_object_or_404(
        HistoryEntry.objects.select_related("patient", "factor", "body_area"), pk=entry_id
    )
    looked_at(request, entry, detail="correct report")
    form = CorrectionForm.for_entry(entry, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire.history_correct(
                entry=entry, by=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The correction is recorded; the patient's answer is kept.")
            return redirect(_back(request, entry.patient_id))
    return render(
        request,
        "treatments/history_correct.html",
        {
            "form": form,
            "entry": entry,
            "patient": entry.patient,
            "next": _back(request, entry.patient_id),
        },
        status=form_status(form),
    )


@require_POST
@role_required("treatments.confirm_historyentry")
def intake_confirm(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    latest = Intake.objects.for_patient(patient).latest_first().first()
    looked_at(request, patient, detail="confirm questionnaire")
    if latest is None:
        messages.error(request, "This patient has not sent a health questionnaire.")
    else:
        try:
            questionnaire.intake_confirm(intake=latest, by=request.user, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The questionnaire and every answer in it are confirmed.")
    return redirect(_back(request, patient.pk))


# --- consent forms: signed on the clinic's tablet, read by staff -----------------------------


def consent_sign_response(request, *, patient, modality, place: str, template: str, done, extra):
    """The consent form of `modality` for `patient` to sign (GET), or signed (POST): `done()`
    answers a signature; the page again with the errors (400) otherwise, keeping what was
    typed and drawn. Shared by the portal and the tablet."""
    version = consents.current_version(modality)
    if version is None or not consents.consent_required(modality):
        raise Http404("No consent form for this modality.")
    form = ConsentSignForm(
        request.POST or None,
        initial={"version": version.pk, "purposes": consents.standing_purposes(patient)},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            signed_version = ConsentVersion.objects.filter(
                pk=form.cleaned_data["version"], form__modality=modality
            ).first()
            try:
                if signed_version is None:
                    raise ValidationError("This is not a version of this consent form.")
                signature = consents.consent_sign(
                    patient=patient,
                    version=signed_version,
                    signed_name=form.cleaned_data["signed_name"],
                    signature=form.cleaned_data["signature"],
                    purposes=form.cleaned_data["purposes"],
                    place=place,
                    by=request.user,
                    request=request,
                )
            except ValidationError as error:
                form.add_error(None, error)
                if getattr(error, "code", "") == "outdated":
                    version = consents.current_version(modality)
            else:
                return done(signature)
    return render(
        request, template, {"form": form, "version": version, **extra(version)}, status=status
    )


def consent_pdf_response(request, signature: ConsentSignature, *, filename: str) -> HttpResponse:
    looked_at(request, signature, action="download", detail="consent pdf")
    response = HttpResponse(consent_pdf(signature), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET", "POST"])
@role_required("treatments.add_consentsignature")
def consent_tablet(request, patient_id: int, modality_id: int):
    """The clinic's tablet, handed to the patient: the consent form to read and sign."""
    patient = get_object_or_404(Patient, pk=patient_id)
    modality = get_object_or_404(Modality, pk=modality_id)
    looked_at(request, patient, detail="consent form on the tablet")
    after = _next_url(request, reverse("treatments:patient_consents", args=[patient.pk]))

    def done(signature):
        messages.success(
            request,
            f"Signed: {modality.name} consent, version {signature.version.number}. "
            "Thank you: please hand the tablet back.",
        )
        return redirect(after)

    return consent_sign_response(
        request,
        patient=patient,
        modality=modality,
        place=ConsentSignature.Place.TABLET,
        template="treatments/consent_tablet.html",
        done=done,
        extra=lambda version: {"patient": patient, "for_patient": patient, "next": after},
    )


@role_required("treatments.view_consentsignature")
def patient_consents(request, patient_id: int):
    """A patient's consent forms (signed, or to sign on the tablet) and photo consent."""
    patient = get_object_or_404(Patient, pk=patient_id)
    looked_at(request, patient, detail="consents")
    context = {
        "patient": patient,
        "rows": consents.forms_for(patient),
        "photo_consents": PhotoConsent.objects.for_patient(patient)
        .latest_first()
        .select_related("recorded_by")[:20],
    }
    return render(request, "treatments/patient_consents.html", context)


@role_required("treatments.view_consentsignature")
def consent_pdf_staff(request, signature_id: int):
    signature = get_object_or_404(
        ConsentSignature.objects.select_related("version__form__modality", "photo_consent"),
        pk=signature_id,
    )
    return consent_pdf_response(request, signature, filename=f"consent-{signature.pk}.pdf")
