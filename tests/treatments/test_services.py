"""Plans, overrides, recording and aftercare through the services, without HTTP."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from tests.records import arrive
from treatments import services
from treatments.aftercare import Instruction, aftercare_for, aftercare_for_many
from treatments.models import (
    AftercareRule,
    DepthLevel,
    PreSessionCheck,
    Screening,
    Session,
    TreatmentPlan,
)

from .conftest import at

START = datetime.date(2026, 3, 2)


def test_plan_proposes_a_dated_schedule_with_catalogue_defaults(alice, make_plan, catalogue):
    plan = make_plan(alice, "microdermabrasion", START)
    assert (plan.session_count, plan.interval_days) == (6, 14)
    sessions = list(plan.sessions.order_by("number"))
    assert [s.proposed_date for s in sessions] == [
        START + datetime.timedelta(days=14 * i) for i in range(6)
    ]
    assert {s.depth_level.name for s in sessions} == {"Level I"}
    assert {s.status for s in sessions} == {Session.Status.PLANNED}
    screening = plan.screenings.get()
    assert (screening.occasion, screening.outcome) == ("planning", "clear")
    assert AuditEvent.objects.filter(object_type="treatments.TreatmentPlan").exists()


def test_a_laser_course_rises_superficial_medium_deep(alice, make_plan):
    plan = make_plan(alice, "laser_resurfacing", START, session_count=3)
    levels = [s.depth_level.name for s in plan.sessions.order_by("number")]
    assert levels == ["Superficial", "Medium", "Deep"]
    assert plan.interval_days == 30
    four = make_plan(alice, "laser_resurfacing", START + datetime.timedelta(days=200))
    assert [s.depth_level.rank for s in four.sessions.order_by("number")] == [1, 2, 2, 3]


def test_the_clinician_adjusts_count_interval_and_levels(alice, make_plan, catalogue):
    levels = [catalogue.level("microdermabrasion", rank) for rank in (1, 2, 2, 3, 3)]
    plan = make_plan(
        alice, "microdermabrasion", START, session_count=5, interval_days=21, levels=levels
    )
    sessions = list(plan.sessions.order_by("number"))
    assert sessions[-1].proposed_date == START + datetime.timedelta(days=84)
    assert [s.depth_level.rank for s in sessions] == [1, 2, 2, 3, 3]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"interval_days": 5}, "need at least 7 days between them; 5 is too short"),
        ({"session_count": 2, "levels": "laser"}, "is not a level of Microdermabrasion"),
        ({"session_count": 2, "levels": "one"}, "one level per session"),
    ],
)
def test_wrong_plan_input_is_explained(alice, make_plan, catalogue, changes, message):
    if changes.get("levels") == "laser":
        changes["levels"] = [catalogue.level("laser_resurfacing", 1)] * 2
    elif changes.get("levels") == "one":
        changes["levels"] = [catalogue.level("microdermabrasion", 1)]
    with pytest.raises(ValidationError, match=message):
        make_plan(alice, "microdermabrasion", START, **changes)
    assert not TreatmentPlan.objects.exists()


def test_hormonal_pigmentation_is_not_an_indication(alice, catalogue, clinician_user):
    with pytest.raises(ValidationError, match="not an indication"):
        services.plan_create(
            patient=alice,
            indication=catalogue.indication("hormonal-pigmentation"),
            body_area=catalogue.area("face"),
            modality=catalogue.modality("laser_peel"),
            first_date=START,
            by=clinician_user,
        )
    with pytest.raises(ValidationError, match="not a treatment for blackheads"):
        services.plan_create(
            patient=alice,
            indication=catalogue.indication("blackheads"),
            body_area=catalogue.area("face"),
            modality=catalogue.modality("laser_resurfacing"),
            first_date=START,
            by=clinician_user,
        )


def test_stretch_marks_with_microdermabrasion_are_limited_benefit(alice, catalogue):
    plan = services.plan_create(
        patient=alice,
        indication=catalogue.indication("stretch-marks"),
        body_area=catalogue.area("abdomen"),
        modality=catalogue.modality("microdermabrasion"),
        first_date=START,
    )
    benefit = services.plan_benefit(plan)
    assert benefit.get_benefit_display() == "Limited benefit"
    assert "maintenance" in benefit.note


def check_in(session, by, *present):
    """Checked in now, then the day's check and screening by `by`."""
    arrive(session, timezone.now())
    check = services.pre_session_check_create(session=session, present=list(present), by=by)
    return services.session_screen(session=session, check=check, by=by)


