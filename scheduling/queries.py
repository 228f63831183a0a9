"""Reads for the desk pages that are not the calendar grid."""

from __future__ import annotations

import datetime as dt

from django.db.models import F

from treatments import gate
from treatments.models import Session
from treatments.queries import patient_answers_for

from .rules import local_midnight

# What the check-in list shows: the day's sessions that hold a time, and its no-shows.
CHECK_IN_SHOWN = (*Session.ACTIVE_STATUSES, Session.Status.NO_SHOW)


def check_in_rows():
    """Sessions with everything a row of the check-in list shows (one query), with
    `confirmed_at`: when the patient confirmed from the reminder, if they did."""
    return (
        Session.objects.filter(status__in=CHECK_IN_SHOWN)
        .select_related("patient", "plan__modality", "practitioner")
        .annotate(confirmed_at=F("booking__confirmed_at"))
        .order_by("starts_at", "pk")
    )


def check_in_list(day: dt.date) -> list[Session]:
    """The check-in list of a local day: one query, so one consistent read (a row changed by
    check-in or no-show is read back by the service, in its transaction), and two more for
    each row's screening state."""
    return with_screening_state(
        list(
            check_in_rows().filter(
                starts_at__gte=local_midnight(day),
                starts_at__lt=local_midnight(day + dt.timedelta(days=1)),
            )
        )
    )


def with_screening_state(sessions: list[Session]) -> list[Session]:
    """Sets `screening_state` (treatments.gate.State) on each row: not screened, clear, a
    relative finding to confirm, or blocked."""
    states = gate.list_states(sessions)
    for session in sessions:
        session.screening_state = states[session.pk]
    return sessions


def with_patient_answers(sessions: list[Session]) -> list[Session]:
    """Sets `patient_answers` (treatments.queries.PatientAnswers or None) on each row: what the
    patient answered in their own check before it (two queries)."""
    answers = patient_answers_for([session.pk for session in sessions])
    for session in sessions:
        session.patient_answers = answers.get(session.pk)
    return sessions


def practitioner_days(practitioner_user_id: int, first_day: dt.date, days: int) -> list[list]:
    """One practitioner's check-in rows for `days` local days from `first_day`, one list per
    day, with each row's screening state and the patient's own answers before it: five
    queries (sessions, the days' screenings and their findings, the patient's checks and
    their answers) however many sessions."""
    rows = with_patient_answers(
        with_screening_state(
            list(
                check_in_rows().filter(
                    practitioner_id=practitioner_user_id,
                    starts_at__gte=local_midnight(first_day),
                    starts_at__lt=local_midnight(first_day + dt.timedelta(days=days)),
                )
            )
        )
    )
    by_day: dict[dt.date, list] = {first_day + dt.timedelta(days=n): [] for n in range(days)}
    for row in rows:
        by_day[row.day].append(row)
    return list(by_day.values())
