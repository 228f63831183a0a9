"""The desk's inbox: patients' requests, sessions flagged by screening and unsent emails in one
list, newest first, with their state; filters; "mark handled"; the badge; bounded queries."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from core.models import OutboxMessage
from scheduling import inbox, services
from scheduling.models import ChangeRequest, InboxMark
from tests.factories import PatientFactory
from tests.portal.conftest import NOW, make_course, make_practitioner
from treatments.models import Session


@pytest.fixture
def frozen_now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def carla(clinician_user):
    return make_practitioner(clinician_user)


@pytest.fixture
def desk(front_desk_user) -> Client:
    client = Client()
    client.force_login(front_desk_user)
    return client


def booked_session(patient, carla) -> Session:
    plan = make_course(patient, practitioner=carla)
    return plan.sessions.get(status=Session.Status.BOOKED)


def change_request(patient, carla, *, minutes_ago=0, message="Fridays, please") -> ChangeRequest:
    session = booked_session(patient, carla)
    request = services.change_request_create(
        session=session, kind="change", message=message, by=patient.user
    )
    ChangeRequest.objects.filter(pk=request.pk).update(
        created_at=NOW - dt.timedelta(minutes=minutes_ago)
    )
    return request


def flag(session: Session, *, minutes_ago=0) -> Session:
    Session.objects.filter(pk=session.pk).update(
        flag=Session.Flag.BLOCKED,
        flag_reason="Active cold sore in the area",
        flagged_at=NOW - dt.timedelta(minutes=minutes_ago),
    )
    return session


def failed_email(*, minutes_ago=0, status="failed", attempts=5) -> OutboxMessage:
    return OutboxMessage.objects.create(
        kind="email",
        summary="Your booking (to someone@example.com)",
        payload={},
        status=status,
        attempts=attempts,
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
        created_at=NOW - dt.timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def mixed(frozen_now, alice, bob, carla):
    """Alice asked to move 30 minutes ago, Bob's session was flagged 20 minutes ago, an email
    failed 10 minutes ago; an email merely waiting its first send is not the desk's concern."""
    request = change_request(alice, carla, minutes_ago=30)
    flagged = flag(booked_session(bob, carla), minutes_ago=20)
    email = failed_email(minutes_ago=10)
    OutboxMessage.objects.create(kind="email", summary="Reminder", payload={}, status="pending")
    return request, flagged, email


def rows(html: str) -> list[str]:
    return html.split('<tr class="inbox-item')[1:]


def test_one_list_newest_first_with_each_kind(desk, mixed, alice, bob):
    request, flagged, email = mixed
    response = desk.get(reverse("scheduling:inbox"))
    assert response.status_code == 200
    html = response.content.decode()
    first, second, third = rows(html)
    assert "Email not sent: Your booking" in first and reverse("outbox") in first
    assert "Flagged by screening" in second and "Bob Mulder" in second
    assert "Active cold sore in the area" in second
    assert reverse("scheduling:flagged", args=[bob.pk]) in second
    assert "Asks to move Microdermabrasion, session 4" in third and "Alice Smit" in third
    assert "Fridays, please" in third
    assert reverse("scheduling:session", args=[request.session_id]) in third
    assert "Reminder" not in html
    assert all('state-pill state-new">New' in row for row in (first, second, third))


def test_every_patient_shown_is_audited(desk, mixed, alice, bob, front_desk_user):
    desk.get(reverse("scheduling:inbox"))
    looked = set(
        AuditEvent.objects.filter(actor=front_desk_user, action="view").values_list(
            "patient_id", flat=True
        )
    )
    assert {alice.pk, bob.pk} <= looked


def test_filters_by_kind_and_state(desk, mixed, front_desk_user):
    request, _, _ = mixed
    only_flagged = desk.get(reverse("scheduling:inbox"), {"kind": "flagged"}).content.decode()
    assert len(rows(only_flagged)) == 1 and "Flagged by screening" in only_flagged
    services.change_request_handle(change_request=request, note="Full", by=front_desk_user)
    new = desk.get(reverse("scheduling:inbox")).content.decode()
    assert "Asks to move" not in new
    handled = desk.get(reverse("scheduling:inbox"), {"state": "handled"}).content.decode()
    (row,) = rows(handled)
    assert "Asks to move" in row and 'state-pill state-handled">Handled' in row
    assert f"by {front_desk_user.get_full_name()}: declined" in row
    everything = desk.get(reverse("scheduling:inbox"), {"state": "all"}).content.decode()
    assert len(rows(everything)) == 3