REASON = "Flare is on the chin only, the cheeks are calm"


@time_machine.travel(at(START, 9), tick=False)
def test_only_a_clinician_who_treats_may_override(
    alice, make_plan, catalogue, clinician_user, admin_user
):
    first = make_plan(alice, "microdermabrasion", START).sessions.get(number=1)
    screening = check_in(first, clinician_user, catalogue.factor("rosacea-flare"))
    with pytest.raises(ValidationError, match="Only a clinician who treats may override"):
        services.screening_override(
            screening=screening, category="mild", reason=REASON, by=admin_user
        )
    screening.refresh_from_db()
    assert screening.outcome == Screening.Outcome.RELATIVE
    with pytest.raises(ValidationError, match="relative findings; record why"):
        services.session_record(session=first, by=admin_user)


@time_machine.travel(at(START, 9), tick=False)
def test_override_needs_a_reason_and_is_recorded(alice, make_plan, catalogue, clinician_user):
    plan = make_plan(alice, "microdermabrasion", START)
    first = plan.sessions.get(number=1)
    screening = check_in(first, clinician_user, catalogue.factor("rosacea-flare"))
    assert screening.outcome == Screening.Outcome.RELATIVE
    assert screening.pre_session_check.present.get().slug == "rosacea-flare"
    finding = screening.findings.get()
    assert (finding.rule_name, finding.severity) == ("Rosacea flare", "relative")

    with pytest.raises(ValidationError, match="relative findings; record why"):
        services.session_record(session=first, by=clinician_user)
    with pytest.raises(ValidationError, match="Give the reason"):
        services.screening_override(
            screening=screening, category="mild", reason="   ", by=clinician_user
        )
    with pytest.raises(ValidationError, match="Say in a sentence why"):
        services.screening_override(
            screening=screening, category="mild", reason=".", by=clinician_user
        )
    with pytest.raises(ValidationError, match="Choose why you proceed"):
        services.screening_override(
            screening=screening, category="", reason=REASON, by=clinician_user
        )

    services.screening_override(
        screening=screening, category="mild", reason=REASON, by=clinician_user
    )
    screening.refresh_from_db()
    assert screening.outcome == Screening.Outcome.OVERRIDDEN
    assert screening.override_category == "mild"
    assert screening.override_reason == REASON
    assert screening.overridden_by == clinician_user
    assert screening.overridden_at == at(START, 9)
    with pytest.raises(ValidationError, match="already been overridden"):
        services.screening_override(
            screening=screening, category="mild", reason=REASON, by=clinician_user
        )
    assert AuditEvent.objects.filter(
        object_type="treatments.Screening",
        object_id=str(screening.pk),
        detail=f"override (mild): {REASON}",
    ).exists()
    services.session_record(session=first, by=clinician_user)


@time_machine.travel(at(START, 9), tick=False)
def test_absolute_findings_cannot_be_overridden(alice, make_plan, catalogue, clinician_user):
    first = make_plan(alice, "microdermabrasion", START).sessions.get(number=1)
    screening = check_in(first, clinician_user, catalogue.factor("cold-sore"))
    assert screening.outcome == Screening.Outcome.BLOCKED
    with pytest.raises(ValidationError, match="cannot be overridden"):
        services.screening_override(
            screening=screening, category="benefit", reason=REASON, by=clinician_user
        )
    with pytest.raises(ValidationError, match="Screening refused this session: Active cold"):
        services.session_record(session=first, by=clinician_user)
    first.refresh_from_db()
    assert first.status == Session.Status.CHECKED_IN


