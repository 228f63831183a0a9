"""The patient portal: every view gets the signed-in patient's own record from the account.

Each page that shows the record writes one audit view event; cancel and change requests are
POST with CSRF, look the session up among the patient's own (another id answers 404) and
re-check the notice period in the service.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.links import id_url
from core.looks import looked_at
from core.params import optional, parse_day, parse_id
from core.views import form_status
from people.access import patient_required
from people.export import data_export_request, latest_export
from people.models import DataExport
from people.services import patient_update
from people.views import export_download
from scheduling import reminders, waitlist
from scheduling.forms import WaitlistForm
from scheduling.models import WaitlistEntry
from scheduling.notifications import calendar_for, contact_us, instructions
from scheduling.services import BOOKABLE
from treatments import consents
from treatments import intake as questionnaire
from treatments import services as treatment_services
from treatments.aftercare import aftercare_for
from treatments.forms import PhotoConsentForm
from treatments.models import ConsentSignature, Modality, PhotoConsent, Session, TreatmentPlan
from treatments.views import consent_pdf_response, consent_sign_response

from . import booking, dates, queries, services
from .forms import (
    CancelForm,
    ChangeForm,
    ChosenTimeForm,
    ConsultationTimeForm,
    IntakeForm,
    PatientCheckForm,
    ReminderChoiceForm,
    intake_initial,
)


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
        "intake": questionnaire.latest_intake(patient),
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
        "bookable": session.status in BOOKABLE
        and session.plan.status in TreatmentPlan.BOOKABLE_STATUSES,
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


def _check_page(request, patient, session, *, form=None, status=200):
    """The patient's own check before a session: the questions, or what they answered and
    what happens next (a kind word and other times when an answer means we must talk)."""
    today = timezone.localdate()
    factors = treatment_services.patient_check_factors(session)
    answered = queries.patient_check(session)
    answers = list(answered.answers.all()) if answered else []
    flagged = session.flag == Session.Flag.BLOCKED
    change_refusal = queries.change_refusal(session)
    times = []
    if answered is not None and flagged and not change_refusal:
        times = queries.other_times(session, answered, today=today)
    context = {
        "patient": patient,
        "session": session,
        "form": form or PatientCheckForm(factors=factors),
        "answered": answered,
        "answers": answers,
        "any_yes": any(answer.answer for answer in answers),
        "flagged": flagged,
        # Each one opens the online move's confirmation, which asks the engine again.
        "other_times": [
            {
                "slot": slot,
                "move_url": reverse("portal:session_move", args=[session.pk])
                + "?"
                + booking.FreeTime(
                    slot.starts_at, slot.practitioner.user_id, slot.practitioner.user.first_name
                ).query,
            }
            for slot in times
        ],
        "changeable": not change_refusal,
        **_policy(),
    }
    return render(request, "portal/check.html", context, status=status)


@require_http_methods(["GET", "POST"])
@patient_required
def session_check(request, patient, session_id: int):
    """GET: the questions before a booked session (or the answers given); POST: the answers."""
    session = queries.own_session(patient, session_id)
    session.patient = patient
    _viewed(request, patient, "pre-session check", session)
    if refusal := treatment_services.patient_check_refusal(session):
        status = 400 if request.method == "POST" else 200
        return render(request, "portal/message.html", {"text": refusal}, status=status)
    if request.method == "GET":
        return _check_page(request, patient, session)
    factors = treatment_services.patient_check_factors(session)
    form = PatientCheckForm(request.POST, factors=factors)
    if form.is_valid():
        try:
            treatment_services.patient_check_answer(
                session=session, answers=form.answers(), by=request.user
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, "Thank you: we have your answers.")
            return redirect("portal:session_check", session_id=session.pk)
    return _check_page(request, patient, session, form=form, status=400)


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


# --- online booking: the engine's free times, a confirm page, the desk's services -------------


def _form_problems(form) -> list[str]:
    return [error for errors in form.errors.values() for error in errors]


def _query_day(request) -> dt.date | None:
    try:
        return optional(parse_day, request.GET.get("from"))
    except ValidationError as error:
        raise ValidationError(
            f"The date to show free times from is not valid. {error.messages[0]}"
        ) from error


def _message(request, text: str, *, status: int, back: str = "portal:home"):
    return render(
        request, "portal/message.html", {"text": text, "back_url": reverse(back)}, status=status
    )


@dataclass(frozen=True)
class _Mode:
    """What a list of free times is for: its heading, where a chosen time goes and where the
    pages before and after it are."""

    heading: str
    choose_url: str  # ends with "?": the chosen time's query string follows
    page_url: str  # ends with "from=": the first day of a page follows


def _mode(kind: str, session: Session | None) -> _Mode:
    if kind == "move":
        url = reverse("portal:session_move", args=[session.pk])
        return _Mode(f"Move session {session.number}", f"{url}?", f"{url}?from=")
    if kind == "consultation":
        return _Mode(
            "Book a consultation",
            f"{reverse('portal:book_consultation')}?",
            f"{reverse('portal:book')}?from=",
        )
    return _Mode(
        f"Book session {session.number}",
        f"{reverse('portal:book_session', args=[session.pk])}?",
        f"{reverse('portal:book')}?session={session.pk}&from=",
    )


def _times(
    request,
    patient,
    *,
    session: Session,
    kind: str,
    within: booking.Window,
    start_day: dt.date | None = None,
    to_book=(),
    problems=(),
    status: int = 200,
):
    """The free times page: a week of the engine's free times for `session`, by day."""
    problems = list(problems)
    prefer = session.practitioner_id
    try:
        page = booking.free_times(
            session, start_day=start_day, within=within, prefer_practitioner=prefer
        )
    except ValidationError as error:
        problems += error.messages
        status = 400
        page = booking.free_times(session, within=within, prefer_practitioner=prefer)
    context = {
        "patient": patient,
        "session": session if session.pk else None,
        "kind": kind,
        "mode": _mode(kind, session),
        "page": page,
        "within": within,
        "to_book": to_book,
        "problems": problems,
        **_policy(),
    }
    return render(request, "portal/book.html", context, status=status)


