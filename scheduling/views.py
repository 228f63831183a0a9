"""The front desk's pages: day calendar (per practitioner or room), week, today's check-in list,
booking from a free slot, booking a course, and moving or cancelling a session."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.decorators import role_required
from core.looks import looked_at
from core.params import MAX_IDS, lenient, parse_day, parse_id, parse_moment
from core.views import confirm_page, confirmed, form_status
from people.models import Patient
from treatments.models import Session, TreatmentPlan

from . import calendar, queries, services
from .availability import find_slots, screening_blocks
from .forms import (
    BookForm,
    CancelForm,
    CourseFormSet,
    SlotSearchForm,
    aware,
    practitioner_choices,
)
from .models import Practitioner
from .notifications import calendar_for

DESK = "people.use_front_desk"
CLINICAL = "people.use_clinical"
# Who may do what on the desk's pages, in one place. Clinicians read the day (calendar, week,
# check-in list, a session's booking) and check patients in (and undo it), since the
# pre-session check follows check-in; booking, moving, cancelling and no-shows stay with the
# desk.
READS_THE_DAY = (DESK, CLINICAL)
CHECKS_IN = (DESK, CLINICAL)
SEARCH_LIMIT = 10


def _date(text: str | None) -> dt.date | None:
    """A YYYY-MM-DD from a query string, or None when it is missing or not a sane date."""
    return lenient(parse_day, text)


def _datetime(text: str | None) -> dt.datetime | None:
    return lenient(parse_moment, text)


def _day_from(request) -> dt.date:
    return _date(request.GET.get("date")) or timezone.localdate()


def _day_url(day: dt.date, **extra) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"date": day.isoformat(), **extra}.items())
    return f"{reverse('desk_home')}?{query}"


def _session(session_id: int) -> Session:
    return get_object_or_404(
        Session.objects.select_related(
            "patient", "plan__modality", "practitioner", "performed_by", "depth_level"
        ),
        pk=session_id,
    )


@role_required(*READS_THE_DAY)
def day_view(request):
    day = _day_from(request)
    by_room = request.GET.get("by") == "room"
    context = calendar.day_grid_context(day, by_room=by_room)
    context["can_book"] = request.user.has_perm(DESK)  # a clinician reads the day, books nothing
    looked_at(request, many=context["sessions"], detail="day")
    if request.htmx:
        return render(request, "scheduling/_day_grid.html", context)
    return render(request, "scheduling/day.html", context)


@role_required(*READS_THE_DAY)
def week_view(request):
    days = calendar.week_days(_day_from(request))
    sessions = list(calendar.week_sessions(days))
    looked_at(request, many=sessions, detail="week")
    by_day = {day: [] for day in days}
    for session in sessions:
        by_day[timezone.localtime(session.starts_at).date()].append(session)
    return render(
        request,
        "scheduling/week.html",
        {
            "days": by_day.items(),
            "previous": days[0] - dt.timedelta(days=7),
            "next": days[0] + dt.timedelta(days=7),
            "first": days[0],
        },
    )


@role_required(*READS_THE_DAY)
def today_view(request):
    sessions = queries.check_in_list(timezone.localdate())
    looked_at(request, many=sessions, detail="today")
    return render(request, "scheduling/today.html", {"sessions": sessions})


@require_POST
@role_required(*CHECKS_IN)
def check_in(request, session_id: int):
    """Check-in, from the check-in list (htmx swaps the row), the clinician's day or the
    session page."""
    session = _session(session_id)
    try:
        row = services.session_arrival(
            session=session, status=Session.Status.CHECKED_IN, by=request.user, request=request
        )
    except ValidationError as error:
        return _error(request, error, session, "The patient could not be checked in:")
    return _row_done(request, row, f"{row.patient.full_name} is checked in.")


@require_POST
@role_required(DESK)
def no_show(request, session_id: int):
    """A no-show frees the practitioner's time: asked once more before it is recorded."""
    session = _session(session_id)
    if not confirmed(request):
        looked_at(request, session, detail="no-show confirmation")
        question = f"Mark {session.patient.full_name} as a no-show?"
        if request.htmx:
            context = {"session": session, "question": question}
            return render(request, "scheduling/_today_row_confirm.html", context)
        return confirm_page(
            request,
            question=question,
            consequences=[
                f"{session.plan.modality.name}, session {session.number}, "
                f"{timezone.localtime(session.starts_at):%H:%M} with {session.practitioner}.",
                "Their time is released for other bookings; undo is possible today only.",
            ],
            button="Yes, a no-show",
            back=_next(request) or reverse("scheduling:session", args=[session.pk]),
        )
    try:
        row = services.session_arrival(
            session=session, status=Session.Status.NO_SHOW, by=request.user, request=request
        )
    except ValidationError as error:
        return _error(request, error, session, "The no-show could not be recorded:")
    return _row_done(request, row, f"{row.patient.full_name} is marked as a no-show.")


