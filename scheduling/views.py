"""The front desk's pages: day calendar (per practitioner or room), week, today's check-in list,
booking from a free slot, booking a course, and moving or cancelling a session."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
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
from people import services as people_services
from people.models import Patient
from treatments import services as treatment_services
from treatments.models import DepthLevel, Session, TreatmentPlan

from . import calendar, inbox, queries, services, waitlist
from .availability import find_slots, screening_blocks
from .forms import (
    BookForm,
    CancelForm,
    ConsultationForm,
    CourseFormSet,
    CourseProposalForm,
    HandleRequestForm,
    NewPatientForm,
    SlotSearchForm,
    WaitlistForm,
    aware,
    practitioner_choices,
)
from .models import ChangeRequest, Practitioner, WaitlistEntry, WaitlistOffer, WaitlistOpening
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


def _calendar(request, span: str):
    """The day or week calendar; htmx asks for the calendar alone (a step, a filter, the
    minute's refresh, the redraw after a drag)."""
    query = calendar.CalendarQuery.from_params(request.GET, span=span)
    context = calendar.calendar_context(query)
    context["can_book"] = request.user.has_perm(DESK)  # a clinician reads the day, books nothing
    looked_at(request, many=context["sessions"], detail=span)
    if request.htmx:
        # The page's view links are outside the calendar: sent along to keep the date.
        return render(request, "scheduling/_day_grid.html", {**context, "oob_nav": True})
    return render(request, f"scheduling/{span}.html", context)


@role_required(*READS_THE_DAY)
def day_view(request):
    return _calendar(request, "day")


@role_required(*READS_THE_DAY)
def week_view(request):
    return _calendar(request, "week")


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
    handle_form=None,
    problems=(),
    problems_title="",
    request_problems=(),
    waitlist_form=None,
    status=200,
):
    local = timezone.localtime(session.starts_at) if session.starts_at else None
    move_form = move_form or BookForm(
        initial={"starts_at": local, "practitioner": session.practitioner_id}
    )
    change_requests = list(
        ChangeRequest.objects.filter(session=session).select_related("handled_by")[:10]
    )
    open_request = next((r for r in change_requests if r.is_open), None)
    return render(
        request,
        "scheduling/session.html",
        {
            "session": session,
            "booking": getattr(session, "booking", None) if session.pk else None,
            "move_form": move_form,
            "cancel_form": cancel_form or CancelForm(),
            "handle_form": handle_form or HandleRequestForm(),
            "open_request": open_request,
            "past_requests": [r for r in change_requests if r is not open_request],
            "waitlist_entry": waitlist.waiting_entry(session) if session.pk else None,
            "waitlist_form": waitlist_form or WaitlistForm(),
            "problems": problems,
            "request_problems": request_problems,
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
        if request.htmx:
            problems = [
                f"{form.fields[name].label or name.capitalize()}: {error}"
                if name in form.fields
                else error
                for name, errors in form.errors.items()
                for error in errors
            ]
            return _move_refused(request, problems)
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
        if request.htmx:
            return _move_refused(request, error.messages)
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
    who = session.practitioner.get_full_name() or session.practitioner.get_username()
    done = f"Session moved to {local:%A %-d %B %Y at %H:%M} with {who}."
    if request.htmx:
        # A drag on the calendar: it redraws itself and shows this where the session was.
        return render(request, "scheduling/_moved.html", {"message": done, "warnings": warnings})
    messages.success(request, f"Session moved to {local:%A %-d %B %Y at %H:%M}.")
    for warning in warnings:
        messages.warning(request, warning)
    return redirect(_day_url(local.date()))


def _move_refused(request, problems: list[str]):
    """A refused drag: the reasons, for the calendar to show where the session was dropped."""
    return render(
        request,
        "scheduling/_problems.html",
        {"problems": problems, "problems_title": "This session cannot move there:"},
        status=400,
    )


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


@require_POST
@role_required(DESK)
def request_handle(request, session_id: int):
    """The desk answers the session's open request without moving or cancelling it: declines a
    change request with a note, or marks a cancellation handled."""
    session = _session(session_id)
    form = HandleRequestForm(request.POST)
    open_request = ChangeRequest.objects.open().filter(session=session).first()
    if open_request is None:
        looked_at(request, session)
        return _session_page(
            request,
            session,
            request_problems=["This session has no open request: it was handled or withdrawn."],
            status=400,
        )
    if not form.is_valid():
        looked_at(request, session)
        return _session_page(request, session, handle_form=form, status=400)
    try:
        handled = services.change_request_handle(
            change_request=open_request,
            note=form.cleaned_data["note"],
            by=request.user,
            request=request,
        )
    except ValidationError as error:
        looked_at(request, session)
        return _session_page(
            request, session, handle_form=form, request_problems=error.messages, status=400
        )
    told = " The patient was emailed your note." if handled.note else ""
    messages.success(
        request, f"{handled.get_kind_display()} of {session.patient.full_name} handled.{told}"
    )
    return redirect("scheduling:session", session.pk)


def _inbox_filters(request) -> tuple[str | None, str, list[str]]:
    """The kind and state asked for, and what was wrong with them (the defaults then serve)."""
    kinds = {source.kind for source in inbox.sources()}
    problems = []
    kind = request.GET.get("kind") or None
    if kind is not None and kind not in kinds:
        problems.append(f"There is no kind of item called {kind[:40]!r}; showing every kind.")
        kind = None
    state = request.GET.get("state") or inbox.NEW
    if state not in inbox.STATES:
        problems.append(f"Choose new, handled or all, not {state[:40]!r}; showing new items.")
        state = inbox.NEW
    return kind, state, problems


def _inbox_page(request, *, kind, state, problems=(), status=200):
    items = inbox.items(kind=kind, state=None if state == "all" else state)
    looked_at(request, many=[item.record for item in items if item.record is not None])
    return render(
        request,
        "scheduling/inbox.html",
        {
            "items": items,
            "sources": inbox.sources(),
            "kind": kind or "",
            "state": state,
            "states": inbox.STATES,
            "problems": problems,
            "limit": inbox.PAGE_ITEMS,
        },
        status=status,
    )


@role_required(DESK)
def inbox_view(request):
    """What needs the desk: patients' requests, flagged sessions, unsent emails, and what other
    parts plug in (scheduling/inbox.py), newest first, filtered by kind and state."""
    kind, state, problems = _inbox_filters(request)
    return _inbox_page(
        request, kind=kind, state=state, problems=problems, status=400 if problems else 200
    )


@role_required(DESK)
def inbox_count(request):
    """The badge beside the desk's Inbox link, loaded by htmx so no page pays for it."""
    return render(request, "scheduling/_inbox_count.html", {"count": inbox.new_count()})


@require_POST
@role_required(DESK)
def inbox_mark(request):
    """Marks a flagged session or an unsent email handled; back to the same filters."""
    kind, state, _ = _inbox_filters(request)
    object_id = lenient(parse_id, request.POST.get("id"))
    try:
        if object_id is None:
            raise ValidationError("Choose an item of the inbox to mark as handled.")
        inbox.item_mark_handled(
            kind=request.POST.get("item_kind", ""), object_id=object_id, by=request.user
        )
    except ValidationError as error:
        return _inbox_page(request, kind=kind, state=state, problems=error.messages, status=400)
    messages.success(request, "Marked as handled.")
    query = "&".join(f"{k}={v}" for k, v in (("kind", kind), ("state", state)) if v)
    return redirect(f"{reverse('scheduling:inbox')}?{query}")


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
    # The treatment the calendar showed this time free for (its length and resources).
    level = None
    if level_id := lenient(parse_id, request.GET.get("treatment")):
        level = DepthLevel.objects.select_related("modality").filter(pk=level_id).first()
    return render(
        request,
        "scheduling/book_start.html",
        {"starts_at": starts_at, "practitioner": practitioner, "level": level},
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
        first_date = form.cleaned_data["first_date"]
        book_now = request.POST.get("then") == "book"
        booked, unplaced = None, []
        try:
            with transaction.atomic():
                plan = treatment_services.plan_propose(
                    patient=patient,
                    template=form.cleaned_data["template"],
                    first_date=first_date,
                    notes=form.cleaned_data["notes"],
                    by=request.user,
                )
                if book_now:
                    booked, unplaced = services.course_book_first_free(
                        plan=plan, first_day=first_date, by=request.user, request=request
                    )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _proposed(request, plan, first_date, booked, unplaced)
    context = {"patient": patient, "form": form, "preview": _course_preview(form)}
    if request.htmx:
        return render(request, "scheduling/_course_preview.html", context)
    return render(
        request,
        "scheduling/course_propose.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


def _proposed(request, plan, first_date: dt.date, booked=None, unplaced=()):
    """Where the desk goes once a course is proposed: the day of its first booking when the
    sessions were booked at once, else the course's booking page to pick the times."""
    confirm = "a clinician confirms the course at the first screening"
    patient = plan.patient.full_name
    if booked:
        first = timezone.localtime(booked[0].starts_at)
        messages.success(
            request,
            f"Course proposed and {len(booked)} sessions booked for {patient}, from "
            f"{first:%A %-d %B %Y}; {confirm}. Instructions were emailed.",
        )
        if not unplaced:
            return redirect(_day_url(first.date()))
        messages.warning(
            request,
            f"No free time was found for {len(unplaced)} session(s): choose their times here.",
        )
    else:
        if booked is not None:
            messages.warning(request, "No free time was found; choose the times by hand.")
        messages.success(request, f"The course was proposed for {patient}; {confirm}.")
    query = f"from={first_date:%Y-%m-%d}"
    return redirect(f"{reverse('scheduling:course_book', args=[plan.pk])}?{query}")


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


# --- the waiting list ---------------------------------------------------------------------

WAITLIST_PAGE = 50
OPENINGS_SHOWN = 20


@role_required(DESK)
def waitlist_list(request):
    """Who waits for which session (in the order offers go out) and the freed times offered
    lately with each offer's state: a fixed number of queries however long the list."""
    waiting = waitlist.waiting_entries().prefetch_related(
        Prefetch(
            "offers",
            queryset=WaitlistOffer.objects.select_related("opening").order_by("-sent_at"),
        )
    )
    page = Paginator(waiting, WAITLIST_PAGE).get_page(request.GET.get("page"))
    openings = list(
        WaitlistOpening.objects.select_related("practitioner").prefetch_related(
            Prefetch(
                "offers",
                queryset=WaitlistOffer.objects.select_related(
                    "entry__patient", "entry__session"
                ).order_by("entry__created_at", "id"),
            )
        )[:OPENINGS_SHOWN]
    )
    entries = list(page.object_list)
    offers = [offer for opening in openings for offer in opening.offers.all()]
    looked_at(request, many=[*entries, *offers], detail="waiting list")
    return render(
        request,
        "scheduling/waitlist.html",
        {
            "page": page,
            "entries": entries,
            "rank_from": page.start_index(),
            "openings": openings,
            "now": timezone.now(),
        },
    )


@require_POST
@role_required(DESK)
def waitlist_add(request, session_id: int):
    session = _session(session_id)
    looked_at(request, session, detail="waiting list")
    form = WaitlistForm(request.POST)
    if not form.is_valid():
        return _session_page(request, session, waitlist_form=form, status=400)
    try:
        waitlist.entry_add(session=session, by=request.user, request=request, **form.window())
    except ValidationError as error:
        return _session_page(
            request, session, waitlist_form=form, problems=error.messages, status=400
        )
    messages.success(
        request,
        f"{session.patient.full_name} is on the waiting list for session {session.number}. "
        "Freed times that fit are offered by email.",
    )
    return redirect("scheduling:session", session.pk)


@require_POST
@role_required(DESK)
def waitlist_remove(request, waitlist_id: int):
    entry = get_object_or_404(WaitlistEntry.objects.select_related("session"), pk=waitlist_id)
    try:
        waitlist.entry_withdraw(entry=entry, by=request.user, request=request)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        # No name: the page it lands on no longer lists the entry, nor audits a look at it.
        messages.success(request, f"Session {entry.session.number} was taken off the waiting list.")
    return redirect("scheduling:waitlist")


def waitlist_offer(request, token: str):
    """The link in an offer's email: the offer, and a button that books it. It needs no
    sign-in (the signed link is the key, and it reaches this one offer only); a signed-in
    patient who is not the offer's own is refused. GET never books: mail scanners open
    links."""
    offer = waitlist.offer_for_token(token)
    if offer is None or request.method not in ("GET", "HEAD", "POST"):
        raise Http404
    patient = offer.entry.patient
    user = request.user
    if user.is_authenticated and user.has_perm("people.use_portal") and user.pk != patient.user_id:
        raise Http404
    actor = user if user.is_authenticated else patient.user
    looked_at(request, offer, actor=actor, detail="waiting list offer link")
    answer, status = None, 200
    if request.method == "POST":
        answer = waitlist.offer_accept(offer=offer, by=actor, request=request)
        status = 200 if answer.booked else 409
        offer.refresh_from_db()
    closed = "" if answer else waitlist.offer_state_words(offer)
    if not answer and not closed and not waitlist.offer_still_free(offer):
        closed = waitlist.GONE
    return render(
        request,
        "scheduling/waitlist_offer.html",
        {"offer": offer, "patient": patient, "answer": answer, "closed": closed},
        status=status,
    )
