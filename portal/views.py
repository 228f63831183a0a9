"""The patient portal: every view gets the signed-in patient's own record from the account.

Each page that shows the record writes one audit view event; cancel and change requests are
POST with CSRF, look the session up among the patient's own (another id answers 404) and
re-check the notice period in the service.
"""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.links import id_url
from core.looks import looked_at
from people.access import patient_required
from scheduling import waitlist
from scheduling.forms import WaitlistForm
from scheduling.models import WaitlistEntry
from scheduling.notifications import calendar_for, contact_us, instructions
from treatments import consents
from treatments.aftercare import aftercare_for
from treatments.forms import PhotoConsentForm
from treatments.models import ConsentSignature, Modality, PhotoConsent, Session
from treatments.views import consent_pdf_response, consent_sign_response

from . import dates, queries, services
from .forms import CancelForm, ChangeForm


def _viewed(request, patient, what: str, obj=None) -> None:
    if obj is None:
        looked_at(request, patient=patient, detail=f"portal {what}")
    else:
        looked_at(request, obj, patient=patient, detail=f"portal {what}")


def _policy() -> dict:
    return {
        "notice_hours": settings.CANCELLATION_NOTICE_HOURS,
        "clinic_phone": settings.CLINIC_PHONE,
    }


def _links() -> dict:
    """The links a list draws for each row, one reverse() each per request (core.links)."""
    return {
        "session_url": id_url("portal:session"),
        "comparison_url": id_url("portal:comparison"),
        "grid_url": id_url("photos:image", "grid"),
    }


@require_GET
@patient_required
def home(request, patient):
    context = {
        "patient": patient,
        "overview": queries.overview(patient),
        "chart_width": queries.CHART_WIDTH,
        "contact_us": contact_us,
        **_links(),
        **_policy(),
    }
    _viewed(request, patient, "home")
    return render(request, "portal/home.html", context)


@require_GET
@patient_required
def photos(request, patient):
    """Every before and after comparison released to the patient, newest first."""
    comparisons = list(
        queries.released_comparisons(patient).select_related(
            "body_area", "before__session", "after__session"
        )
    )
    _viewed(request, patient, "photos")
    context = {
        "patient": patient,
        "comparisons": comparisons,
        "days": dates.Days(timezone.localdate()),
        **_links(),
    }
    return render(request, "portal/photos.html", context)


@require_GET
@patient_required
def history(request, patient):
    past = queries.history(patient)
    _viewed(request, patient, "history")
    return render(request, "portal/history.html", {"patient": patient, "past": past})


def _session_page(request, patient, session, *, form=None, problems=(), status=200):
    """The session page; `form` is a cancel, change or waiting-list form sent back with its
    errors, `problems` what went wrong with a request's withdrawal."""
    session.patient = patient
    upcoming = session.status in queries.UPCOMING
    context = {
        "patient": patient,
        "session": session,
        "cancel_form": form if isinstance(form, CancelForm) else CancelForm(),
        "change_form": form if isinstance(form, ChangeForm) else ChangeForm(),
        "upcoming": upcoming,
        "changeable": not queries.change_refusal(session),
        "change_request": queries.latest_change_request(session),
        "request_problems": problems,
        "waitlist_entry": waitlist.waiting_entry(session),
        "waitlist_form": form if isinstance(form, WaitlistForm) else WaitlistForm(),
        "can_wait": waitlist.can_wait(session),
        "instructions": instructions(session) if upcoming else [],
        "aftercare": queries.aftercare_items(aftercare_for(session), timezone.localdate()),
        **_policy(),
    }
    return render(request, "portal/session.html", context, status=status)


@require_GET
@patient_required
def session_detail(request, patient, session_id: int):
    session = queries.own_session(patient, session_id)
    _viewed(request, patient, "session", session)
    return _session_page(request, patient, session)