@time_machine.travel(at(START, 9), tick=False)
def test_recording_completes_the_session_and_the_course(
    alice, make_plan, catalogue, clinician_user
):
    plan = make_plan(alice, "microdermabrasion", START, session_count=2)
    first, second = plan.sessions.order_by("number")
    with pytest.raises(ValidationError, match="Check the patient in"):
        services.session_record(session=first, by=clinician_user)
    arrive(first, timezone.now())
    with pytest.raises(ValidationError, match="Do the pre-session check and screen"):
        services.session_record(session=first, by=clinician_user)
    check_in(first, clinician_user)  # screened at the course's Level I
    with pytest.raises(
        ValidationError,
        match="screening was for Microdermabrasion Level I, not Microdermabrasion Level II",
    ):
        services.session_record(
            session=first, depth_level=catalogue.level("microdermabrasion", 2), by=clinician_user
        )
    services.session_set_level(session=first, depth_level=catalogue.level("microdermabrasion", 2))
    check_in(first, clinician_user)
    services.session_record(
        session=first,
        depth_level=catalogue.level("microdermabrasion", 2),
        areas=[catalogue.area("face"), catalogue.area("neck")],
        notes="Went well",
        products="Crystal tip, soothing gel",
        by=clinician_user,
    )
    first.refresh_from_db()
    assert first.status == Session.Status.COMPLETED
    assert first.completed_at == at(START, 9)
    assert first.depth_level.name == "Level II"
    assert {a.slug for a in first.areas.all()} == {"face", "neck"}
    assert first.recorded_by == clinician_user
    with pytest.raises(ValidationError, match="is completed"):
        services.session_record(session=first, by=clinician_user)

    progress = TreatmentPlan.objects.with_progress().get(pk=plan.pk)
    assert (progress.sessions_done, progress.sessions_cancelled, progress.sessions_ahead) == (
        1,
        0,
        1,
    )
    Session.objects.filter(pk=second.pk).update(status=Session.Status.CANCELLED)
    services.plan_refresh_status(plan)
    plan.refresh_from_db()
    assert plan.is_complete


def test_a_level_from_another_modality_is_refused_when_recording(
    alice, make_plan, catalogue, clinician_user
):
    first = make_plan(alice, "microdermabrasion", START).sessions.get(number=1)
    with time_machine.travel(at(START, 9), tick=False):
        check_in(first, clinician_user)
        with pytest.raises(ValidationError, match="is not a level of Microdermabrasion"):
            services.session_record(
                session=first,
                depth_level=catalogue.level("laser_peel", 1),
                by=clinician_user,
            )


def record_at(session, moment, by):
    with time_machine.travel(moment, tick=False):
        check_in(session, by)
        return services.session_record(session=session, by=by)


@pytest.mark.parametrize(
    ("moment", "three_days", "four_weeks"),
    [
        # An ordinary day: "until 14 December: no retinoids".
        (
            at(datetime.date(2026, 12, 11), 15),
            datetime.date(2026, 12, 14),
            datetime.date(2027, 1, 8),
        ),
        # Across a month end and a short February.
        (at(datetime.date(2027, 1, 30), 15), datetime.date(2027, 2, 2), datetime.date(2027, 2, 27)),
        # Late on the evening before summer time starts (29 March 2026): still the 28th.
        (
            at(datetime.date(2026, 3, 28), 23, 30),
            datetime.date(2026, 3, 31),
            datetime.date(2026, 4, 25),
        ),
        # Just after midnight on the DST day: UTC is still the 28th, the clinic's day is the 29th.
        (
            at(datetime.date(2026, 3, 29), 0, 30),
            datetime.date(2026, 4, 1),
            datetime.date(2026, 4, 26),
        ),
        # The night winter time returns (25 October 2026).
        (
            at(datetime.date(2026, 10, 25), 1, 30),
            datetime.date(2026, 10, 28),
            datetime.date(2026, 11, 22),
        ),
    ],
)
def test_aftercare_dates_across_month_ends_and_dst(
    alice, make_plan, clinician_user, moment, three_days, four_weeks
):
    plan = make_plan(alice, "microdermabrasion", moment.date(), session_count=1)
    session = record_at(plan.sessions.get(), moment, clinician_user)
    instructions = aftercare_for(session)
    assert Instruction("no retinoids", three_days) in instructions
    assert Instruction("no benzoyl peroxide", three_days) in instructions
    assert (
        Instruction("protect the skin from the sun (SPF 30 or higher)", four_weeks) in instructions
    )
    assert instructions[-1].until == four_weeks  # soonest ending first
    assert str(Instruction("no retinoids", datetime.date(2026, 12, 14))) == (
        "until 14 December: no retinoids"
    )


