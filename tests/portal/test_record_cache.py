"""Record pages (portal home, chart, photo timeline) are drawn once per version of the record:
after any committed change they show exactly what a fresh drawing shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from people.models import Patient
from people.records import cached_part, record_changed
from photos import services as photo_services
from photos.models import Derivative
from scheduling import services as scheduling_services
from treatments import services as treatment_services
from treatments.models import Factor, Session

from .conftest import AMS

# What differs in every response by design: the CSRF token and the scripts' CSP nonce.
PER_RESPONSE = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|nonce=")[^"]+"')


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return PER_RESPONSE.sub(r"\1", response.content.decode())


def fresh(client, url: str) -> str:
    cache.clear()
    return page(client, url)


def rename_patient(alice, comparison):
    alice.first_name = "Alicia"
    alice.save()


def cancel_booked_session(alice, comparison):
    session = Session.objects.get(patient=alice, status=Session.Status.BOOKED)
    scheduling_services.session_cancel(
        session=session, cancelled_by="patient", reason="Away", by=alice.user
    )


def withdraw_comparison(alice, comparison):
    photo_services.comparison_release(
        comparison=comparison, released=False, by=comparison.plan.sessions.first().practitioner
    )


def rename_modality(alice, comparison):
    modality = comparison.plan.modality
    modality.name = "Crystal-free microdermabrasion"
    modality.save()


def rename_practitioner(alice, comparison):
    user = Session.objects.filter(patient=alice, status=Session.Status.BOOKED).get().practitioner
    user.first_name = "Carlotta"
    user.save()


@pytest.mark.parametrize(
    "change",
    [
        rename_patient,
        cancel_booked_session,
        withdraw_comparison,
        rename_modality,
        rename_practitioner,
    ],
)
def test_the_portal_home_follows_every_committed_change(
    client, alice, comparison, committed, change
):
    client.force_login(alice.user)
    url = reverse("portal:home")
    before = page(client, url)
    assert page(client, url) == before  # drawn once, then served as drawn
    with committed():
        change(alice, comparison)
    after = page(client, url)
    assert after != before
    assert after == fresh(client, url)


@pytest.mark.parametrize("change", [rename_patient, rename_modality, rename_practitioner])
def test_with_a_shared_cache_the_portal_home_follows_the_record_and_the_lists(
    shared_cache, client, alice, comparison, committed, change
):
    """Production's Redis: the lists' version is a token read in one round trip with the part."""
    client.force_login(alice.user)
    url = reverse("portal:home")
    before = page(client, url)
    assert page(client, url) == before
    with committed():
        change(alice, comparison)
    after = page(client, url)
    assert after != before
    assert after == fresh(client, url)


def test_an_uncommitted_change_leaves_the_version_alone(alice, course):
    version = Patient.objects.get(pk=alice.pk).record_version
    alice.first_name = "Alicia"
    alice.save()  # the test's transaction never commits
    assert Patient.objects.get(pk=alice.pk).record_version == version


def test_changes_in_one_transaction_raise_each_patient_once(alice, bob, committed):
    versions = dict(Patient.objects.values_list("pk", "record_version"))
    with CaptureQueriesContext(connection) as queries, committed(), transaction.atomic():
        for _ in range(3):
            record_changed(alice.pk)
        record_changed(bob.pk)
    after = dict(Patient.objects.values_list("pk", "record_version"))
    assert after[alice.pk] == versions[alice.pk] + 1
    assert after[bob.pk] == versions[bob.pk] + 1
    raises = [q for q in queries if q["sql"].startswith('UPDATE "people_patient"')]
    assert len(raises) == 1


def test_the_portal_home_changes_with_the_clock(client, alice, course, time_machine):
    """On the same day, with nothing in the record changed: the cancel link goes when the notice
    period starts, and the session leaves "Your next sessions" when it ends."""
    booked = Session.objects.get(patient=alice, status=Session.Status.BOOKED)
    late_from = scheduling_services.late_cancel_from(booked)
    url = reverse("portal:home")
    time_machine.move_to(late_from - dt.timedelta(minutes=5), tick=False)
    client.force_login(alice.user)
    assert "Details, cancel or change" in page(client, url)
    time_machine.move_to(late_from + dt.timedelta(minutes=1), tick=False)
    late = page(client, url)
    assert "Details, cancel or change" not in late
    assert "Less than 24 hours to go" in late
    assert late == fresh(client, url)
    time_machine.move_to(booked.starts_at - dt.timedelta(hours=1), tick=False)
    client.force_login(alice.user)
    assert "Your next sessions" in page(client, url)
    assert "Less than 24 hours to go" in page(client, url)
    time_machine.move_to(booked.ends_at + dt.timedelta(minutes=1), tick=False)
    client.force_login(alice.user)  # past the idle timeout
    assert "No sessions booked at the moment." in page(client, url)


def test_a_part_is_drawn_again_once_it_stops_being_true(alice):
    now = dt.datetime(2026, 3, 10, 9, 0, tzinfo=AMS)
    drawn = []

    def draw():
        drawn.append(1)
        return f"drawing {len(drawn)}", now + dt.timedelta(hours=1)

    assert cached_part("test", alice, draw=draw, now=now) == "drawing 1"
    assert cached_part("test", alice, draw=draw, now=now + dt.timedelta(minutes=59)) == "drawing 1"
    assert cached_part("test", alice, draw=draw, now=now + dt.timedelta(hours=1)) == "drawing 2"


def test_the_chart_follows_history_and_screening(client, alice, course, carla, committed):
    client.force_login(carla)
    url = reverse("treatments:chart", args=[alice.pk])
    before = page(client, url)
    with committed():
        treatment_services.history_add(
            patient=alice, factor=Factor.objects.get(slug="isotretinoin"), notes="acne"
        )
    after = page(client, url)
    assert "Isotretinoin" in after and "Isotretinoin" not in before
    assert after == fresh(client, url)


def history_added(alice, comparison):
    treatment_services.history_add(
        patient=alice, factor=Factor.objects.get(slug="isotretinoin"), notes="acne"
    )


def derivative_pending(alice, comparison):
    Derivative.objects.filter(photo_id=comparison.before_id).update(status="pending")


@pytest.mark.parametrize(
    ("url_name", "change"),
    [
        ("treatments:chart", rename_patient),
        ("treatments:chart", history_added),
        ("treatments:chart", rename_modality),
        ("photos:timeline", rename_patient),
        ("photos:timeline", derivative_pending),
        ("photos:timeline", withdraw_comparison),
    ],
)
def test_with_a_shared_cache_the_staff_record_pages_follow_every_committed_change(
    shared_cache, client, alice, comparison, carla, committed, url_name, change
):
    """The patient's row is kept with the part under the record token: a kept page reads no row,
    yet shows every committed change, to the patient's own details too."""
    client.force_login(carla)
    url = reverse(url_name, args=[alice.pk])
    before = page(client, url)
    with CaptureQueriesContext(connection) as kept_look:
        assert page(client, url) == before
    assert not [q for q in kept_look if "people_patient" in q["sql"]]
    with committed():
        change(alice, comparison)
    after = page(client, url)
    assert after != before
    assert after == fresh(client, url)


