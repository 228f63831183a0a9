"""What the portal shows a patient, read in a fixed number of queries however long the history.

Every read starts from the patient the account belongs to (`people.access.patient_required`),
so no id in a URL can reach another patient's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from photos.models import Comparison, Status
from scheduling.availability import Slot, first_free_days
from scheduling.models import ChangeRequest
from scheduling.notifications import instructions as pre_treatment
from scheduling.services import is_late_cancel, late_cancel_from
from treatments import lifts, screening
from treatments.advice import advice_rules
from treatments.aftercare import (
    Instruction,
    aftercare_for_many,
    aftercare_longest,
    aftercare_rules,
)
from treatments.models import BodyArea, PreSessionCheck, Session, TreatmentPlan

from . import dates

UPCOMING = (Session.Status.BOOKED, Session.Status.CHECKED_IN)


def change_refusal(session: Session, *, now: dt.datetime | None = None) -> str:
    """Why the patient may no longer cancel this session or ask to move it from the portal, in
    words for them; "" while they may: it is booked, has a time, and more notice is left than
    settings.CANCELLATION_NOTICE_HOURS. Past the notice they are asked to call."""
    if session.status != Session.Status.BOOKED or session.starts_at is None:
        status = session.get_status_display().lower()
        return f"This session is {status}; it cannot be cancelled or changed here."
    if is_late_cancel(session, now=now):
        return (
            f"This session starts in less than {settings.CANCELLATION_NOTICE_HOURS} hours. "
            f"Please call us on {settings.CLINIC_PHONE} to cancel or change it."
        )
    return ""


def latest_change_request(session: Session) -> ChangeRequest | None:
    """The patient's latest request about the session, whatever its state (one query)."""
    return ChangeRequest.objects.filter(session=session).select_related("handled_by").first()


@dataclass
class Aftercare:
    """One aftercare instruction in plain words with its last day and the day it ends."""

    text: str
    until: dt.date
    again_from: dt.date
    running: bool

    @property
    def sentence(self) -> str:
        """ "retinoids again from Friday 15 March" or "until Thursday 9 April: protect ..." """
        if self.text.lower().startswith("no "):
            return f"{self.text[3:]} again from {dates.day_name(self.again_from)}"
        return f"until {dates.day_name(self.until)}: {self.text}"

    @property
    def countdown(self) -> str:
        """ "in 3 days" until a "no ..." ends; "5 days left" for something to keep doing."""
        today = timezone.localdate()
        if self.text.lower().startswith("no "):
            return dates.countdown(self.again_from, today=today)
        left = (self.until - today).days + 1
        if left <= 1:
            return "last day today"
        return f"{left} days left"


def aftercare_items(instructions: list[Instruction], today: dt.date) -> list[Aftercare]:
    return [
        Aftercare(
            text=i.text,
            until=i.until,
            again_from=i.until + dt.timedelta(days=1),
            running=i.until >= today,
        )
        for i in instructions
    ]


@dataclass
class ChartPoint:
    number: int
    state: str  # done, missed, next, ahead
    day: dt.date | None
    x: int
    label: str
    short_day: str = ""
    show_date: bool = True
    r: int = 11  # radius; smaller when a long course leaves less room between sessions


@dataclass
class PlanView:
    plan: TreatmentPlan
    sessions: list[Session] = field(default_factory=list)
    next_session: Session | None = None
    points: list[ChartPoint] = field(default_factory=list)

    @property
    def done_x(self) -> int | None:
        """Where the filled part of the chart's line ends: the last session done."""
        done = [p.x for p in self.points if p.state == "done"]
        return max(done) if done else None

    @property
    def last_x(self) -> int:
        return self.points[-1].x if self.points else CHART_PAD

    @property
    def summary(self) -> str:
        done, total = self.plan.sessions_done, self.plan.session_count
        text = f"{done} of {total} sessions done"
        if self.next_session and self.next_session.starts_at:
            text += (
                f"; next: session {self.next_session.number} on "
                f"{dates.day_name(self.next_session.starts_at)} at "
                f"{dates.clock(self.next_session.starts_at)}"
            )
        return text + "."


CHART_WIDTH = 340
CHART_PAD = 20

# What the home page shows however long the history grows: every active course, the latest
# finished ones, the first upcoming sessions in full and the latest comparisons. The rest is
# one link away (the history page, the calendar file, the photos page).
FINISHED_SHOWN = 3
UPCOMING_SHOWN = 6
COMPARISONS_SHOWN = 6