def test_a_wrong_filter_is_explained_not_a_500(desk, mixed):
    response = desk.get(reverse("scheduling:inbox"), {"kind": "parcels", "state": "\x00old"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is no kind of item called" in html
    assert "Choose new, handled or all" in html
    assert len(rows(html)) == 3  # the defaults still serve


def test_mark_a_flagged_session_and_an_email_handled(desk, mixed, front_desk_user):
    _, flagged, email = mixed
    for kind, pk in (("flagged", flagged.pk), ("email", email.pk)):
        response = desk.post(
            reverse("scheduling:inbox_mark") + "?state=new", {"item_kind": kind, "id": pk}
        )
        assert response.status_code == 302
        assert response["Location"].endswith("?state=new")
        mark = InboxMark.objects.get(kind=kind, object_id=pk)
        assert mark.handled_by == front_desk_user
    (left,) = rows(desk.get(reverse("scheduling:inbox")).content.decode())
    assert "Asks to move" in left
    handled = desk.get(reverse("scheduling:inbox"), {"state": "handled"}).content.decode()
    assert len(rows(handled)) == 2
    assert handled.count(f"by {front_desk_user.get_full_name()}") == 2


def test_a_session_flagged_again_after_its_mark_is_new_again(
    desk, mixed, front_desk_user, time_machine
):
    _, flagged, _ = mixed
    inbox.item_mark_handled(kind="flagged", object_id=flagged.pk, by=front_desk_user)
    assert inbox.items(kind="flagged") == []
    time_machine.move_to(NOW + dt.timedelta(hours=1), tick=False)
    Session.objects.filter(pk=flagged.pk).update(flagged_at=NOW + dt.timedelta(hours=1))
    (item,) = inbox.items(kind="flagged")
    assert item.is_new


def test_a_request_is_handled_on_its_session_page_not_marked(desk, mixed):
    request, _, _ = mixed
    url = reverse("scheduling:inbox_mark")
    response = desk.post(url, {"item_kind": "change", "id": request.pk})
    assert response.status_code == 400
    assert "handled from its session&#x27;s page" in response.content.decode()
    assert ChangeRequest.objects.get(pk=request.pk).state == "new"
    for bad in ({}, {"item_kind": "flagged", "id": "x"}, {"item_kind": "nope", "id": "1"}):
        response = desk.post(reverse("scheduling:inbox_mark"), bad)
        assert response.status_code == 400
        assert "Choose an item of the inbox" in response.content.decode()


def test_the_badge_counts_new_items_and_the_nav_links_to_the_inbox(desk, mixed, front_desk_user):
    html = desk.get(reverse("scheduling:today")).content.decode()
    assert f'href="{reverse("scheduling:inbox")}"' in html
    assert f'hx-get="{reverse("scheduling:inbox_count")}"' in html
    badge = desk.get(reverse("scheduling:inbox_count")).content.decode()
    assert ">3<" in badge
    _, flagged, _ = mixed
    inbox.item_mark_handled(kind="flagged", object_id=flagged.pk, by=front_desk_user)
    assert ">2<" in desk.get(reverse("scheduling:inbox_count")).content.decode()


def test_the_badge_is_empty_when_nothing_is_new(desk, frozen_now):
    assert desk.get(reverse("scheduling:inbox_count")).content.decode().strip() == ""


def test_another_source_plugs_in_with_one_registration(desk, mixed, monkeypatch, alice):
    """The waitlist (built elsewhere) adds its offers this way."""
    offer = inbox.InboxItem(
        kind="waitlist",
        object_id=7,
        title="Waitlist offer sent",
        at=NOW,
        state=inbox.NEW,
        patient_name="Alice Smit",
        record=mixed[0].session,
    )
    source = inbox.Source(
        kind="waitlist",
        label="Waitlist offers",
        items=lambda state, limit: [offer] if state in (None, inbox.NEW) else [],
        count_new=lambda: 1,
    )
    monkeypatch.setitem(inbox._SOURCES, "waitlist", source)
    html = desk.get(reverse("scheduling:inbox")).content.decode()
    assert "Waitlist offer sent" in rows(html)[0]
    assert '<option value="waitlist">Waitlist offers</option>' in html
    assert ">4<" in desk.get(reverse("scheduling:inbox_count")).content.decode()


@pytest.fixture
def grow(frozen_now, carla):
    """n patients, each with a change request, a flagged session and a failed email."""

    made = itertools.count()

    def make(n: int) -> None:
        for index in range(n):
            # An account's username is the first name: one of its own for each patient.
            patient = PatientFactory(first_name=f"Patient{next(made)}", with_account=True)
            request = change_request(patient, carla, minutes_ago=index)
            flag(request.session, minutes_ago=index)
            failed_email(minutes_ago=index, status="pending" if index % 2 else "failed")

    return make


def count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_inbox_takes_the_same_queries_with_ten_times_the_items(
    desk, grow, django_assert_max_num_queries
):
    url = reverse("scheduling:inbox") + "?state=all"
    grow(2)
    small = count_queries(desk, url)
    grow(18)
    assert len(rows(desk.get(url).content.decode())) == 60
    # The sign-in's session, user and permissions; the change requests and the cancellations
    # (one query each, with patient, session and modality); the flagged sessions, the unsent
    # emails (each with its marks, read when there are any); the audit events, in one batch.
    # Measured: 10 with 2 patients' items and with 20.
    assert small <= 12
    with django_assert_max_num_queries(small):
        desk.get(url)
    badge = reverse("scheduling:inbox_count")
    grown_badge = count_queries(desk, badge)
    assert grown_badge <= 3 + len(inbox.sources())
