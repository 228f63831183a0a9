"""Issue 20, the waiting list on the pages: the desk adds, sees and removes entries; the patient
asks and withdraws in the portal; the emailed link shows the offer and books it once, for a
signed-out patient too, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import signing

from audit.models import AuditEvent
from scheduling import services, waitlist
from scheduling.models import WaitlistEntry, WaitlistOffer
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory
from tests.services import AUDIT_WRITES
from treatments.models import Session


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


def first_session(clinic, patient=None):
    plan = PlanFactory(modality=clinic.micro, **({"patient": patient} if patient else {}))
    return plan.sessions.get(number=1)


@pytest.fixture
def offered(clinic, front_desk_user, committed, alice):
    """Alice's first session waits; a stranger's 3 March 10:00 is cancelled and offered to her."""
    freed = book(clinic, first_session(clinic), at(3, 10), front_desk_user)
    waitlist.entry_add(session=clinic.sessions[0], by=front_desk_user)
    with committed():
        services.session_cancel(
            session=freed, cancelled_by="clinic", reason="x", by=front_desk_user
        )
    return WaitlistOffer.objects.get(entry__session=clinic.sessions[0])


def link(offer) -> str:
    return f"/waitlist/{waitlist.offer_token(offer)}/"


# --- the desk ------------------------------------------------------------------------------


def test_the_desk_adds_a_session_to_the_waiting_list_from_its_page(desk, clinic):
    session = clinic.sessions[0]
    page = desk.get(f"/desk/sessions/{session.pk}/").content.decode()
    assert "Add to the waiting list" in page
    response = desk.post(
        f"/desk/sessions/{session.pk}/waitlist/",
        {"earliest_day": "2026-03-04", "weekdays": ["1", "3"], "times": "morning"},
    )
    assert response.status_code == 302
    entry = WaitlistEntry.objects.get(session=session)
    assert (entry.earliest_day, entry.weekdays, entry.times) == (
        dt.date(2026, 3, 4),
        [1, 3],
        "morning",
    )
    page = desk.get(f"/desk/sessions/{session.pk}/").content.decode()
    assert "Waiting since" in page and "from 4 Mar 2026; Tue, Thu; mornings" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"earliest_day": "2026-03-10", "latest_day": "2026-03-05", "times": "any"},
            "The latest day cannot be before the earliest day.",
        ),
        ({"latest_day": "2026-02-01", "times": "any"}, "The latest day has passed"),
        ({"latest_day": "tomorrow", "times": "any"}, "Enter a valid date."),
        ({"weekdays": ["9"], "times": "any"}, "Select a valid choice."),
        ({"times": "midnight"}, "Select a valid choice."),
    ],
)
def test_a_wrong_window_is_explained_and_nothing_is_added(desk, clinic, data, message):
    session = clinic.sessions[0]
    response = desk.post(f"/desk/sessions/{session.pk}/waitlist/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_a_session_waits_once(desk, clinic, front_desk_user):
    session = clinic.sessions[0]
    waitlist.entry_add(session=session, by=front_desk_user)
    response = desk.post(f"/desk/sessions/{session.pk}/waitlist/", {"times": "any"})
    assert response.status_code == 400
    assert "already on the waiting list" in response.content.decode()
    assert WaitlistEntry.objects.count() == 1


def test_the_waiting_list_page_costs_the_same_queries_with_ten_times_the_entries(
    desk, clinic, front_desk_user, committed, django_assert_num_queries
):
    def fill(count):
        for _ in range(count):
            waitlist.entry_add(session=first_session(clinic), by=front_desk_user)
        freed = book(clinic, first_session(clinic), at(3, 10), front_desk_user)
        with committed():
            services.session_cancel(
                session=freed, cancelled_by="clinic", reason="x", by=front_desk_user
            )

    fill(2)
    # 1 the session, 2 the user, 3 permissions, 4 the count for the pages, 5 the waiting
    # entries with patient and course, 6 their offers, 7 the freed times, 8 their offers with
    # patient and session, and the look at the patients shown audited
    with django_assert_num_queries(8 + AUDIT_WRITES):
        desk.get("/desk/waitlist/")
    fill(20)
    with django_assert_num_queries(8 + AUDIT_WRITES):
        response = desk.get("/desk/waitlist/")
    html = response.content.decode()
    assert html.count("Remove</button>") == 22
    assert html.count("Tue 3 Mar 2026, 10:00") == 2  # both freed times, each with its offers
    # The first time went to the two waiting then; the second to the first five of 22.
    assert html.count("Tue 3 Mar 10:00: Sent") == 2 + 5


def test_the_desk_removes_an_entry_and_its_open_offer_closes(desk, offered):
    response = desk.post(f"/desk/waitlist/{offered.entry_id}/remove/")
    assert response.status_code == 302 and response["Location"] == "/desk/waitlist/"
    offered.refresh_from_db()
    assert offered.status == "withdrawn" and offered.entry.status == "withdrawn"
    again = desk.post(f"/desk/waitlist/{offered.entry_id}/remove/", follow=True)
    assert "no longer on the waiting list" in again.content.decode()


# --- the link ------------------------------------------------------------------------------


def test_the_link_shows_the_offer_and_books_it_for_a_signed_out_patient(
    client, offered, alice, mailoutbox
):
    page = client.get(link(offered))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Tuesday 3 March 2026 at 10:00" in html and "Book this time" in html
    assert Session.objects.get(pk=offered.entry.session_id).status == "planned"  # GET books none
    assert AuditEvent.objects.filter(
        patient_id=alice.pk, actor=alice.user, detail="waiting list offer link", allowed=True
    ).exists()

    response = client.post(link(offered))
    assert response.status_code == 200
    assert "your session is now booked for Tuesday 3 March 2026 at 10:00" in (
        response.content.decode()
    )
    session = Session.objects.get(pk=offered.entry.session_id)
    assert session.status == "booked" and session.starts_at == at(3, 10)

    again = client.post(link(offered))
    assert "You have already taken this time" in again.content.decode()
    assert Session.objects.filter(starts_at=at(3, 10), status="booked").count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_a_404_and_books_nothing(client, offered, method):
    token = waitlist.offer_token(offered)
    for bad in [token[:-3] + "abc", "not-a-token", signing.dumps({"offer": offered.pk})]:
        response = getattr(client, method)(f"/waitlist/{bad}/")
        assert response.status_code == 404
    assert Session.objects.get(pk=offered.entry.session_id).status == "planned"


def test_an_expired_link_says_so_kindly(client, offered, frozen):
    frozen.move_to(at(2, 21))
    page = client.get(link(offered)).content.decode()
    assert "this offer has expired" in page and "Book this time" not in page
    response = client.post(link(offered))
    assert response.status_code == 409 and "this offer has expired" in response.content.decode()
    assert Session.objects.get(pk=offered.entry.session_id).status == "planned"


def test_a_time_the_desk_took_meanwhile_shows_as_gone(client, offered, clinic, front_desk_user):
    book(clinic, first_session(clinic), at(3, 10), front_desk_user)
    page = client.get(link(offered)).content.decode()
    assert "this time has just been taken" in page and "Book this time" not in page
    response = client.post(link(offered))
    assert response.status_code == 409
    assert Session.objects.get(pk=offered.entry.session_id).status == "planned"


def test_another_signed_in_patient_cannot_use_the_link(client, offered, bob):
    client.force_login(bob.user)
    assert client.get(link(offered)).status_code == 404
    assert client.post(link(offered)).status_code == 404
    assert Session.objects.get(pk=offered.entry.session_id).status == "planned"


# --- the portal ----------------------------------------------------------------------------


def test_the_patient_asks_for_an_earlier_time_sees_it_and_withdraws(
    client, clinic, alice, front_desk_user
):
    session = book(clinic, clinic.sessions[0], at(20, 10), front_desk_user)
    client.force_login(alice.user)
    page = client.get(f"/portal/sessions/{session.pk}/").content.decode()
    assert "Ask for an earlier time" in page
    response = client.post(
        f"/portal/sessions/{session.pk}/waitlist/", {"times": "afternoon", "weekdays": ["4"]}
    )
    assert response.status_code == 302
    page = client.get(f"/portal/sessions/{session.pk}/").content.decode()
    assert "You are on the waiting list for an earlier time (Fri; afternoons)" in page
    assert WaitlistEntry.objects.get(session=session).created_by == alice.user

    client.post(f"/portal/sessions/{session.pk}/waitlist/withdraw/")
    assert WaitlistEntry.objects.get(session=session).status == "withdrawn"
    page = client.get(f"/portal/sessions/{session.pk}/").content.decode()
    assert "Ask for an earlier time" in page


def test_a_wrong_portal_request_is_explained(client, clinic, alice):
    client.force_login(alice.user)
    session = clinic.sessions[0]
    response = client.post(
        f"/portal/sessions/{session.pk}/waitlist/", {"latest_day": "2026-01-01", "times": "any"}
    )
    assert response.status_code == 400
    assert "The latest day has passed" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_bob_cannot_put_alices_session_on_the_list_or_take_it_off(
    client, clinic, bob, front_desk_user
):
    session = clinic.sessions[0]
    entry = waitlist.entry_add(session=session, by=front_desk_user)
    client.force_login(bob.user)
    assert (
        client.post(f"/portal/sessions/{session.pk}/waitlist/", {"times": "any"}).status_code == 404
    )
    assert client.post(f"/portal/sessions/{session.pk}/waitlist/withdraw/").status_code == 404
    entry.refresh_from_db()
    assert entry.status == "waiting"


def test_a_session_checked_in_leaves_the_list_shown(desk, clinic, front_desk_user):
    session = book(clinic, clinic.sessions[0], at(20, 10), front_desk_user)
    waitlist.entry_add(session=session, by=front_desk_user)
    assert "Alice Smit" in desk.get("/desk/waitlist/").content.decode()
    Session.objects.filter(pk=session.pk).update(status="checked_in")
    assert "No one is waiting." in desk.get("/desk/waitlist/").content.decode()
    assert "Waiting since" not in desk.get(f"/desk/sessions/{session.pk}/").content.decode()
