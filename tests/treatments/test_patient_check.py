"""The patient's own check before a session (issue 22): answers kept as answered, screened by
the one engine for the session's day; an absolute finding flags the session for the desk, a
relative one is only shown to the clinician, and the clinician still makes the day's check."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from scheduling import inbox
from tests.portal.conftest import AMS, make_course
from tests.records import arrive
from tests.scheduling.factories import PractitionerFactory
from treatments import gate, services
from treatments.models import (
    Factor,
    PreSessionAnswer,
    PreSessionCheck,
    Screening,
    Session,
)
from treatments.services import PatientAnswer

# Saturday 21 March 2026, 10:00: two days before session 4 (Monday 23 March, 10:00).
ANSWERED = dt.datetime(2026, 3, 21, 10, 0, tzinfo=AMS)
DAY = dt.date(2026, 3, 23)


@pytest.fixture
def session(time_machine, alice, clinician_user):
    time_machine.move_to(ANSWERED, tick=False)
    carla = PractitionerFactory(user=clinician_user)
    plan = make_course(alice, practitioner=carla.user)
    booked = plan.sessions.get(number=4)
    assert booked.status == Session.Status.BOOKED and booked.day == DAY
    return booked


def yes(session, **days) -> list[PatientAnswer]:
    """Yes to the named factors (slug with underscores) with their days, no to the rest."""
    slugs = {slug.replace("_", "-"): day for slug, day in days.items()}
    return [
        PatientAnswer(factor=factor, answer=factor.slug in slugs, day=slugs.get(factor.slug))
        for factor in services.patient_check_factors(session)
    ]


def test_the_questions_are_the_catalogues_day_to_day_factors_that_concern_the_session(session):
    slugs = {factor.slug for factor in services.patient_check_factors(session)}
    # Microdermabrasion: the laser/IPL rule and the cold-sore rule concern it ...
    assert {"cold-sore", "waxing", "tan", "laser-ipl", "new-medicine"} <= slugs
    # ... no rule about pregnancy or skincare before needling does.
    assert "pregnancy" not in slugs and "retinoids" not in slugs
    # A factor the admin takes out of the day's check is no longer asked.
    Factor.objects.filter(slug="tan").update(in_pre_session_check=False)
    assert "tan" not in {f.slug for f in services.patient_check_factors(session)}


def test_a_cold_sore_flags_the_session_for_the_desk_until_it_would_have_healed(session, alice):
    screening = services.patient_check_answer(
        session=session, answers=yes(session, cold_sore=dt.date(2026, 3, 20)), by=alice.user
    )
    session.refresh_from_db()
    assert session.flag == Session.Flag.BLOCKED
    assert "Active cold sore" in session.flag_reason
    assert "as the patient answered on 21 March" in session.flag_reason
    # Seeded: a reported cold sore is taken to last 10 days (20-29 March).
    assert session.flag_lifts_on == dt.date(2026, 3, 30)
    # The same engine, for the session's own day, kept with the session.
    assert screening.occasion == Screening.Occasion.PRE_VISIT
    assert screening.screened_for == DAY and screening.session == session
    assert screening.outcome == Screening.Outcome.BLOCKED
    # The desk's inbox lists it among the flagged sessions.
    flagged = inbox.items(kind="flagged")
    assert [item.object_id for item in flagged] == [session.pk]


def test_a_relative_answer_is_kept_for_the_clinician_without_flagging(session, alice):
    screening = services.patient_check_answer(
        session=session, answers=yes(session, new_medicine=dt.date(2026, 3, 1)), by=alice.user
    )
    session.refresh_from_db()
    assert session.flag == Session.Flag.NONE
    assert screening.outcome == Screening.Outcome.RELATIVE
    assert inbox.items(kind="flagged") == []
    check = PreSessionCheck.objects.get(session=session, source=PreSessionCheck.Source.PATIENT)
    assert [f.slug for f in check.present.all()] == ["new-medicine"]


def test_waxing_counts_from_the_day_given_through_its_window(session, alice):
    # Waxed on 10 March: the 7-day window runs through 17 March, the session is on the 23rd.
    services.patient_check_answer(
        session=session, answers=yes(session, waxing=dt.date(2026, 3, 10)), by=alice.user
    )
    session.refresh_from_db()
    assert session.flag == Session.Flag.NONE
    # Waxed on 18 March, answered again: it counts through 25 March.
    services.patient_check_answer(
        session=session, answers=yes(session, waxing=dt.date(2026, 3, 18)), by=alice.user
    )
    session.refresh_from_db()
    assert session.flag == Session.Flag.BLOCKED
    assert session.flag_lifts_on == dt.date(2026, 3, 26)


def test_what_was_answered_is_kept_as_answered(session, alice):
    services.patient_check_answer(
        session=session, answers=yes(session, cold_sore=dt.date(2026, 3, 20)), by=alice.user
    )
    cold_sore = Factor.objects.get(slug="cold-sore")
    asked = cold_sore.patient_question
    cold_sore.patient_question = "Any blisters?"
    cold_sore.reported_lasts_days = 3
    cold_sore.save()
    answer = PreSessionAnswer.objects.get(factor=cold_sore)
    assert (answer.question, answer.answer, answer.day) == (asked, True, dt.date(2026, 3, 20))
    assert answer.until == dt.date(2026, 3, 29)  # as decided when answered
    waxing = PreSessionAnswer.objects.get(factor__slug="waxing")
    assert (waxing.answer, waxing.day, waxing.until) == (False, None, None)


@pytest.mark.parametrize(
    ("day", "says"),
    [(None, "Please give the day"), (dt.date(2026, 3, 22), "still to come")],
    ids=["missing day", "future day"],
)
def test_a_yes_needs_a_day_up_to_today(session, alice, day, says):
    with pytest.raises(ValidationError) as refused:
        services.patient_check_answer(
            session=session, answers=yes(session, waxing=day), by=alice.user
        )
    assert says in refused.value.message_dict["waxing"][0]
    assert not PreSessionCheck.objects.filter(session=session).exists()


def test_every_question_needs_an_answer(session, alice):
    with pytest.raises(ValidationError, match="answer every question"):
        services.patient_check_answer(session=session, answers=yes(session)[1:], by=alice.user)
    assert not PreSessionCheck.objects.exists()


def test_only_a_booked_session_ahead_is_answered_for(session, alice):
    done = session.plan.sessions.get(number=3)
    with pytest.raises(ValidationError, match="nothing to answer"):
        services.patient_check_answer(session=done, answers=yes(done), by=alice.user)


def test_the_flag_outlives_a_change_of_history_and_yields_to_the_clinicians_check(
    session, alice, clinician_user, time_machine
):
    services.patient_check_answer(
        session=session, answers=yes(session, cold_sore=dt.date(2026, 3, 20)), by=alice.user
    )
    # Something else changes what screening reads: the patient's answer still stands.
    services.history_add(
        patient=alice,
        factor=Factor.objects.get(slug="keloid"),
        started_on=dt.date(2020, 1, 1),
        by=clinician_user,
    )
    session.refresh_from_db()
    assert session.flag == Session.Flag.BLOCKED and "Active cold sore" in session.flag_reason
    # On the day the clinician looks: the cold sore has healed. Their check replaces the answer.
    time_machine.move_to(dt.datetime(2026, 3, 23, 10, 5, tzinfo=AMS), tick=False)
    arrive(session, dt.datetime(2026, 3, 23, 10, 0, tzinfo=AMS))
    session.refresh_from_db()
    screening = services.session_check_and_screen(session=session, present=[], by=clinician_user)
    session.refresh_from_db()
    assert session.flag == Session.Flag.NONE
    assert screening.outcome == Screening.Outcome.CLEAR
    assert gate.screening_for_treatment(session, depth_level=session.depth_level) == screening


def test_the_patients_answers_never_allow_a_session(session, alice, time_machine):
    services.patient_check_answer(session=session, answers=yes(session), by=alice.user)
    time_machine.move_to(dt.datetime(2026, 3, 23, 10, 5, tzinfo=AMS), tick=False)
    arrive(session, dt.datetime(2026, 3, 23, 10, 0, tzinfo=AMS))
    session.refresh_from_db()
    with pytest.raises(ValidationError, match="Do the pre-session check"):
        gate.screening_for_treatment(session, depth_level=session.depth_level)


def test_answers_are_audited_with_the_patient_as_actor(session, alice):
    services.patient_check_answer(
        session=session, answers=yes(session, cold_sore=dt.date(2026, 3, 20)), by=alice.user
    )
    created = AuditEvent.objects.filter(actor=alice.user, detail__startswith="patient's answers")
    assert created.get().patient_id == alice.pk
    assert "cold-sore yes" in created.get().detail
    assert AuditEvent.objects.filter(
        actor=alice.user, patient_id=alice.pk, detail="flagged: blocked"
    ).exists()


def test_the_clinician_reads_the_patients_answers(
    session, alice, client, clinician_user, time_machine
):
    services.patient_check_answer(
        session=session, answers=yes(session, cold_sore=dt.date(2026, 3, 20)), by=alice.user
    )
    said = "Patient answered on 21 March: Active cold sore (herpes), since 20 March; no to the"
    # On the day: in the clinician's own list, and at the session's pre-session check.
    time_machine.move_to(dt.datetime(2026, 3, 23, 8, 0, tzinfo=AMS), tick=False)
    client.force_login(clinician_user)
    assert said in client.get(reverse("clinical_home")).content.decode()
    page = client.get(reverse("treatments:session_detail", args=[session.pk])).content.decode()
    assert said in page


def test_a_dated_question_for_patients_must_ask_for_its_day(db):
    waxing = Factor.objects.get(slug="waxing")
    waxing.patient_date_question = ""
    with pytest.raises(ValidationError) as refused:
        waxing.full_clean()
    assert "patient_date_question" in refused.value.message_dict


def test_only_the_sessions_own_patient_answers_for_it(session, bob):
    with pytest.raises(ValidationError, match="not your session"):
        services.patient_check_answer(session=session, answers=yes(session), by=bob.user)
    assert not PreSessionCheck.objects.exists()