def _session_request(request, patient, session_id: int, form_class, send) -> HttpResponse:
    """Cancel and change alike: the patient's own session, the form, then `send(session, data)`
    (a service call answering the redirect); a refusal shows the session page with a 400."""
    session = queries.own_session(patient, session_id)
    session.patient = patient
    form = form_class(request.POST)
    if form.is_valid():
        try:
            return send(session, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
    return _session_page(request, patient, session, form=form, status=400)


@require_POST
@patient_required
def session_cancel(request, patient, session_id: int):
    def send(session, data):
        services.portal_session_cancel(
            session=session, reason=data["reason"], by=request.user, request=request
        )
        messages.success(
            request,
            f"Your session on {dates.day_name(session.starts_at)} is cancelled. "
            "We will contact you to book a new date.",
        )
        return redirect("portal:home")

    return _session_request(request, patient, session_id, CancelForm, send)


@require_POST
@patient_required
def session_change(request, patient, session_id: int):
    def send(session, data):
        services.change_request_send(
            session=session,
            message=data["message"],
            preferred_times=data["preferred_times"],
            by=request.user,
            request=request,
        )
        messages.success(
            request, "Thank you. We have your request and will contact you about a new time."
        )
        return redirect("portal:session", session_id=session.pk)

    return _session_request(request, patient, session_id, ChangeForm, send)


@require_POST
@patient_required
def request_withdraw(request, patient, session_id: int):
    """The patient takes back their open request about the session; the session stays booked."""
    session = queries.own_session(patient, session_id)
    session.patient = patient
    try:
        services.change_request_withdraw(session=session, by=request.user, request=request)
    except ValidationError as error:
        _viewed(request, patient, "session", session)
        return _session_page(request, patient, session, problems=error.messages, status=400)
    messages.success(request, "Your request is withdrawn. Your session stays as booked.")
    return redirect("portal:session", session_id=session.pk)


@require_POST
@patient_required
def session_waitlist(request, patient, session_id: int):
    """The patient asks for an earlier time for a booked session, or a time for one not
    booked yet."""

    def send(session, data):
        waitlist.entry_add(session=session, by=request.user, request=request, **data)
        messages.success(
            request,
            "You are on the waiting list. When a time that suits you comes free, we will "
            "email you a link to book it.",
        )
        return redirect("portal:session", session_id=session.pk)

    return _session_request(request, patient, session_id, WaitlistForm, send)


@require_POST
@patient_required
def session_waitlist_withdraw(request, patient, session_id: int):
    session = queries.own_session(patient, session_id)
    # Any waiting request of the session, even one whose session has moved on since.
    entry = session.waitlist_entries.filter(status=WaitlistEntry.Status.WAITING).first()
    if entry is not None:
        # Withdrawn meanwhile (another tab) ends the same way: off the list.
        with contextlib.suppress(ValidationError):
            waitlist.entry_withdraw(entry=entry, by=request.user, request=request)
    messages.success(request, "You are no longer on the waiting list for this session.")
    return redirect("portal:session", session_id=session.pk)


def _ics(sessions, filename: str) -> HttpResponse:
    body = calendar_for(sessions, name=settings.CLINIC_NAME, for_patient=True)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@patient_required
def session_calendar(request, patient, session_id: int):
    session = queries.own_session(patient, session_id)
    if session.starts_at is None or session.status not in queries.UPCOMING:
        return render(
            request,
            "portal/message.html",
            {"text": "This session has no booked time to add to a calendar."},
            status=404,
        )
    _viewed(request, patient, "calendar file", session)
    return _ics([session], f"session-{session.number}.ics")


@require_GET
@patient_required
def calendar(request, patient):
    sessions = list(
        Session.objects.for_patient(patient)
        .filter(status__in=queries.UPCOMING, starts_at__isnull=False)
        .select_related("plan__modality", "booking")
        .order_by("starts_at")
    )
    _viewed(request, patient, "calendar file")
    return _ics(sessions, "my-sessions.ics")


@require_GET
@patient_required
def comparison(request, patient, comparison_id: int):
    item = queries.own_comparison(patient, comparison_id)
    _viewed(request, patient, "comparison", item)
    return render(request, "portal/comparison.html", {"patient": patient, "comparison": item})


# --- consent forms and photo consent --------------------------------------------------------


def _consents_page(request, patient, *, photo_form=None, status=200):
    standing = consents.standing_photo_consent(patient)
    form = photo_form or PhotoConsentForm(
        initial={"purposes": standing.purposes if standing is not None else []}
    )
    context = {
        "patient": patient,
        "rows": consents.forms_for(patient),
        "standing": standing,
        "photo_form": form,
    }
    return render(request, "portal/consents.html", context, status=status)


@require_GET
@patient_required
def my_consents(request, patient):
    """The patient's consent forms (to sign, or signed with their PDF) and photo consent."""
    _viewed(request, patient, "consents")
    return _consents_page(request, patient)


@require_POST
@patient_required
def photo_consent(request, patient):
    """The patient changes their standing photo consent; a purpose withdrawn leaves every
    photo of theirs at once."""
    form = PhotoConsentForm(request.POST)
    _viewed(request, patient, "consents")
    if not form.is_valid():
        return _consents_page(request, patient, photo_form=form, status=400)
    consents.photo_consent_record(
        patient=patient,
        purposes=form.cleaned_data["purposes"],
        source=PhotoConsent.Source.PORTAL,
        by=request.user,
        request=request,
    )
    messages.success(request, "Your photo consent is saved.")
    return redirect("portal:consents")


@patient_required
def consent_sign(request, patient, modality_id: int):
    modality = get_object_or_404(Modality, pk=modality_id)
    _viewed(request, patient, "consent form")

    def done(signature):
        messages.success(
            request,
            f"Thank you: your {modality.name.lower()} consent is signed. "
            "You can download it below.",
        )
        return redirect("portal:consents")

    return consent_sign_response(
        request,
        patient=patient,
        modality=modality,
        place=ConsentSignature.Place.PORTAL,
        template="portal/consent_sign.html",
        done=done,
        extra=lambda version: {"patient": patient},
    )


@require_GET
@patient_required
def consent_pdf(request, patient, signature_id: int):
    signature = get_object_or_404(
        ConsentSignature.objects.for_patient(patient).select_related(
            "version__form__modality", "photo_consent"
        ),
        pk=signature_id,
    )
    kind = signature.version.form.modality.kind.replace("_", "-")
    return consent_pdf_response(
        request, signature, filename=f"consent-{kind}-{signature.signed_at:%Y%m%d}.pdf"
    )