def test_with_a_shared_cache_an_unknown_patient_is_still_not_found(shared_cache, client, carla):
    client.force_login(carla)
    for url_name in ("treatments:chart", "photos:timeline"):
        assert client.get(reverse(url_name, args=[987654])).status_code == 404


def test_the_chart_is_drawn_per_set_of_permissions(client, alice, course, carla, front_desk_user):
    """The desk may see a chart without the clinical history; it never gets the clinician's."""
    url = reverse("treatments:chart", args=[alice.pk])
    client.force_login(carla)
    clinician_view = page(client, url)
    assert "Medical history" in clinician_view
    client.force_login(front_desk_user)
    response = client.get(url)
    if response.status_code == 200:
        assert "Medical history" not in response.content.decode()
    else:
        assert response.status_code == 403


def test_the_timeline_follows_the_worker(client, alice, comparison, carla, committed):
    """The worker changes derivatives with bulk updates, which fire no signals."""
    client.force_login(carla)
    url = reverse("photos:timeline", args=[alice.pk])
    before = page(client, url)
    photo_id = comparison.before_id
    with committed():
        Derivative.objects.filter(photo_id=photo_id).update(status="pending")
    after = page(client, url)
    assert after != before
    assert after == fresh(client, url)
    with committed():
        photo_services.derivatives_mark_failed(photo_id=photo_id, reason="broken")
    assert page(client, url) == fresh(client, url)


def test_with_a_shared_cache_a_kept_portal_home_reads_no_patient_row(
    shared_cache, client, alice, comparison
):
    client.force_login(alice.user)
    url = reverse("portal:home")
    before = page(client, url)
    with CaptureQueriesContext(connection) as kept_look:
        assert page(client, url) == before
    assert not [q for q in kept_look if "people_patient" in q["sql"]]


@pytest.mark.parametrize("cache_kind", ["own cache", "shared cache"])
def test_the_portal_home_follows_the_account_to_another_record(
    request, cache_kind, client, alice, bob, comparison, committed
):
    """An account linked to another record (a duplicate merged, say) sees that record from the
    next look, though the first record's id was kept in its session."""
    if cache_kind == "shared cache":
        request.getfixturevalue("shared_cache")
    client.force_login(alice.user)
    url = reverse("portal:home")
    assert "Alice" in page(client, url)
    account = alice.user
    with committed():
        bob.user, alice.user = None, None
        bob.save()
        alice.save()
        bob.user = account
        bob.save()
    moved = page(client, url)
    assert "Bob" in moved  # the account keeps its own name, Alice's, in the top bar
    assert moved == fresh(client, url)
    with committed():
        bob.user = None
        bob.save()
    assert client.get(url).status_code == 403