def test_aftercare_is_per_modality_and_only_for_completed_sessions(
    alice, make_plan, clinician_user, django_assert_num_queries
):
    moment = at(datetime.date(2026, 5, 4), 10)
    laser = make_plan(alice, "laser_resurfacing", moment.date(), session_count=1).sessions.get()
    assert aftercare_for(laser) == []
    laser = record_at(laser, moment, clinician_user)
    texts = {i.text for i in aftercare_for(laser)}
    assert "do not pick the crusts; keep them moist" in texts
    needling = make_plan(
        alice, "microneedling", moment.date() + datetime.timedelta(days=60), session_count=1
    ).sessions.get()
    needling = record_at(needling, moment + datetime.timedelta(days=60), clinician_user)
    texts = {i.text for i in aftercare_for(needling)}
    assert "do not pick the crusts; keep them moist" not in texts
    assert "no make-up, sauna or swimming" in texts
    # Not the laser's day: no microdermabrasion within 7 days after a laser (planning refuses).
    planned = make_plan(
        alice, "microdermabrasion", moment.date() + datetime.timedelta(days=30), session_count=1
    )
    sessions = list(Session.objects.filter(patient=alice).select_related("plan").order_by("id"))
    assert len(sessions) == 3
    # none: each completed session kept its aftercare when it was recorded
    with django_assert_num_queries(0):
        many = aftercare_for_many(sessions)
    assert many == {
        laser.pk: aftercare_for(laser),
        needling.pk: aftercare_for(needling),
        planned.sessions.get().pk: [],
    }


def test_an_aftercare_rule_limited_to_levels_holds_only_after_those_levels(
    alice, session_done, catalogue
):
    day = datetime.date(2026, 5, 4)
    first = session_done(alice, "microneedling", day)
    second = session_done(alice, "microneedling", day + datetime.timedelta(days=30))
    other = DepthLevel.objects.filter(modality=first.depth_level.modality).exclude(
        pk=first.depth_level_id
    )[0]
    Session.objects.filter(pk=second.pk).update(depth_level=other)
    rule = AftercareRule.objects.create(
        modality=first.depth_level.modality, text="no gym for the deep level", days=5
    )
    rule.levels.add(other)
    sessions = list(Session.objects.filter(pk__in=[first.pk, second.pk]).select_related("plan"))
    many = aftercare_for_many(sessions)
    assert rule.text not in {i.text for i in many[first.pk]}
    assert Instruction(rule.text, second.day + datetime.timedelta(days=5)) in many[second.pk]
    for session in sessions:
        assert aftercare_for(session) == many[session.pk]


def test_history_entry_validation(alice, catalogue):
    with pytest.raises(ValidationError, match="Give the day it happened"):
        services.history_add(patient=alice, factor=catalogue.factor("waxing"))
    with pytest.raises(ValidationError, match="cannot be before the start"):
        services.history_add(
            patient=alice,
            factor=catalogue.factor("isotretinoin"),
            started_on=datetime.date(2025, 5, 1),
            ended_on=datetime.date(2025, 4, 1),
        )
    assert not PreSessionCheck.objects.exists()


def test_a_history_change_records_only_the_fields_that_changed(alice, catalogue, clinician_user):
    entry = services.history_add(
        patient=alice, factor=catalogue.factor("keloid"), notes="left cheek", by=clinician_user
    )
    services.history_update(
        entry=entry,
        factor=catalogue.factor("keloid"),
        notes="left cheek, 2019",
        by=clinician_user,
    )
    change = AuditEvent.objects.get(action="change")
    assert (change.detail, change.patient_id) == ("notes", alice.pk)
    entry.refresh_from_db()
    assert entry.notes == "left cheek, 2019"