def _confirm(request, patient, *, session, kind, slot, form, problems=(), status=200):
    context = {
        "patient": patient,
        "session": session if session.pk else None,
        "kind": kind,
        "mode": _mode(kind, session),
        "slot": slot,
        "practitioner_name": booking.practitioner_name(slot.practitioner.user),
        "form": form,
        "problems": problems,
        **_policy(),
    }
    return render(request, "portal/book_confirm.html", context, status=status)


@require_http_methods(["GET", "POST"])
@patient_required
def my_data(request, patient):
    """What the clinic holds about the patient, and a button that has the worker pack it into
    a ZIP; the page says when it is ready and links to it until it expires."""
    if request.method == "POST":
        try:
            data_export_request(patient=patient, by=request.user, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, "We are preparing your data. This page shows when it is ready."
            )
        return redirect("portal:my_data")
    export = latest_export(patient)
    _viewed(request, patient, "my data")
    context = {
        "patient": patient,
        "export": export,
        "hours": settings.PATIENT_EXPORT_HOURS,
        "clinic_email": settings.CLINIC_EMAIL,
    }
    template = "portal/_my_data_status.html" if request.htmx else "portal/my_data.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@patient_required
def reminders_choice(request, patient):
    """How the clinic reminds the patient of a session: by email always, and by text message
    to the phone on file when they agree (what the reminders read: Patient.sms_reminders)."""
    # An unticked box sends nothing: an empty POST is still a choice (no text messages).
    sent = request.POST if request.method == "POST" else None
    form = ReminderChoiceForm(sent, initial={"sms": patient.sms_reminders})
    _viewed(request, patient, "reminders")
    if form.is_valid():
        try:
            patient_update(
                patient=patient,
                by=request.user,
                request=request,
                sms_reminders=form.cleaned_data["sms"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Your choice of reminders is saved.")
            return redirect("portal:reminders")
    context = {
        "patient": patient,
        "form": form,
        "lead_hours": settings.REMINDER_LEAD_HOURS,
        "clinic_phone": settings.CLINIC_PHONE,
    }
    return render(request, "portal/reminders.html", context, status=form_status(form))


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
def book(request, patient):
    """Book your next session: the free times of the next session of a course (?session= one
    of them), or of a first consultation for a patient with no course yet."""
    within = booking.window()
    to_book = booking.sessions_to_book(patient)
    try:
        start_day = _query_day(request)
        session_id = optional(parse_id, request.GET.get("session"))
    except ValidationError as error:
        _viewed(request, patient, "book")
        return _message(request, " ".join(error.messages), status=400, back="portal:book")
    session = to_book[0] if to_book else None
    if session_id is not None:
        session = queries.own_session(patient, session_id)
        if session.pk not in {s.pk for s in to_book}:
            _viewed(request, patient, "book", session)
            return _message(
                request, booking.BOOKED_OR_LATER.format(phone=settings.CLINIC_PHONE), status=400
            )
    if session is not None:
        _viewed(request, patient, "book", session)
        return _times(
            request,
            patient,
            session=session,
            kind="book",
            within=within,
            start_day=start_day,
            to_book=to_book,
        )
    _viewed(request, patient, "book")
    ahead = booking.upcoming(patient)
    if not booking.may_book_consultation(to_book, ahead):
        return render(
            request,
            "portal/book.html",
            {"patient": patient, "all_booked": True, "upcoming": ahead, **_policy()},
        )
    try:
        searched = booking.consultation_session(patient)
    except ValidationError:
        return _message(
            request,
            "Consultations cannot be booked online yet. "
            f"Please call us on {settings.CLINIC_PHONE}.",
            status=200,
        )
    return _times(
        request, patient, session=searched, kind="consultation", within=within, start_day=start_day
    )


def _choice(request, form_class=ChosenTimeForm):
    return form_class(request.POST if request.method == "POST" else request.GET)


@require_http_methods(["GET", "POST"])
@patient_required
def book_session(request, patient, session_id: int):
    """GET: the chosen time to confirm; POST: books it (the next session of a course)."""
    session = queries.own_session(patient, session_id)
    session.patient = patient
    _viewed(request, patient, "book", session)
    within = booking.window()
    try:
        booking.check_bookable(patient, session)
    except ValidationError as error:
        return _message(request, " ".join(error.messages), status=400)
    return _choose_and_confirm(request, patient, session, "book", within, booking.book)


def _day_in(within: booking.Window, starts_at: dt.datetime) -> dt.date | None:
    """The chosen time's day, to show the fresh times around it; None outside the window."""
    day = timezone.localdate(starts_at)
    return day if within.first_day <= day <= within.last_day else None


def _booked_words(session: Session, what: str) -> str:
    return (
        f"Your {session.plan.modality.name.lower()} is {what} for "
        f"{dates.day_name(session.starts_at)} at {dates.clock(session.starts_at)}. "
        "We have emailed you the details."
    )


@require_http_methods(["GET", "POST"])
@patient_required
def book_consultation(request, patient):
    """GET: the chosen time to confirm, with the area to talk about; POST: creates and books
    the consultation. For a patient with no course and nothing booked."""
    _viewed(request, patient, "book consultation")
    within = booking.window()
    try:
        booking.check_consultation_allowed(patient)
        searched = booking.consultation_session(patient)
    except ValidationError as error:
        return _message(request, " ".join(error.messages), status=400, back="portal:book")
    times = {"session": searched, "kind": "consultation", "within": within}
    form = _choice(request, ConsultationTimeForm if request.method == "POST" else ChosenTimeForm)
    time_errors = [e for name in ("start", "practitioner") for e in form.errors.get(name, [])]
    if time_errors:
        return _times(request, patient, **times, problems=time_errors, status=400)
    starts_at = form.cleaned_data["start"]
    practitioner = form.cleaned_data["practitioner"]
    try:
        slot = booking.check_choice(searched, starts_at, practitioner, within)
        if request.method == "POST" and form.is_valid():
            booked = booking.book_consultation(
                patient=patient,
                body_area=form.cleaned_data["body_area"],
                notes=form.cleaned_data["notes"],
                starts_at=starts_at,
                practitioner_user_id=practitioner,
                by=request.user,
                request=request,
                within=within,
            )
            messages.success(request, _booked_words(booked, "booked"))
            return redirect("portal:session", session_id=booked.pk)
    except booking.TimeNotFree as error:
        return _times(
            request,
            patient,
            **times,
            start_day=_day_in(within, starts_at),
            problems=error.messages,
            status=409,
        )
    except ValidationError as error:
        return _times(request, patient, **times, problems=error.messages, status=400)
    if request.method == "GET":
        local = timezone.localtime(starts_at).isoformat(timespec="minutes")
        form = ConsultationTimeForm(initial={"start": local, "practitioner": practitioner})
    status = 400 if form.is_bound else 200
    return _confirm(
        request, patient, session=searched, kind="consultation", slot=slot, form=form, status=status
    )


@require_http_methods(["GET", "POST"])
@patient_required
def session_move(request, patient, session_id: int):
    """The free times to move a booked session to (?from= pages them); with a chosen time
    (?start=&practitioner=) the confirm page; POST moves it. Within the notice period the
    page says to call, as for a cancellation."""
    session = queries.own_session(patient, session_id)
    session.patient = patient
    _viewed(request, patient, "move", session)
    within = booking.window()
    if refusal := queries.change_refusal(session):
        return render(
            request,
            "portal/book.html",
            {"patient": patient, "session": session, "refusal": refusal, **_policy()},
            status=400 if request.method == "POST" else 200,
        )
    times = {"session": session, "kind": "move", "within": within}
    if request.method == "GET" and "start" not in request.GET:
        try:
            start_day = _query_day(request)
        except ValidationError as error:
            return _times(request, patient, **times, problems=error.messages, status=400)
        return _times(request, patient, **times, start_day=start_day)
    return _choose_and_confirm(request, patient, session, "move", within, booking.move)


def _choose_and_confirm(request, patient, session, kind: str, within, act):
    """A chosen time of `session`: GET confirms it is still offered and shows the confirm
    page, POST books or moves it (`act`); a time no longer offered answers 409 with the day's
    fresh times, anything else wrong 400 with the reason."""
    times = {"session": session, "kind": kind, "within": within}
    form = _choice(request)
    if not form.is_valid():
        return _times(request, patient, **times, problems=_form_problems(form), status=400)
    starts_at, practitioner = form.cleaned_data["start"], form.cleaned_data["practitioner"]
    try:
        if request.method == "POST":
            done = act(
                patient=patient,
                session=session,
                starts_at=starts_at,
                practitioner_user_id=practitioner,
                by=request.user,
                request=request,
                within=within,
            )
            messages.success(request, _booked_words(done, "booked" if kind == "book" else "moved"))
            return redirect("portal:session", session_id=session.pk)
        slot = booking.check_choice(session, starts_at, practitioner, within)
    except booking.TimeNotFree as error:
        return _times(
            request,
            patient,
            **times,
            start_day=_day_in(within, starts_at),
            problems=error.messages,
            status=409,
        )
    except ValidationError as error:
        return _times(request, patient, **times, problems=error.messages, status=400)
    return _confirm(request, patient, session=session, kind=kind, slot=slot, form=form)


# --- a reminder's confirm, cancel and move links ------------------------------------------


def _move_url(session) -> str:
    return reverse("portal:session_move", args=[session.pk])


@require_http_methods(["GET", "HEAD", "POST"])
def reminder_link(request, token: str):
    """A link from a reminder: confirm, cancel or move one session. It needs no sign-in (the
    signed link is the patient's proof, and it reaches this one session and action only); a
    signed-in patient who is not the session's own is refused. GET only shows the question:
    mail scanners open links, so only the page's button (a POST) changes anything."""
    link = reminders.link_read(token)
    session = link.session
    user = request.user
    is_patient = user.is_authenticated and user.has_perm("people.use_portal")
    if session is not None and is_patient and user.pk != session.patient.user_id:
        raise Http404
    if not link.usable:
        reminders.link_refused(link, request=request)
        return _reminder_page(request, link, problem=link.problem, status=link.status)
    actor = user if user.is_authenticated else session.patient.user
    looked_at(request, session, actor=actor, detail=f"reminder {link.channel}: {link.action}")
    refusal = "" if link.action == reminders.CONFIRM else queries.change_refusal(session)
    if request.method != "POST":
        return _reminder_page(request, link, refusal=refusal)
    form = CancelForm(request.POST) if link.action == reminders.CANCEL else None
    try:
        if link.action == reminders.CONFIRM:
            session = reminders.session_confirm(
                session=session, version=link.version, channel=link.channel, request=request
            )
            done = (
                f"Thank you: your session on {dates.day_name(session.starts_at)} at "
                f"{dates.clock(session.starts_at)} is confirmed. See you then."
            )
        elif link.action == reminders.CANCEL:
            if not form.is_valid():
                return _reminder_page(request, link, form=form, status=400)
            services.link_session_cancel(
                session=session,
                version=link.version,
                reason=form.cleaned_data["reason"],
                channel=link.channel,
                request=request,
            )
            done = (
                f"Your session on {dates.day_name(session.starts_at)} is cancelled. We will "
                f"contact you to book a new date, or call us on {settings.CLINIC_PHONE}."
            )
        else:
            if refusal:
                raise ValidationError(refusal)
            if session.patient.user_id is None:
                raise ValidationError(
                    f"Please call us on {settings.CLINIC_PHONE} to find another time."
                )
            return redirect(_move_url(session))
    except ValidationError as error:
        return _reminder_page(request, link, problem=" ".join(error.messages), status=400)
    return _reminder_page(request, link, done=done)


def _reminder_page(request, link, *, form=None, refusal="", problem="", done="", status=200):
    # Nothing of the session on a link that no longer applies: it may be an old or a lost one.
    session = link.session if link.usable else None
    context = {
        "link": link,
        "session": session,
        "confirmed_at": reminders.confirmed_at(session) if session is not None else None,
        "form": form or CancelForm(),
        "refusal": refusal,
        "problem": problem,
        "done": done,
        **_policy(),
    }
    return render(request, "portal/reminder_link.html", context, status=status)


@require_GET
@patient_required
def my_data_download(request, patient, export_id: int):
    """The patient's own export only: another patient's id answers 404."""
    export = get_object_or_404(DataExport.objects.for_patient(patient), pk=export_id)
    return export_download(request, export)


@require_http_methods(["GET", "POST"])
@patient_required
def intake(request, patient):
    """The health questionnaire before the first visit: sent, then changed as often as the
    patient likes until a clinician has gone through it with them; then read only."""
    latest = questionnaire.latest_intake(patient)
    _viewed(request, patient, "intake")
    if latest is not None and latest.is_confirmed:
        context = {"patient": patient, "intake": latest, "confirmed": True}
        status = 200
        if request.method == "POST":
            messages.error(
                request,
                "Your clinician has already gone through your answers with you. If something"
                " has changed, please tell us at your next visit.",
            )
            status = 400
        return render(request, "portal/intake.html", context, status=status)
    form = IntakeForm(
        request.POST or None,
        patient=patient,
        questions=questionnaire.questions(),
        initial=intake_initial(latest, questionnaire.reported_entries(patient)),
    )
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire.intake_submit(
                patient=patient,
                answers=form.answers(),
                skin_type=form.cleaned_data["skin_type"],
                goals=form.cleaned_data["goals"],
                goal_areas=form.cleaned_data["goal_areas"],
                goals_note=form.cleaned_data["goals_note"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(
                request,
                "Thank you: your health questionnaire is sent. Your clinician will go through"
                " it with you at your first visit.",
            )
            return redirect("portal:home")
    context = {"patient": patient, "intake": latest, "form": form, "confirmed": False}
    return render(request, "portal/intake.html", context, status=form_status(form))


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


@require_http_methods(["GET", "POST"])
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
