"""The drawn day grid is cached under the calendar version: a committed change retires it,
the passing quarter hour redraws today's free cells, and signing in changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from core import versions
from scheduling import calendar
from scheduling.models import WorkingHours
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory

DAY = dt.date(2026, 3, 2)


def test_a_committed_booking_retires_the_drawn_grid(clinic, front_desk_user, committed):
    before = calendar.rendered_day_grid(DAY)
    assert "Alice" not in before
    with committed():
        book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    after = calendar.rendered_day_grid(DAY)
    assert "10:00 Alice Smit" in after
    assert 'aria-label="Book 10:00 with' in before and 'aria-label="Book 10:00 with' not in after


def test_until_the_booking_commits_the_drawn_grid_stands(clinic, front_desk_user):
    before = calendar.rendered_day_grid(DAY)
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)  # not committed yet
    assert calendar.rendered_day_grid(DAY) == before


def test_a_second_look_draws_nothing(clinic, django_assert_num_queries):
    calendar.rendered_day_grid(DAY)
    with django_assert_num_queries(1):  # the calendar version
        calendar.rendered_day_grid(DAY)


def test_with_a_shared_cache_a_second_look_reads_no_table(
    shared_cache, clinic, django_assert_num_queries
):
    calendar.rendered_day_grid(DAY)
    with django_assert_num_queries(0):  # the version is a token in the cache
        calendar.rendered_day_grid(DAY)


def test_with_a_shared_cache_a_committed_booking_retires_the_grid(
    shared_cache, clinic, front_desk_user, committed
):
    before = calendar.rendered_day_grid(DAY)
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    assert calendar.rendered_day_grid(DAY) == before  # not committed yet
    other = PlanFactory(modality=clinic.micro, session_count=1).sessions.get()
    with committed():
        book(clinic, other, at(2, 14), front_desk_user)
    after = calendar.rendered_day_grid(DAY)
    assert "10:00 Alice Smit" in after
    assert f"14:00 {other.patient.full_name}" in after


def test_with_a_shared_cache_a_lost_token_means_a_fresh_grid(shared_cache, clinic, front_desk_user):
    from django.core.cache import cache

    calendar.rendered_day_grid(DAY)
    book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)  # no commit, no new token
    cache.delete(versions.token_key(versions.CALENDAR))  # evicted
    assert "10:00 Alice Smit" in calendar.rendered_day_grid(DAY)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda c: (
                c.sessions[0].patient.__class__.objects.get(pk=c.sessions[0].patient_id).save()
            ),
            id="patient saved",
        ),
        pytest.param(
            lambda c: WorkingHours.objects.filter(practitioner=c.carla).first().save(),
            id="working hours saved",
        ),
        pytest.param(lambda c: c.rooms[1].delete(), id="room deleted"),
    ],
)
def test_what_a_grid_shows_retires_it_when_it_changes(clinic, committed, change):
    calendar.rendered_day_grid(DAY)
    version = calendar.calendar_version()
    with committed():
        change(clinic)
    assert calendar.calendar_version() > version


def test_a_renamed_patient_shows_on_the_next_look(clinic, front_desk_user, committed):
    with committed():
        book(clinic, clinic.sessions[0], at(2, 10), front_desk_user)
    assert "Alice Smit" in calendar.rendered_day_grid(DAY)
    patient = clinic.sessions[0].patient
    patient.first_name = "Alicia"
    with committed():
        patient.save()
    assert "10:00 Alicia Smit" in calendar.rendered_day_grid(DAY)


def test_signing_in_leaves_the_version_alone(clinic, client, front_desk_user, committed):
    version = calendar.calendar_version()
    with committed():
        client.force_login(front_desk_user)  # saves last_login
    assert calendar.calendar_version() == version


def test_free_cells_pass_into_the_past_with_the_quarter_hour(clinic):
    nine = at(2, 9)
    early = calendar.rendered_day_grid(DAY, now=nine - dt.timedelta(minutes=1))
    assert 'aria-label="Book 09:00 with' in early
    later = calendar.rendered_day_grid(DAY, now=nine + dt.timedelta(minutes=1))
    assert 'aria-label="Book 09:00 with' not in later
    assert 'aria-label="Book 09:15 with' in later


def test_the_quarter_hour_only_matters_around_the_day():
    day = dt.date(2026, 3, 10)
    week_before = at(2, 11)
    assert calendar._quarter_hour_key(day, week_before) == "before"
    assert calendar._quarter_hour_key(day, at(2, 11, 5)) == "before"
    assert calendar._quarter_hour_key(day, at(20, 11)) == "after"
    same_quarter = {calendar._quarter_hour_key(day, at(10, 11, m)) for m in (1, 7, 14)}
    assert len(same_quarter) == 1
    assert calendar._quarter_hour_key(day, at(10, 11, 16)) not in same_quarter
