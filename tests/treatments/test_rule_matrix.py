"""Issue 17, "Done when": every seeded screening rule at every decision point (plan, search,
book, move, check-in, record) and at its window's edges (the day before, the last refused day,
the first allowed day; a DST change; a month end).

The rules are the seeded ones (treatments/migrations/0003 and 0007), read from the database:
each test takes its rule's factor, window, unit, severity, modalities, levels and area scope
from the rule's row, and works out the last refused day and the first allowed day with
treatments/windows.py, so an edit to a seeded rule moves the dates with it. The table below
names the rules (pytest parametrises before the database exists) and says, per rule, what
does not apply; `test_the_table_names_every_seeded_rule` keeps it in step with the data.

Every factor can be written in the medical history, so every rule's window is tried from the
history at every decision point. A factor asked in the day's pre-session check is also tried
from the check, at check-in: the check records that day's state, so it has no window edges.
"Day before the event" is tried at planning only: the history is never dated in the future,
so search, booking, moves, check-in and recording all happen on or after the event's day.

Edges in time: the practitioner works round the clock, so a last refused day is tried at
22:00 and a first allowed day at 00:30 local time, when the UTC date is still the day before
(a date taken in UTC instead of the clinic's would refuse it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from scheduling import availability
from scheduling import services as desk
from tests.records import arrive
from tests.scheduling.factories import PractitionerFactory, RoomFactory
from treatments import gate, services, windows
from treatments.forms import PreSessionCheckForm
from treatments.models import (
    BodyArea,
    DepthLevel,
    Factor,
    Indication,
    Modality,
    Screening,
    ScreeningRule,
    Session,
)
from treatments.serializers import CheckSerializer

from .conftest import INDICATION_FOR

AMS = ZoneInfo("Europe/Amsterdam")
ABSOLUTE = ScreeningRule.Severity.ABSOLUTE


# --- the table ------------------------------------------------------------------------------

HISTORY_ONLY = "not asked in the day's check: found from the history only"


@dataclass(frozen=True)
class Row:
    name: str
    asked_at_check: bool
    note: str = ""


# Every active seeded rule. Decision points: plan, search, book, move, check-in and record,
# each from a history entry at the window's edges. What does not apply is said per rule.
RULES = [
    Row("Active cold sore", True, "same area only: a cold sore around the lips, a face course"),
    Row("Active infection", True, "same area only: an infection around the lips, a face course"),
    Row("Anticoagulants before microneedling", False, HISTORY_ONLY),
    Row("Deep tan or sunbathing", True),
    Row("Isotretinoin in the last 6 months", False, HISTORY_ONLY + "; calendar months"),
    Row("Keloid tendency", False, HISTORY_ONLY + "; microdermabrasion only at Level III"),
    Row("Laser or IPL in the last 7 days", True, "microdermabrasion only"),
    Row("New medicine since the last visit", True),
    Row("Pregnancy", True, "laser and microneedling only: tried on a laser peel"),
    Row("Rosacea flare", True),
    Row("Skincare not stopped before microneedling", True, "microneedling only"),
    Row("Sunburn", True),
    Row("Waxing of the area in the last 7 days", True, "same area only: waxed around the lips"),
]
NAMES = [row.name for row in RULES]


@dataclass(frozen=True)
class Scenario:
    """Where the window's edge falls. `event` gives, for a rule's window, the last day the
    factor was present (an exposure's day; a condition's or medication's end)."""

    id: str
    last_refused: dt.date | None = None  # the window's last refused day lands here
    event_day: dt.date | None = None  # or the event itself is on this day

    def event(self, rule: ScreeningRule) -> dt.date:
        if self.event_day is not None:
            return self.event_day
        return windows.first_day_counted(self.last_refused, rule.window, rule.window_unit)


SCENARIOS = [
    Scenario("ordinary", event_day=dt.date(2026, 3, 4)),
    # Sunday 29 March 2026: clocks go forward (the day has 23 hours); it is the first free day.
    Scenario("dst-spring-first-allowed", last_refused=dt.date(2026, 3, 28)),
    # Sunday 25 October 2026: clocks go back (25 hours); it is the last refused day.
    Scenario("dst-autumn-last-refused", last_refused=dt.date(2026, 10, 25)),
    # Stopped on 31 August: six calendar months run through 28 February, 1 March is free.
    Scenario("month-end", event_day=dt.date(2025, 8, 31)),
    # The same in a leap year: through 29 February 2028.
    Scenario("month-end-leap-year", event_day=dt.date(2027, 8, 31)),
]
EDGES = ["last-refused", "first-allowed"]


@dataclass
class Case:
    """One rule as a test exercises it: the rule, its factor, the course it screens, and the
    dates of its window for the scenario."""

    rule: ScreeningRule
    factor: Factor
    modality: Modality
    level: DepthLevel
    area: BodyArea
    history_area: BodyArea | None
    onset: dt.date  # the first day the factor is present
    event: dt.date  # the last day it is present; the window runs from here
    last_refused: dt.date
    first_allowed: dt.date

    @property
    def absolute(self) -> bool:
        return self.rule.severity == ABSOLUTE

    def day(self, edge: str) -> dt.date:
        return self.last_refused if edge == "last-refused" else self.first_allowed

    def reason(self) -> str:
        return self.rule.reason


# The course a rule is tried on: the first of these the rule concerns.
MODALITY_ORDER = ["microdermabrasion", "laser_peel", "microneedling", "laser_resurfacing"]
DURATION_KINDS = (Factor.Kind.CONDITION, Factor.Kind.MEDICATION)


def case(name: str, scenario: Scenario) -> Case:
    rule = (
        ScreeningRule.objects.select_related("factor")
        .prefetch_related("modalities", "levels")
        .get(name=name, active=True)
    )
    concerned = {m.kind for m in rule.modalities.all()} or set(MODALITY_ORDER)
    modality = Modality.objects.get(kind=next(k for k in MODALITY_ORDER if k in concerned))
    named = sorted(
        (level for level in rule.levels.all() if level.modality_id == modality.pk),
        key=lambda level: level.rank,
    )
    level = named[0] if named else modality.levels.order_by("rank").first()
    event = scenario.event(rule)
    last_refused = windows.last_day_counted(event, rule.window, rule.window_unit)
    if scenario.last_refused is not None:
        assert last_refused == scenario.last_refused, (rule, event, last_refused)
    # A condition or medication was present for a few days and ended on the event's day.
    lasted = dt.timedelta(days=3 if rule.factor.kind in DURATION_KINDS else 0)
    return Case(
        rule=rule,
        factor=rule.factor,
        modality=modality,
        level=level,
        area=BodyArea.objects.get(slug="face"),
        history_area=BodyArea.objects.get(slug="around-lips") if rule.same_area_only else None,
        onset=event - lasted,
        event=event,
        last_refused=last_refused,
        first_allowed=last_refused + dt.timedelta(days=1),
    )


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=AMS)


