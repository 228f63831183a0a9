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
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.links import id_url
from core.looks import looked_at
from people.access import patient_required
from scheduling import reminders, waitlist
from scheduling.forms import WaitlistForm
from scheduling.models import WaitlistEntry
from scheduling.notifications import calendar_for, contact_us, instructions
from treatments.aftercare import aftercare_for
from treatments.models import Session

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


# --- a reminder's confirm, cancel and move links ------------------------------------------

# Where a reminder's move link leads: the session's page, at its "Cannot come?" form, until
# the portal has a page of its own for moving a session.
MOVE_ANCHOR = "#change-title"


def _move_url(session) -> str:
    return reverse("portal:session", args=[session.pk]) + MOVE_ANCHOR


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
