"""The front desk's pages: day calendar (per practitioner or room), week, today's check-in list,
booking from a free slot, booking a course, and moving or cancelling a session."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.decorators import role_required
from core.looks import looked_at
from core.params import MAX_IDS, lenient, parse_day, parse_id, parse_moment
from core.views import form_status
from people import services as people_services
from people.models import Patient
from treatments import services as treatment_services
from treatments.models import Session, TreatmentPlan

from . import calendar, queries, services
from .availability import find_slots, screening_blocks
from .forms import (
    BookForm,
    CancelForm,
    ConsultationForm,
    CourseFormSet,
    CourseProposalForm,
    NewPatientForm,
    SlotSearchForm,
    aware,
    practitioner_choices,
)
from .models import Practitioner
from .notifications import calendar_for

DESK = "people.use_front_desk"
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
        Session.objects.select_related("patient", "plan__modality", "practitioner", "depth_level"),
        pk=session_id,
    )


@role_required(DESK)
def day_view(request):
    day = _day_from(request)
    by_room = request.GET.get("by") == "room"
    context = calendar.day_grid_context(day, by_room=by_room)
    looked_at(request, many=context["sessions"], detail="day")
    if request.htmx:
        return render(request, "scheduling/_day_grid.html", context)
    return render(request, "scheduling/day.html", context)


@role_required(DESK)
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


@role_required(DESK)
def today_view(request):
    sessions = queries.check_in_list(timezone.localdate())
    looked_at(request, many=sessions, detail="today")
    return render(request, "scheduling/today.html", {"sessions": sessions})


@require_POST
@role_required(DESK)
def arrival(request, session_id: int, status: str):
    """Check-in and no-show, from the check-in list (htmx swaps the row) or the session page."""
    session = _session(session_id)
    try:
        row = services.session_arrival(
            session=session, status=status, by=request.user, request=request
        )
    except ValidationError as error:
        return _error(request, error, session)
    if request.htmx:
        row = queries.with_screening_state([row])[0]
        return render(request, "scheduling/_today_row.html", {"session": row})
    return redirect("scheduling:session", session.pk)


def _error(request, error: ValidationError, session: Session):
    if request.htmx:
        # htmx does not swap error responses; the explanation goes above the list instead.
        response = render(request, "scheduling/_problems.html", {"problems": error.messages})
        response["HX-Retarget"] = "#today-problems"
        response["HX-Reswap"] = "innerHTML"
        return response
    for message in error.messages:
        messages.error(request, message)
    return redirect("scheduling:session", session.pk)


@role_required(DESK)
def session_detail(request, session_id: int):
    session = _session(session_id)
    looked_at(request, session)
    return _session_page(request, session)


def _session_page(request, session, *, move_form=None, cancel_form=None, problems=(), status=200):
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
        return _session_page(request, session, move_form=form, problems=error.messages, status=400)
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
            request, session, cancel_form=form, problems=error.messages, status=400
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
        TreatmentPlan.objects.filter(patient__in=patients)
        .open()
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
            "slot_query": _slot_query(request.GET),
        },
    )


def _slot_query(params) -> str:
    """The calendar slot a booking started from (?start=&practitioner=), checked, to carry on
    to the consultation and course pages; '' when there is none."""
    starts_at = _datetime(params.get("start"))
    user_id = lenient(parse_id, params.get("practitioner"))
    if starts_at is None or user_id is None:
        return ""
    return f"start={timezone.localtime(starts_at):%Y-%m-%dT%H:%M}&practitioner={user_id}"


@role_required(DESK)
def consultation_new(request):
    """A first consultation: the patient found (?patient=) or created here, the area they come
    about, then a free time: booked at once when the booking started from a calendar slot,
    else chosen from the free times the availability engine lists."""
    patient = None
    if patient_id := lenient(parse_id, request.GET.get("patient")):
        patient = get_object_or_404(Patient, pk=patient_id)
        looked_at(request, patient, detail="consultation")
    starts_at = _datetime(request.GET.get("start"))
    slot_practitioner = lenient(parse_id, request.GET.get("practitioner"))
    data = request.POST if request.method == "POST" else None
    slot = {"first_day": timezone.localtime(starts_at).date(), "practitioner": slot_practitioner}
    form = ConsultationForm(data, initial=slot if starts_at else None)
    patient_form = NewPatientForm(data) if patient is None else None
    if data is not None and form.is_valid() and (patient_form is None or patient_form.is_valid()):
        try:
            with transaction.atomic():
                if patient is None:
                    patient = people_services.patient_create(
                        **patient_form.cleaned_data, by=request.user
                    )
                session = treatment_services.consultation_create(
                    patient=patient,
                    body_area=form.cleaned_data["body_area"],
                    on=form.cleaned_data["first_day"],
                    by=request.user,
                )
        except ValidationError as error:
            (patient_form or form).add_error(None, error)
            if patient_form is not None:
                patient = None  # rolled back with the consultation
        else:
            return _consultation_time(request, session, form.cleaned_data, starts_at)
    return render(
        request,
        "scheduling/consultation.html",
        {
            "patient": patient,
            "form": form,
            "patient_form": patient_form,
            "starts_at": starts_at,
            "problems": [],
        },
        status=400 if data is not None else 200,
    )


def _consultation_time(request, session: Session, data: dict, starts_at):
    """Books the consultation at the calendar slot it started from, or lists free times."""
    practitioner = data["practitioner"]
    if starts_at is not None and practitioner:
        try:
            services.session_book(
                session=session,
                starts_at=starts_at,
                practitioner_user_id=practitioner,
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, f"That time could not be booked: {message}")
        else:
            local = timezone.localtime(starts_at)
            messages.success(
                request,
                f"{session.patient.full_name}: consultation booked for "
                f"{local:%A %-d %B %Y at %H:%M}.",
            )
            return redirect(_day_url(local.date()))
    query = f"first_day={data['first_day']:%Y-%m-%d}&days=14"
    if practitioner:
        query += f"&practitioner={practitioner}"
    messages.info(request, f"Choose a time for {session.patient.full_name}'s consultation.")
    return redirect(f"{reverse('scheduling:session_slots', args=[session.pk])}?{query}")


@role_required(DESK)
def course_propose(request, patient_id: int):
    """The desk proposes a course from one of the clinic's templates: the sessions it gives,
    dated from the first day (previewed as the choice changes), then the free times to book
    them. A clinician confirms the course at the patient's screening."""
    patient = get_object_or_404(Patient, pk=patient_id)
    looked_at(request, patient, detail="course proposal")
    form = CourseProposalForm(request.POST if request.method == "POST" else (request.GET or None))
    if request.method == "POST" and form.is_valid():
        try:
            plan = treatment_services.plan_propose(
                patient=patient,
                template=form.cleaned_data["template"],
                first_date=form.cleaned_data["first_date"],
                notes=form.cleaned_data["notes"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"The course was proposed for {patient.full_name}; a clinician confirms it at "
                "the first screening. Now book its sessions.",
            )
            query = f"from={form.cleaned_data['first_date']:%Y-%m-%d}"
            return redirect(f"{reverse('scheduling:course_book', args=[plan.pk])}?{query}")
    context = {"patient": patient, "form": form, "preview": _course_preview(form)}
    if request.htmx:
        return render(request, "scheduling/_course_preview.html", context)
    return render(
        request,
        "scheduling/course_propose.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


def _course_preview(form) -> list[tuple[int, dt.date, object]]:
    """(number, day, level) of each session the chosen template gives from the first day."""
    if not form.is_bound or not form.is_valid():
        return []
    template = form.cleaned_data["template"]
    days = treatment_services.propose_schedule(
        first_date=form.cleaned_data["first_date"],
        session_count=template.session_count,
        interval_days=template.interval_days,
    )
    levels = treatment_services.template_levels(template) or [None] * len(days)
    return [(n, day, level) for n, (day, level) in enumerate(zip(days, levels, strict=True), 1)]


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