def starts(c: Case, edge: str) -> dt.datetime:
    """The last refused day late in the evening; the first allowed day just after midnight."""
    return at(c.day(edge), 22) if edge == "last-refused" else at(c.day(edge), 0, 30)


def add_history(c: Case, patient, by):
    ended = c.event if c.factor.kind in DURATION_KINDS else None
    return services.history_add(
        patient=patient,
        factor=c.factor,
        started_on=c.onset,
        ended_on=ended,
        body_area=c.history_area,
        by=by,
    )


def make_plan(c: Case, patient, first_date: dt.date, by):
    return services.plan_create(
        patient=patient,
        indication=Indication.objects.get(slug=INDICATION_FOR[c.modality.kind]),
        body_area=c.area,
        modality=c.modality,
        first_date=first_date,
        session_count=1,
        levels=[c.level],
        by=by,
    )


def rules_found(screening: Screening) -> set[str]:
    return {finding.rule_name for finding in screening.findings.all()}


cases = pytest.mark.parametrize("name", NAMES)
scenarios = pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
edges = pytest.mark.parametrize("edge", EDGES)


# --- the table and the data -----------------------------------------------------------------


def test_the_table_names_every_seeded_rule(db):
    """A rule added to the seed (or retired) is added to (or taken from) the table."""
    seeded = ScreeningRule.objects.filter(active=True).select_related("factor")
    assert sorted(NAMES) == sorted(rule.name for rule in seeded)
    asked = {row.name: row.asked_at_check for row in RULES}
    assert {rule.name: rule.factor.in_pre_session_check for rule in seeded} == asked


@pytest.mark.parametrize(
    ("rule", "window", "last_refused", "first_allowed"),
    [
        ("Isotretinoin in the last 6 months", (6, "months"), "2026-02-28", "2026-03-01"),
        ("Waxing of the area in the last 7 days", (7, "days"), "2025-09-07", "2025-09-08"),
    ],
)
def test_the_month_end_edges_are_calendar_dates(db, rule, window, last_refused, first_allowed):
    """The dates the matrix computes, spelled out once: stopped or waxed on 31 August 2025."""
    c = case(rule, SCENARIOS[3])
    assert (c.rule.window, c.rule.window_unit) == window
    assert (c.last_refused.isoformat(), c.first_allowed.isoformat()) == (
        last_refused,
        first_allowed,
    )