def _chart(view: PlanView, days: dates.Days) -> list[ChartPoint]:
    count = max(len(view.sessions), 1)
    step = (CHART_WIDTH - 2 * CHART_PAD) / max(count - 1, 1)
    radius = max(4, min(11, int(step * 0.42)))
    S = Session.Status
    points = []
    for index, session in enumerate(view.sessions):
        status = session.status
        if status == S.COMPLETED:
            state, word = "done", "done"
        elif status == S.CANCELLED or status == S.NO_SHOW:
            state, word = "missed", "cancelled" if status == S.CANCELLED else "missed"
        elif session is view.next_session:
            state, word = "next", "next"
        else:
            state, word = "ahead", "ahead"
        day = session.day
        points.append(
            ChartPoint(
                number=session.number,
                state=state,
                day=day,
                x=round(CHART_PAD + index * step),
                label=f"Session {session.number}, {days.name(day) or 'date to be set'}: {word}",
                short_day=days.short(day),
                show_date=count <= 7 or index % 2 == 0 or state == "next",
                r=radius + 1 if state == "next" else radius,
            )
        )
    return points


def _plans(patient):
    return (
        TreatmentPlan.objects.for_patient(patient)
        .with_progress()
        .select_related("modality", "body_area", "indication")
        .order_by("-created_at", "-id")  # Meta.ordering does not apply to a GROUP BY
    )


@dataclass
class Overview:
    plans: list[PlanView]
    upcoming: list[Session]
    to_book: list[Session]
    aftercare: list[tuple[Session, list[Aftercare]]]
    comparisons: list[Comparison]
    days: dates.Days
    # What the page leaves to other pages: finished courses, booked sessions past the first
    # few, comparisons past the latest few.
    finished_more: int = 0
    upcoming_more: int = 0
    comparisons_more: bool = False
    # When the clock alone changes what this overview shows (an upcoming session ends, or its
    # notice for cancelling runs out); None when only the date matters.
    true_until: dt.datetime | None = None


def released_comparisons(patient):
    """Comparisons a clinician released, every photo consented for the portal, sheet ready."""
    return (
        Comparison.objects.for_patient(patient)
        .released()
        .filter(sheet_status=Status.READY)
        .order_by("-created_at", "-id")
    )


