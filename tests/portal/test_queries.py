"""Each portal page takes the same number of queries however long a patient's history grows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.services import AUDIT_WRITES
from treatments.models import Session

from .conftest import AMS, add_comparison, make_course


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.fixture
def grow(alice, carla, django_capture_on_commit_callbacks):
    """Adds an older finished course of 10 sessions with a released comparison."""
    starts = iter(range(1, 10))

    def more():
        first = dt.datetime(2024, next(starts), 1, 10, 0, tzinfo=AMS)
        # Run as if committed: the sheet task is sent, the patient's record version raised.
        with django_capture_on_commit_callbacks(execute=True):
            plan = make_course(alice, practitioner=carla, first=first, count=10, done=10, booked=0)
            plan.sessions.filter(number=10).update(status=Session.Status.CANCELLED)
            add_comparison(plan, by=carla)

    return more


def test_home_queries_stay_constant(client, alice, course, grow, django_assert_num_queries):
    client.force_login(alice.user)
    url = reverse("portal:home")
    small = count(client, url)
    grow()
    grow()
    # 1 session, 2 user, 3 the account's own and group permissions with the group names (role
    # check), 4 the account's patient, 5 plans with progress counts and
    # modality/area/indication, 6-7 aftercare rules and their levels, 8 the latest released
    # consented ready comparisons with their photos, 9 the sessions shown (the courses' shown,
    # booked, recently done, the photos') with practitioner, 10-13 the screening rules that ask
    # something of a booked patient with their modalities, levels and counted modalities (read
    # once for all upcoming sessions), 14 the latest health questionnaire, then the audit
    # writes (chain head lock, insert, head update; the actor's role from the group names read
    # in 3).
    with django_assert_num_queries(14 + AUDIT_WRITES):
        client.get(url)
    assert small == 14 + AUDIT_WRITES


def test_history_queries_stay_constant(client, alice, course, grow, django_assert_num_queries):
    client.force_login(alice.user)
    url = reverse("portal:history")
    small = count(client, url)
    grow()
    # 1 session, 2 user, 3 permissions and group names, 4 patient, 5 completed sessions with
    # plan, modality, area, level and practitioner, 6 their treated areas, 7-8 aftercare rules
    # and levels, then the audit view event's writes.
    with django_assert_num_queries(8 + AUDIT_WRITES):
        client.get(url)
    assert small == 8 + AUDIT_WRITES


def test_session_and_comparison_pages_take_fixed_queries(
    client, alice, course, comparison, grow, django_assert_num_queries
):
    client.force_login(alice.user)
    session = course.sessions.get(status=Session.Status.BOOKED)
    grow()
    # 1 session, 2 user, 3 permissions and group names, 4 patient, 5 the session with plan,
    # modality, area, indication, level and practitioner, 6-9 the screening rules that ask
    # something of a booked patient, their modalities, levels and counted modalities, 10 the
    # patient's latest change request about the session, 11 the session's waiting-list request,
    # then the audit view event's writes (a booked session has no aftercare yet: no aftercare
    # rules).
    with django_assert_num_queries(11 + AUDIT_WRITES):
        client.get(reverse("portal:session", args=[session.pk]))
    # 1-4 as above, 5 the comparison with area, plan, photos and their sessions, then audit.
    with django_assert_num_queries(5 + AUDIT_WRITES):
        client.get(reverse("portal:comparison", args=[comparison.pk]))