@require_POST
@role_required(*CHECKS_IN)
def arrival_undo(request, session_id: int):
    """Takes back a check-in or a no-show made by mistake, the same day."""
    session = _session(session_id)
    try:
        row = services.session_arrival_undo(session=session, by=request.user, request=request)
    except ValidationError as error:
        return _error(request, error, session, "This cannot be undone:")
    return _row_done(request, row, f"{row.patient.full_name} is booked again, as before.")


def _next(request) -> str | None:
    """Where a plain (non-htmx) form asked to go back to: a path on this site only."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


def _row_done(request, row: Session, message: str):
    if request.htmx:
        row = queries.with_screening_state([row])[0]
        # A refusal shown above the list belongs to an earlier click: cleared with this success.
        return render(request, "scheduling/_today_row.html", {"session": row, "clear": True})
    messages.success(request, message)
    return redirect(_next(request) or reverse("scheduling:session", args=[row.pk]))


def _error(request, error: ValidationError, session: Session, title: str):
    if request.htmx:
        # htmx does not swap error responses; the explanation goes above the list instead.
        response = render(
            request,
            "scheduling/_problems.html",
            {"problems": error.messages, "problems_title": title},
        )
        response["HX-Retarget"] = "#today-problems"
        response["HX-Reswap"] = "innerHTML"
        return response
    for message in error.messages:
        messages.error(request, f"{title} {message}")
    return redirect(_next(request) or reverse("scheduling:session", args=[session.pk]))


@role_required(*READS_THE_DAY)
def session_detail(request, session_id: int):
    session = _session(session_id)
    looked_at(request, session)
    return _session_page(request, session)


def _session_page(
    request,
    session,
    *,
    move_form=None,
    cancel_form=None,
    problems=(),
    problems_title="",
    status=200,
):
    local = timezone.localtime(session.starts_at) if session.starts_at else None
    move_form = move_form or BookForm(
        initial={"starts_at": local, "practitioner": session.practitioner_id}
    )
    return render(
        request,
        "scheduling/session.html",
        {
            "session": session,
            "booking": getattr(session, "booking", None) if session.pk else None,
            "move_form": move_form,
            "cancel_form": cancel_form or CancelForm(),
            "problems": problems,
            "problems_title": problems_title,
            "late_now": services.is_late_cancel(session) if session.starts_at else False,
            "notice_hours": settings.CANCELLATION_NOTICE_HOURS,
        },
        status=status,
    )


@require_POST
@role_required(DESK)
def session_move(request, session_id: int):
    session = _session(session_id)
    form = BookForm(request.POST)
    if not form.is_valid():
        return _session_page(request, session, move_form=form, status=400)
    try:
        warnings = services.session_reschedule(
            session=session,
            starts_at=aware(form.cleaned_data["starts_at"]),
            practitioner_user_id=form.cleaned_data["practitioner"],
            by=request.user,
            request=request,
        )
    except ValidationError as error:
        return _session_page(
            request,
            session,
            move_form=form,
            problems=error.messages,
            problems_title="The session cannot be moved there:",
            status=400,
        )
    session.refresh_from_db()
    local = timezone.localtime(session.starts_at)
    messages.success(request, f"Session moved to {local:%A %-d %B %Y at %H:%M}.")
    for warning in warnings:
        messages.warning(request, warning)
    return redirect(_day_url(local.date()))


@require_POST
@role_required(DESK)
def session_cancel(request, session_id: int):
    session = _session(session_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _session_page(request, session, cancel_form=form, status=400)
    if not confirmed(request):
        looked_at(request, session, detail="cancel confirmation")
        local = timezone.localtime(session.starts_at)
        late = services.is_late_cancel(session)
        return confirm_page(
            request,
            question=f"Cancel session {session.number} of {session.patient.full_name}?",
            consequences=[
                f"{session.plan.modality.name} on {local:%A %-d %B %Y at %H:%M} "
                f"with {session.practitioner}.",
                f"Cancelled by the {form.cleaned_data['cancelled_by']}: "
                f"{form.cleaned_data['reason']}",
                *(
                    [
                        f"A late cancellation: less than {settings.CANCELLATION_NOTICE_HOURS} "
                        "hours' notice."
                    ]
                    if late
                    else []
                ),
                "The patient is told by email; the time is released for other bookings.",
            ],
            button="Yes, cancel the session",
            back=reverse("scheduling:session", args=[session.pk]),
        )
    try:
        services.session_cancel(
            session=session,
            cancelled_by=form.cleaned_data["cancelled_by"],
            reason=form.cleaned_data["reason"],
            by=request.user,
            request=request,
        )
    except ValidationError as error:
        return _session_page(
            request,
            session,
            cancel_form=form,
            problems=error.messages,
            problems_title="The session cannot be cancelled:",
            status=400,
        )
    session.refresh_from_db()
    late = " (late cancellation)" if session.booking.cancelled_late else ""
    messages.success(request, f"Session {session.number} was cancelled{late}.")
    return redirect(_day_url(timezone.localtime(session.starts_at).date()))


@role_required(DESK)
def flagged(request, patient_id: int):
    """A patient's booked sessions that screening flags, to cancel together or move one by one."""
    patient = get_object_or_404(Patient, pk=patient_id)
    problems: list[str] = []
    if request.method == "POST":
        ids = [i for v in request.POST.getlist("sessions")[:MAX_IDS] if (i := lenient(parse_id, v))]
        try:
            cancelled = services.flagged_cancel(
                patient=patient, session_ids=ids, by=request.user, request=request
            )
        except ValidationError as error:
            problems = error.messages
        else:
            messages.success(request, f"{len(cancelled)} flagged sessions were cancelled.")
            return redirect("scheduling:flagged", patient.pk)
    sessions = (
        Session.objects.flagged()
        .filter(patient=patient)
        .select_related("plan__modality", "practitioner")
    )
    looked_at(request, patient)
    return render(
        request,
        "scheduling/flagged.html",
        {"patient": patient, "sessions": sessions, "problems": problems},
        status=400 if problems else 200,
    )


