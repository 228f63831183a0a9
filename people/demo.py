"""The demo clinic's people: one login per role and a few patients. Safe to load twice."""

from __future__ import annotations

from datetime import date, time, timedelta

from django.contrib.auth import get_user_model

from .models import Patient
from .roles import Role, assign_role

DEMO_PASSWORD = "clinic-demo-2026"

# The demo clinic opens Monday to Friday, 9 to 17: scheduling.demo gives the practitioners
# these hours, and treatments.demo dates the sessions already done on these days.
OPENING_WEEKDAYS = range(5)
OPENING_HOURS = (time(9), time(17))


def opening_day_on_or_before(day: date) -> date:
    while day.weekday() not in OPENING_WEEKDAYS:
        day -= timedelta(days=1)
    return day


DEMO_STAFF = [
    ("frontdesk", "Fenna", "de Vries", Role.FRONT_DESK),
    ("clinician", "Carla", "Jansen", Role.CLINICIAN),
    ("clinician2", "Daan", "Bakker", Role.CLINICIAN),
    ("admin", "Anouk", "Visser", Role.CLINIC_ADMIN),
]

# (username or None, first, last, date of birth, phone, email)
DEMO_PATIENTS = [
    ("alice", "Alice", "Smit", date(1988, 4, 12), "+31 6 1234 5678", "alice@example.com"),
    ("bob", "Bob", "Mulder", date(1975, 11, 3), "+31 6 8765 4321", "bob@example.com"),
    (None, "Chloé", "Peeters", date(1992, 7, 21), "+31 6 2222 3333", "chloe@example.com"),
    (None, "Dirk", "Hendriks", date(1969, 2, 8), "+31 6 4444 5555", ""),
]


def _user(username: str, first_name: str, last_name: str, email: str = ""):
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"first_name": first_name, "last_name": last_name, "email": email},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def load() -> list[tuple[str, str]]:
    """Returns every demo login as (role name, username)."""
    logins: list[tuple[str, str]] = []
    for username, first, last, role in DEMO_STAFF:
        assign_role(_user(username, first, last, f"{username}@clinic.example"), role)
        logins.append((role.value, username))
    for username, first, last, born, phone, email in DEMO_PATIENTS:
        user = None
        if username:
            user = _user(username, first, last, email)
            assign_role(user, Role.PATIENT)
            logins.append((Role.PATIENT.value, username))
        Patient.objects.update_or_create(
            first_name=first,
            last_name=last,
            date_of_birth=born,
            defaults={"phone": phone, "email": email, "user": user},
        )
    return logins
