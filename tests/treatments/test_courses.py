"""Courses proposed by the desk from the clinic's templates and confirmed by a clinician, and the
first consultation: through the services, without HTTP (the admin excepted)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.records import arrive
from treatments import gate, services
from treatments.aftercare import aftercare_for
from treatments.models import CourseTemplate, Screening, Session, TreatmentPlan

from .conftest import at

START = datetime.date(2026, 3, 2)
LASER = "Laser resurfacing, face: acne scars"


def template(name: str = LASER) -> CourseTemplate:
    return CourseTemplate.objects.get(name=name)


def propose(patient, by, name: str = LASER, first_date: datetime.date = START) -> TreatmentPlan:
    return services.plan_propose(
        patient=patient, template=template(name), first_date=first_date, by=by
    )


@time_machine.travel(at(START, 8), tick=False)
def test_the_desk_proposes_a_course_from_a_template(alice, front_desk_user):
    plan = propose(alice, front_desk_user)

    assert plan.status == TreatmentPlan.Status.PROPOSED
    assert plan.template == template()
    assert plan.confirmed_by is None
    sessions = list(plan.sessions.select_related("depth_level").order_by("number"))
    # The seeded template: four sessions a month apart, depth rising.
    assert [s.proposed_date for s in sessions] == [
        START + datetime.timedelta(days=30 * n) for n in range(4)
    ]
    assert [s.depth_level.name for s in sessions] == ["Superficial", "Medium", "Medium", "Deep"]
    assert plan.screenings.get().occasion == Screening.Occasion.PLANNING


@time_machine.travel(at(START, 8), tick=False)
def test_the_desk_may_propose_but_not_confirm(alice, front_desk_user, admin_user, bob):
    plan = propose(alice, front_desk_user)
    for not_a_clinician in (front_desk_user, admin_user):
        with pytest.raises(ValidationError, match="Only a clinician who treats confirms"):
            services.plan_confirm(plan=plan, by=not_a_clinician)
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.PROPOSED
    # And only those who may propose do: a patient's account may not.
    with pytest.raises(ValidationError, match="may not propose"):
        propose(bob, bob.user)


@time_machine.travel(at(START, 8), tick=False)
def test_a_clinician_confirms_the_proposed_course(alice, front_desk_user, clinician_user):
    plan = propose(alice, front_desk_user)

    services.plan_confirm(plan=plan, by=clinician_user)

    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE
    assert plan.confirmed_by == clinician_user
    assert plan.confirmed_at == timezone.now()
    screening = plan.screenings.filter(screened_by=clinician_user).get()
    assert screening.outcome == Screening.Outcome.CLEAR
    with pytest.raises(ValidationError, match="only a proposed course is confirmed"):
        services.plan_confirm(plan=plan, by=clinician_user)


@time_machine.travel(at(START, 8), tick=False)
def test_an_absolute_finding_refuses_the_confirmation(
    alice, front_desk_user, clinician_user, catalogue
):
    plan = propose(alice, front_desk_user)
    services.history_add(patient=alice, factor=catalogue.factor("cold-sore"), started_on=START)

    with pytest.raises(ValidationError, match="Not confirmed. Refused by screening"):
        services.plan_confirm(plan=plan, by=clinician_user)

    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.PROPOSED
    # The refusing screening is kept, by the clinician who tried.
    refused = plan.screenings.get(screened_by=clinician_user)
    assert refused.outcome == Screening.Outcome.BLOCKED


@time_machine.travel(at(START, 9), tick=False)
def test_a_proposed_course_is_not_treated_before_confirmation(
    alice, front_desk_user, clinician_user
):
    plan = propose(alice, front_desk_user, name="Microdermabrasion, face: dull, dry skin")
    first = arrive(plan.sessions.get(number=1), timezone.now())
    check = services.pre_session_check_create(session=first, present=[], by=clinician_user)
    services.session_screen(session=first, check=check, by=clinician_user)  # clear

    assert gate.state(first).code == gate.State.UNCONFIRMED
    with pytest.raises(ValidationError, match="not confirmed yet"):
        services.session_record(session=first, by=clinician_user)
    first.refresh_from_db()
    assert first.status == Session.Status.CHECKED_IN

    services.plan_confirm(plan=plan, by=clinician_user)
    first = Session.objects.select_related("plan").get(pk=first.pk)
    assert gate.state(first).code == gate.State.CLEAR
    recorded = services.session_record(session=first, by=clinician_user)
    assert recorded.status == Session.Status.COMPLETED


@time_machine.travel(at(START, 8), tick=False)
def test_the_check_in_list_shows_a_proposed_course_as_to_confirm(
    alice, front_desk_user, clinician_user
):
    plan = propose(alice, front_desk_user)
    first = arrive(plan.sessions.get(number=1), timezone.now())
    rows = list(Session.objects.filter(pk=first.pk).select_related("plan"))
    assert gate.list_states(rows)[first.pk].code == gate.State.UNCONFIRMED
    services.plan_confirm(plan=plan, by=clinician_user)
    rows = list(Session.objects.filter(pk=first.pk).select_related("plan"))
    assert gate.list_states(rows)[first.pk].code == gate.State.NOT_SCREENED


@time_machine.travel(at(START, 8), tick=False)
def test_a_stopped_template_is_not_proposed(alice, front_desk_user):
    CourseTemplate.objects.filter(name=LASER).update(active=False)
    with pytest.raises(ValidationError, match="no longer offers"):
        propose(alice, front_desk_user)


def test_template_data_is_edited_in_the_admin(
    client, admin_user, alice, front_desk_user, catalogue
):
    """A clinic admin changes a template's count, interval and one session's level; the next
    proposal follows. A level of another modality is refused in words."""
    client.force_login(admin_user)
    micro = template("Microdermabrasion, face: dull, dry skin")
    url = f"/admin/treatments/coursetemplate/{micro.pk}/change/"
    assert client.get(url).status_code == 200
    level_two = catalogue.level("microdermabrasion", 2)
    form = {
        "name": micro.name,
        "modality": micro.modality_id,
        "body_area": micro.body_area_id,
        "indication": micro.indication_id,
        "session_count": 5,
        "interval_days": 21,
        "active": "on",
        "position": 0,
        "levels-TOTAL_FORMS": 1,
        "levels-INITIAL_FORMS": 0,
        "levels-MIN_NUM_FORMS": 0,
        "levels-MAX_NUM_FORMS": 1000,
        "levels-0-number": 5,
        "levels-0-depth_level": catalogue.level("laser_resurfacing", 1).pk,
    }
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "is not a level of Microdermabrasion" in refused.content.decode()

    form["levels-0-depth_level"] = level_two.pk
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]

    with time_machine.travel(at(START, 8), tick=False):
        plan = propose(alice, front_desk_user, name=micro.name)
    sessions = list(plan.sessions.select_related("depth_level").order_by("number"))
    assert len(sessions) == 5
    assert sessions[1].proposed_date - sessions[0].proposed_date == datetime.timedelta(days=21)
    assert [s.depth_level.rank for s in sessions] == [1, 1, 1, 1, 2]


def test_a_template_below_the_minimum_interval_is_refused(catalogue):
    laser = template()
    laser.interval_days = 7
    with pytest.raises(ValidationError, match="at least 21 days"):
        laser.full_clean()


# --- the first consultation ------------------------------------------------------------------


@time_machine.travel(at(START, 8), tick=False)
def test_a_consultation_is_not_screened_like_a_treatment(
    alice, front_desk_user, clinician_user, catalogue
):
    """A cold sore refuses every treatment but not a talk; the consultation is recorded through
    the same gate (checked in, screened that day), without a level and without aftercare."""
    services.history_add(patient=alice, factor=catalogue.factor("cold-sore"), started_on=START)
    consultation = services.consultation_create(
        patient=alice, body_area=catalogue.area("face"), by=front_desk_user
    )
    assert consultation.plan.modality.kind == "consultation"
    assert consultation.plan.status == TreatmentPlan.Status.ACTIVE
    assert consultation.depth_level is None
    # Asked twice, the desk gets the same consultation back rather than a second one.
    again = services.consultation_create(
        patient=alice, body_area=catalogue.area("face"), by=front_desk_user
    )
    assert again.pk == consultation.pk

    screening = services.session_check_bookable(session=consultation, on=START)
    assert screening.outcome == Screening.Outcome.CLEAR

    with pytest.raises(ValidationError, match="Check the patient in"):
        services.session_record(session=consultation, by=clinician_user)
    arrive(consultation, timezone.now(), minutes=30)
    check = services.pre_session_check_create(session=consultation, present=[], by=clinician_user)
    services.session_screen(session=consultation, check=check, by=clinician_user)
    done = services.session_record(session=consultation, by=clinician_user)
    assert done.status == Session.Status.COMPLETED
    assert aftercare_for(done) == []

    # A treatment the same day is still refused for the cold sore.
    with pytest.raises(ValidationError, match="Refused by screening"):
        propose(alice, front_desk_user)


def test_only_the_desk_books_consultations(alice, clinician_user, catalogue):
    with pytest.raises(ValidationError, match="may not book consultations"):
        services.consultation_create(
            patient=alice, body_area=catalogue.area("face"), by=clinician_user
        )


def test_a_consultation_is_not_planned_as_a_course(alice, make_plan, catalogue, clinician_user):
    with pytest.raises(ValidationError, match="booked on its own"):
        services.plan_create(
            patient=alice,
            indication=catalogue.indication("acne-scars"),
            body_area=catalogue.area("face"),
            modality=catalogue.modality("consultation"),
            first_date=START,
            by=clinician_user,
        )


@time_machine.travel(at(START, 8), tick=False)
def test_the_portal_shows_a_proposed_course_as_under_way(alice, front_desk_user):
    from portal.queries import overview

    plan = propose(alice, front_desk_user)
    seen = overview(alice)
    assert [view.plan.pk for view in seen.plans] == [plan.pk]
    assert seen.finished_more == 0
    assert [s.number for s in seen.to_book] == [1, 2, 3, 4]