@role_required(DESK)
def session_slots(request, session_id: int):
    """Free slots for one planned session; the list updates with htmx as preferences change."""
    session = _session(session_id)
    looked_at(request, session, detail="slots")
    form = SlotSearchForm(request.GET or None)
    slots, blocks = [], []
    if form.is_bound and form.is_valid():
        first_day = form.cleaned_data["first_day"]
        last_day = first_day + dt.timedelta(days=form.cleaned_data["days"] - 1)
        slots = find_slots(
            session=session,
            first_day=first_day,
            last_day=last_day,
            practitioner_user_id=form.cleaned_data["practitioner"],
            mornings_only=form.cleaned_data["mornings_only"],
        )[:60]
        if not slots:  # say what screening refuses, if anything, and until when
            blocks = screening_blocks(session, first_day, last_day)
    context = {"session": session, "form": form, "slots": slots, "blocks": blocks}
    if request.htmx:
        return render(request, "scheduling/_slots.html", context, status=form_status(form))
    return render(request, "scheduling/slots.html", context, status=form_status(form))


@role_required(DESK)
def book_start(request):
    """Booking from a free slot on the calendar: find the patient, pick the planned session."""
    starts_at = _datetime(request.GET.get("start"))
    practitioner = None
    if user_id := lenient(parse_id, request.GET.get("practitioner")):
        practitioner = Practitioner.objects.select_related("user").filter(user_id=user_id).first()
    return render(
        request,
        "scheduling/book_start.html",
        {"starts_at": starts_at, "practitioner": practitioner},
    )