# --- plan -----------------------------------------------------------------------------------


@cases
@scenarios
def test_plan(name, scenario, alice, clinician_user):
    """Planned for the day before the factor began: clear. For the last refused day: an absolute
    rule refuses the plan with its reason and the first allowed day as the first possible start;
    a relative one plans it with the finding in its screening. For the first allowed day:
    planned, clear."""
    c = case(name, scenario)
    with time_machine.travel(at(c.event, 8), tick=False):
        add_history(c, alice, clinician_user)

        before = make_plan(c, alice, c.onset - dt.timedelta(days=1), clinician_user)
        assert before.screenings.get().outcome == Screening.Outcome.CLEAR

        if c.absolute:
            with pytest.raises(services.PlanRefused) as refused:
                make_plan(c, alice, c.last_refused, clinician_user)
            assert refused.value.first_possible == c.first_allowed
            assert c.reason() in refused.value.reasons[0]
            assert refused.value.screening.outcome == Screening.Outcome.BLOCKED
            assert rules_found(refused.value.screening) == {c.rule.name}
        else:
            plan = make_plan(c, alice, c.last_refused, clinician_user)
            screening = plan.screenings.get()
            assert screening.outcome == Screening.Outcome.RELATIVE
            assert rules_found(screening) == {c.rule.name}

        after = make_plan(c, alice, c.first_allowed, clinician_user)
        assert after.screenings.get().outcome == Screening.Outcome.CLEAR


# --- search, book, move ---------------------------------------------------------------------


@pytest.fixture
def practitioner(clinician_user):
    """Carla treats every modality, every day, round the clock, in the one room."""
    RoomFactory(name="Room 1")
    return PractitionerFactory(
        user=clinician_user,
        modalities=list(Modality.objects.all()),
        hours={weekday: (0, 24) for weekday in range(7)},
    )


@cases
@scenarios
@edges
def test_search_and_book(name, scenario, edge, alice, practitioner, front_desk_user):
    """The search offers no time on a day an absolute rule refuses, and says which finding
    blocks it and when it lifts; booking that day is refused with the reason. A relative rule
    leaves the day open and the desk is told at booking. The first allowed day is open from
    its first minute."""
    c = case(name, scenario)
    day = c.day(edge)
    with time_machine.travel(at(c.event, 7), tick=False):
        session = make_plan(c, alice, c.first_allowed, practitioner.user).sessions.get()
        add_history(c, alice, practitioner.user)

        slots = availability.find_slots(
            session=session, first_day=day, last_day=day, practitioner_user_id=practitioner.user_id
        )
        blocks = availability.screening_blocks(session, day, day)

        def book():
            return desk.session_book(
                session=session,
                starts_at=starts(c, edge),
                practitioner_user_id=practitioner.user_id,
                by=front_desk_user,
                notify=False,
            )

        if edge == "last-refused" and c.absolute:
            assert slots == []
            assert [(c.reason() in b.reason, b.lifts_on) for b in blocks] == [
                (True, c.first_allowed)
            ]
            with pytest.raises(ValidationError, match="Refused by screening") as refused:
                book()
            assert c.reason() in str(refused.value)
            session.refresh_from_db()
            assert session.status == Session.Status.PLANNED
            return

        assert slots, f"no slot on {day}"
        assert slots[0].local_start.date() == day
        assert blocks == []
        booked = book()
        assert booked.status == Session.Status.BOOKED
        assert booked.day == day
        warned = [w for w in booked.booking_warnings if c.reason() in w]
        assert len(warned) == (1 if edge == "last-refused" else 0)


@cases
@scenarios
def test_move(name, scenario, alice, practitioner, front_desk_user):
    """A session booked well after the window is moved onto its last refused day (an absolute
    rule refuses; a relative one moves it and flags it for the clinician), then onto its first
    allowed day (moved, no flag)."""
    c = case(name, scenario)
    later = at(c.first_allowed + dt.timedelta(days=14), 10)
    with time_machine.travel(at(c.event, 7), tick=False):
        session = make_plan(c, alice, c.first_allowed, practitioner.user).sessions.get()
        add_history(c, alice, practitioner.user)
        desk.session_book(
            session=session,
            starts_at=later,
            practitioner_user_id=practitioner.user_id,
            by=front_desk_user,
            notify=False,
        )

        def move(edge):
            desk.session_reschedule(session=session, starts_at=starts(c, edge), by=front_desk_user)
            session.refresh_from_db()

        if c.absolute:
            with pytest.raises(ValidationError, match="Refused by screening") as refused:
                move("last-refused")
            assert c.reason() in str(refused.value)
            session.refresh_from_db()
            assert session.starts_at == later
        else:
            move("last-refused")
            assert session.day == c.last_refused
            assert session.flag == Session.Flag.CONFIRM
            assert c.reason() in session.flag_reason
            assert session.flag_lifts_on == c.first_allowed

        move("first-allowed")
        assert session.day == c.first_allowed
        assert session.flag == Session.Flag.NONE