def overview(patient, *, now: dt.datetime | None = None) -> Overview:
    """The home page, in 5 queries however long the history: plans with progress, aftercare
    rules and their levels, the latest released comparisons, and the sessions the page shows
    (those of the courses it shows, the booked ones, those done recently enough to have
    aftercare running, those of the comparisons' photos)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    days = dates.Days(today)
    S = Session.Status
    plans = {plan.pk: plan for plan in _plans(patient)}
    # A course the desk proposed is the patient's course under way too (a clinician confirms
    # it at the first screening).
    under_way = TreatmentPlan.BOOKABLE_STATUSES
    finished = [p for p in plans.values() if p.status not in under_way]
    shown = {
        plan.pk: PlanView(plan=plan)
        for plan in plans.values()
        if plan.status in under_way or plan in finished[:FINISHED_SHOWN]
    }
    rules = aftercare_rules()
    # A session done before the longest rule began has nothing running (a day's margin for
    # the clinic's zone; the instructions below decide exactly).
    since = now - dt.timedelta(days=aftercare_longest(rules) + 1)
    recent = Q(status=S.COMPLETED) & (Q(starts_at__gte=since) | Q(completed_at__gte=since))
    # The photos' sessions are read with the others: joining them to the comparisons made
    # that the costliest query of the page to plan.
    comparisons = list(
        released_comparisons(patient).select_related("body_area", "before", "after")[
            : COMPARISONS_SHOWN + 1
        ]
    )
    photos = [photo for c in comparisons[:COMPARISONS_SHOWN] for photo in (c.before, c.after)]
    rows = (
        Session.objects.for_patient(patient)
        .filter(
            Q(plan__in=list(shown))
            | Q(status__in=UPCOMING)
            | recent
            | Q(pk__in=[photo.session_id for photo in photos])
        )
        .select_related("practitioner")
        .order_by("plan_id", "number")
    )
    upcoming, to_book, completed = [], [], []
    sessions = {}
    for session in rows:
        sessions[session.pk] = session
        plan = session.plan = plans[session.plan_id]  # loaded above, no query per session
        view = shown.get(plan.pk)
        if view is not None:
            view.sessions.append(session)
        status = session.status
        if status in UPCOMING and session.ends_at and session.ends_at >= now:
            upcoming.append(session)
        elif status == S.PLANNED and plan.status in under_way:
            to_book.append(session)
        elif status == S.COMPLETED:
            completed.append(session)
    upcoming.sort(key=lambda s: s.starts_at)
    for photo in photos:
        photo.session = sessions[photo.session_id]
    for view in shown.values():
        ahead = [s for s in view.sessions if s.status in (*UPCOMING, S.PLANNED)]
        view.next_session = ahead[0] if ahead else None
        view.points = _chart(view, days)
    turning_points = []
    advice = advice_rules() if upcoming else []
    for session in upcoming:
        session.pre_treatment = pre_treatment(session, advice)
        session.changeable = not change_refusal(session, now=now)
        turning_points.append(session.ends_at)
        if session.changeable:
            turning_points.append(late_cancel_from(session))
    instructions = aftercare_for_many(completed, rules)
    aftercare = []
    for session in sorted(completed, key=lambda s: s.day, reverse=True):
        items = [a for a in aftercare_items(instructions[session.pk], today) if a.running]
        if items:
            aftercare.append((session, items))
    return Overview(
        plans=list(shown.values()),
        upcoming=upcoming[:UPCOMING_SHOWN],
        to_book=to_book,
        aftercare=aftercare,
        comparisons=comparisons[:COMPARISONS_SHOWN],
        days=days,
        finished_more=len(finished[FINISHED_SHOWN:]),
        upcoming_more=len(upcoming[UPCOMING_SHOWN:]),
        comparisons_more=len(comparisons) > COMPARISONS_SHOWN,
        true_until=min(turning_points, default=None),
    )


def history(patient) -> list[tuple[Session, list[Aftercare]]]:
    """Completed sessions, newest first, each with its aftercare: 4 queries in all."""
    today = timezone.localdate()
    sessions = list(
        Session.objects.for_patient(patient)
        .filter(status=Session.Status.COMPLETED)
        .select_related(
            "plan__modality", "plan__body_area", "depth_level", "practitioner", "performed_by"
        )
        .prefetch_related(Prefetch("areas", queryset=BodyArea.objects.order_by("name")))
        .order_by("-completed_at", "-starts_at", "-id")
    )
    instructions = aftercare_for_many(sessions)
    return [(s, aftercare_items(instructions[s.pk], today)) for s in sessions]


def own_session(patient, session_id: int) -> Session:
    """One of this patient's sessions, or 404 (someone else's id looks like a missing one)."""
    return get_object_or_404(
        Session.objects.for_patient(patient).select_related(
            "plan__modality",
            "plan__body_area",
            "plan__indication",
            "depth_level",
            "practitioner",
            "performed_by",
            "booking",
        ),
        pk=session_id,
    )


def own_comparison(patient, comparison_id: int) -> Comparison:
    return get_object_or_404(
        released_comparisons(patient).select_related(
            "body_area", "before__session", "after__session", "before__colour", "after__colour"
        ),
        pk=comparison_id,
    )


# Other times offered after an answer that refuses the session: this many, on different days,
# looking this far ahead of the day the finding lifts.
OTHER_TIMES = 3
OTHER_TIMES_DAYS = 42


def patient_check(session: Session) -> PreSessionCheck | None:
    """The patient's own answers before the session, while they stand: the latest check of
    the session, when it is theirs (a clinician's check made since replaces it). Two queries."""
    latest = (
        PreSessionCheck.objects.filter(session=session)
        .prefetch_related("answers")
        .order_by("-checked_at", "-id")
        .first()
    )
    return latest if latest is not None and latest.by_patient else None


def other_times(session: Session, check: PreSessionCheck, *, today: dt.date) -> list[Slot]:
    """Up to OTHER_TIMES free times for the session on days its screening allows with what
    the patient answered (the engine's own data, the answers in it): none when the finding has
    no end we know of (the patient is asked to call)."""
    plan = session.plan
    data = screening.load(patient=session.patient, check=check)
    lifts_on = lifts.first_clear_day(
        data,
        modality=plan.modality,
        depth_level=session.depth_level,
        body_area=plan.body_area,
        start=session.day,
        exclude_session_id=session.pk,
    )
    if lifts_on is None:
        return []
    return first_free_days(
        session,
        first_day=max(lifts_on, today + dt.timedelta(days=1)),
        days=OTHER_TIMES_DAYS,
        count=OTHER_TIMES,
        screening_data=data,
    )