@role_required(DESK)
def book_patients(request):
    """htmx: patients matching the search, with their courses and next sessions to book."""
    query = request.GET.get("q", "").replace("\x00", "").strip()
    patients = list(Patient.objects.search(query)[:SEARCH_LIMIT]) if query else []
    looked_at(request, many=patients, detail="booking search")
    plans = (
        TreatmentPlan.objects.filter(patient__in=patients, status=TreatmentPlan.Status.ACTIVE)
        .select_related("modality", "body_area")
        .prefetch_related("sessions")
    )
    by_patient: dict[int, list] = {p.pk: [] for p in patients}
    for plan in plans:
        bookable = [s for s in plan.sessions.all() if s.status in services.BOOKABLE]
        bookable.sort(key=lambda s: s.number)
        by_patient[plan.patient_id].append((plan, bookable[0] if bookable else None))
    return render(
        request,
        "scheduling/_book_patients.html",
        {
            "query": query,
            "results": [(p, by_patient[p.pk]) for p in patients],
            "start": request.GET.get("start", ""),
            "practitioner": request.GET.get("practitioner", ""),
        },
    )


@require_POST
@role_required(DESK)
def book_confirm(request, session_id: int):
    session = _session(session_id)
    form = BookForm(request.POST)
    problems: list[str] = []
    if form.is_valid():
        try:
            booked = services.session_book(
                session=session,
                starts_at=aware(form.cleaned_data["starts_at"]),
                practitioner_user_id=form.cleaned_data["practitioner"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            problems = error.messages
        else:
            for warning in booked.booking_warnings:
                messages.warning(request, warning)
            session.refresh_from_db()
            local = timezone.localtime(session.starts_at)
            messages.success(
                request,
                f"{session.patient.full_name}: session {session.number} booked for "
                f"{local:%A %-d %B %Y at %H:%M}.",
            )
            return redirect(_day_url(local.date()))
    return render(
        request,
        "scheduling/book_confirm.html",
        {"session": session, "form": form, "problems": problems},
        status=400,
    )


@role_required(DESK)
def course_book(request, plan_id: int):
    plan = get_object_or_404(
        TreatmentPlan.objects.select_related("patient", "modality", "body_area"), pk=plan_id
    )
    looked_at(request, plan, detail="course booking")
    choices = practitioner_choices()
    sessions = plan.sessions.filter(status__in=services.BOOKABLE).select_related(
        "plan__modality", "depth_level"
    )
    prefs = {
        "from": _date(request.GET.get("from")) or timezone.localdate(),
        "practitioner": lenient(parse_id, request.GET.get("practitioner")),
        "mornings": request.GET.get("mornings") == "on",
    }
    form_kwargs = {"sessions": sessions, "practitioners": choices}
    if request.method == "POST":
        formset = CourseFormSet(request.POST, prefix="sessions", form_kwargs=form_kwargs)
        problems = []
        if formset.is_valid():
            try:
                booked = services.course_book(
                    plan=plan, choices=formset.choices(), by=request.user, request=request
                )
            except ValidationError as error:
                problems = error.messages
            else:
                first = timezone.localtime(booked[0].starts_at)
                messages.success(
                    request,
                    f"{len(booked)} sessions booked for {plan.patient.full_name}, "
                    f"from {first:%A %-d %B %Y}. Instructions were emailed.",
                )
                return redirect(_day_url(first.date()))
        else:
            problems = formset.problems()
        status = 400
    else:
        proposals = services.course_propose(
            plan=plan,
            first_day=prefs["from"],
            practitioner_user_id=prefs["practitioner"],
            mornings_only=prefs["mornings"],
        )
        formset = CourseFormSet(
            prefix="sessions",
            form_kwargs=form_kwargs,
            initial=[
                {
                    "session": session.pk,
                    "include": slot is not None,
                    "starts_at": timezone.localtime(slot.starts_at) if slot else None,
                    "practitioner": slot.practitioner.user_id if slot else None,
                }
                for session, slot in proposals
            ],
        )
        problems = []
        if any(slot is None for _, slot in proposals):
            problems = ["No free time was found for some sessions; choose a time by hand."]
        status = 200
    by_pk = {session.pk: session for session in sessions}
    rows = [(form, by_pk.get(lenient(parse_id, form["session"].value()))) for form in formset]
    return render(
        request,
        "scheduling/course.html",
        {
            "plan": plan,
            "formset": formset,
            "rows": rows,
            "choices": choices,
            "problems": problems,
            "prefs": prefs,
        },
        status=status,
    )


# The clinician's day: their own sessions of today, and tomorrow's beside them.
MY_DAYS = 2


@role_required(CLINICAL)
def clinician_day(request):
    """A clinician's home: today's patients with their screening state and one tap to the
    pre-session check, the record form and the camera; tomorrow's list; their calendar feed."""
    today = timezone.localdate()
    days = queries.practitioner_days(request.user.pk, today, MY_DAYS)
    looked_at(request, many=[row for day in days for row in day], detail="clinician's day")
    practitioner = Practitioner.objects.filter(user=request.user, active=True).first()
    feed_url = None
    if practitioner is not None:
        feed_url = request.build_absolute_uri(
            reverse("practitioner_feed", args=[practitioner.calendar_token])
        )
    return render(
        request,
        "scheduling/clinician_day.html",
        {
            "today": today,
            "today_rows": days[0],
            "tomorrow": today + dt.timedelta(days=1),
            "tomorrow_rows": days[1],
            "feed_url": feed_url,
        },
    )


@require_POST
@role_required(CLINICAL)
def calendar_feed_renew(request):
    practitioner = Practitioner.objects.filter(user=request.user, active=True).first()
    if practitioner is None:
        messages.error(
            request, "You have no calendar here: ask a clinic admin to add you as a practitioner."
        )
    else:
        services.calendar_token_renew(practitioner=practitioner, by=request.user, request=request)
        messages.success(
            request,
            "Your calendar link was renewed: the old link no longer works. "
            "Subscribe to the new one in your calendar app.",
        )
    return redirect("clinical_home")


def practitioner_feed(request, token: str):
    """A practitioner's calendar for their own calendar app; the secret URL is the key."""
    practitioner = Practitioner.objects.filter(calendar_token=token, active=True).first()
    if practitioner is None or len(token) < 20:
        raise Http404
    since = timezone.now() - dt.timedelta(days=30)
    sessions = (
        Session.objects.filter(
            practitioner_id=practitioner.user_id,
            starts_at__gte=since,
            status__in=(*Session.ACTIVE_STATUSES, Session.Status.CANCELLED),
        )
        .select_related("patient", "plan__modality", "booking")
        .order_by("starts_at")
    )
    looked_at(request, many=sessions, actor=practitioner.user, detail="calendar feed")
    body = calendar_for(sessions, name=f"Sessions of {practitioner}", for_patient=False)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response