# --- check-in and record --------------------------------------------------------------------


def check_in_and_screen(session, start: dt.datetime, present, by) -> Screening:
    arrive(session, start)
    return services.session_check_and_screen(session=session, present=present, by=by)


def record_or_refuse(c: Case, session, screening: Screening, by) -> None:
    """What the gate does with the day's screening: an absolute finding refuses recording; a
    relative one refuses it until a clinician overrides with a reason; clear records."""
    if screening.outcome == Screening.Outcome.BLOCKED:
        assert gate.state(session).code == gate.State.BLOCKED
        with pytest.raises(ValidationError, match="Screening refused this session"):
            services.session_record(session=session, by=by)
        session.refresh_from_db()
        assert session.status == Session.Status.CHECKED_IN
        return
    if screening.outcome == Screening.Outcome.RELATIVE:
        assert gate.state(session).code == gate.State.CONFIRM
        with pytest.raises(ValidationError, match="relative findings"):
            services.session_record(session=session, by=by)
        screening = services.screening_override(
            screening=screening,
            category="benefit",
            reason="Discussed with the patient, who chose to go ahead today.",
            by=by,
        )
    else:
        assert gate.state(session).code == gate.State.CLEAR
    done = services.session_record(session=session, by=by)
    assert done.status == Session.Status.COMPLETED
    assert done.completed_screening_id == screening.pk
    assert done.day == session.day


@cases
@scenarios
@edges
def test_check_in_and_record(name, scenario, edge, alice, clinician_user):
    """Checked in on the last refused day, the day's screening finds the rule (blocked or a
    relative finding) and recording follows it; on the first allowed day it is clear and the
    session is recorded. The day's check asks nothing here: the history alone decides."""
    c = case(name, scenario)
    day = c.day(edge)
    start = starts(c, edge)
    session = make_plan(c, alice, day, clinician_user).sessions.get()
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        add_history(c, alice, clinician_user)
        screening = check_in_and_screen(session, start, [], clinician_user)
        assert screening.screened_for == day
        if edge == "last-refused":
            expected = Screening.Outcome.BLOCKED if c.absolute else Screening.Outcome.RELATIVE
            assert screening.outcome == expected
            assert rules_found(screening) == {c.rule.name}
        else:
            assert screening.outcome == Screening.Outcome.CLEAR
        record_or_refuse(c, session, screening, clinician_user)


@cases
def test_check_in_from_the_days_check(name, alice, clinician_user):
    """A factor asked in the day's pre-session check fires its rule when ticked, with nothing in
    the history, on a DST day at half past midnight. A factor not asked there (isotretinoin,
    anticoagulants, keloid: they are not day-to-day) is not offered by the check's page or API,
    and comes from the history only (test_check_in_and_record)."""
    row = next(row for row in RULES if row.name == name)
    c = case(name, SCENARIOS[1])
    offered_by_page = PreSessionCheckForm().fields["present"].queryset
    offered_by_api = CheckSerializer().fields["present"].queryset
    if not row.asked_at_check:
        assert not offered_by_page.filter(pk=c.factor.pk).exists()
        assert not offered_by_api.filter(pk=c.factor.pk).exists()
        return
    assert offered_by_page.filter(pk=c.factor.pk).exists()
    assert offered_by_api.filter(pk=c.factor.pk).exists()
    day = c.first_allowed  # 29 March 2026: the window does not matter, the check is the day's
    start = at(day, 0, 30)
    session = make_plan(c, alice, day, clinician_user).sessions.get()
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        screening = check_in_and_screen(session, start, [c.factor], clinician_user)
        assert screening.pre_session_check.checked_on == day
        expected = Screening.Outcome.BLOCKED if c.absolute else Screening.Outcome.RELATIVE
        assert screening.outcome == expected
        assert rules_found(screening) == {c.rule.name}
        record_or_refuse(c, session, screening, clinician_user)
