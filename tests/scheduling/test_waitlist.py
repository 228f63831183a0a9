"""Issue 20, the waiting list: a freed time is offered, in order, only to the waiting sessions
the booking rule would accept there; the first who accepts books it, once; the others are told
it is gone; links are signed, expire, and book nothing else."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.core import signing
from django.db import connections

from audit.models import AuditEvent
from scheduling import services, waitlist
from scheduling.models import WaitlistEntry, WaitlistOffer, WaitlistOpening
from tests.factories import PatientFactory
from tests.scheduling.conftest import at, book
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments import services as treatments
from treatments.models import BodyArea, Factor, Session

LINK = re.compile(r"https?://\S+/waitlist/(?P<token>\S+)/")


def first_session(clinic, patient=None):
    """Session 1 of a new microdermabrasion course (of a new patient unless one is given)."""
    plan = PlanFactory(modality=clinic.micro, **({"patient": patient} if patient else {}))
    return plan.sessions.get(number=1)


def wait(session, by, **window):
    return waitlist.entry_add(session=session, by=by, **window)


def cancel(session, by, committed):
    with committed():
        services.session_cancel(session=session, cancelled_by="patient", reason="ill", by=by)


def offers_to(session):
    return WaitlistOffer.objects.filter(entry__session=session)


def token_in(mail) -> str:
    return LINK.search(mail.body).group("token")


@pytest.fixture
def freed(clinic, front_desk_user):
    """A stranger's session booked on Tuesday 3 March at 10:00 with Carla, about to be
    cancelled."""
    return book(clinic, first_session(clinic), at(3, 10), front_desk_user)


# --- what fits ----------------------------------------------------------------------------


def test_a_cancelled_time_is_offered_by_email_to_the_waiting_session_it_fits(
    clinic, freed, front_desk_user, mailoutbox, committed, alice
):
    entry = wait(clinic.sessions[0], front_desk_user)
    cancel(freed, front_desk_user, committed)

    [offer] = offers_to(clinic.sessions[0])
    assert offer.entry == entry and offer.status == "sent"
    assert offer.opening.starts_at == at(3, 10)
    assert offer.opening.practitioner_id == clinic.carla.user_id
    assert offer.expires_at == at(2, 20)  # WAITLIST_OFFER_HOURS (12) after 08:00
    [mail] = [m for m in mailoutbox if m.to == [alice.email]]
    assert "Tuesday 3 March 2026 at 10:00" in mail.body
    assert waitlist.offer_for_token(token_in(mail)) == offer
    assert AuditEvent.objects.filter(
        patient_id=alice.pk, object_type="scheduling.WaitlistOffer", object_id=str(offer.pk)
    ).exists()


def test_not_offered_when_screening_refuses_the_day(
    clinic, freed, front_desk_user, clinician_user, committed, alice
):
    treatments.history_add(
        patient=alice,
        factor=Factor.objects.get(slug="waxing"),
        started_on=dt.date(2026, 3, 1),  # waxed: no treatment of the face until 9 March
        body_area=BodyArea.objects.get(slug="face"),
        by=clinician_user,
    )
    wait(clinic.sessions[0], front_desk_user)
    cancel(freed, front_desk_user, committed)
    assert not offers_to(clinic.sessions[0]).exists()
    assert not WaitlistOpening.objects.exists()


def test_not_offered_when_too_close_to_the_session_before_in_the_course(
    clinic, front_desk_user, committed
):
    first, second = clinic.sessions[:2]
    book(clinic, first, at(2, 14), front_desk_user)
    stranger = book(clinic, first_session(clinic), at(4, 10), front_desk_user)
    wait(second, front_desk_user)  # two days after session 1: the course's interval refuses
    cancel(stranger, front_desk_user, committed)
    assert not offers_to(second).exists()


def test_not_offered_with_a_practitioner_not_qualified_for_the_treatment(
    clinic, front_desk_user, committed
):
    laser_only = PractitionerFactory(modalities=[clinic.laser])
    laser_plan = PlanFactory(modality=clinic.laser)
    laser_session = services.session_book(
        session=laser_plan.sessions.get(number=1),
        starts_at=at(3, 10),
        practitioner_user_id=laser_only.user_id,
        by=front_desk_user,
        notify=False,
    )
    wait(clinic.sessions[0], front_desk_user)  # microdermabrasion: not something Daan does
    cancel(laser_session, front_desk_user, committed)
    assert not offers_to(clinic.sessions[0]).exists()


def test_not_offered_when_the_shared_device_is_busy(clinic, front_desk_user, committed):
    other = PractitionerFactory(modalities=[clinic.laser, clinic.micro])
    # Carla's micro session at 10:00 frees a time; the one laser is in use then elsewhere.
    services.session_book(
        session=PlanFactory(modality=clinic.laser).sessions.get(number=1),
        starts_at=at(3, 10),
        practitioner_user_id=other.user_id,
        by=front_desk_user,
        notify=False,
    )
    carla_micro = book(clinic, first_session(clinic), at(3, 10), front_desk_user)
    laser_waiting = PlanFactory(modality=clinic.laser).sessions.get(number=1)
    wait(laser_waiting, front_desk_user)
    cancel(carla_micro, front_desk_user, committed)
    assert not offers_to(laser_waiting).exists()


@pytest.mark.parametrize(
    ("window", "offered"),
    [
        ({}, True),
        ({"earliest_day": dt.date(2026, 3, 4)}, False),
        ({"latest_day": dt.date(2026, 3, 2)}, False),
        ({"weekdays": [0, 2]}, False),  # Monday and Wednesday; the time is on a Tuesday
        ({"weekdays": [1]}, True),
        ({"times": "afternoon"}, False),
        ({"times": "morning"}, True),
    ],
)
def test_only_offered_within_the_window_asked_for(
    clinic, freed, front_desk_user, committed, window, offered
):
    wait(clinic.sessions[0], front_desk_user, **window)
    cancel(freed, front_desk_user, committed)
    assert offers_to(clinic.sessions[0]).exists() is offered


def test_a_booked_session_is_only_offered_an_earlier_time(clinic, front_desk_user, committed):
    later = book(clinic, first_session(clinic), at(3, 14), front_desk_user)
    earlier = book(clinic, first_session(clinic), at(3, 9), front_desk_user)
    session = book(clinic, clinic.sessions[0], at(3, 11), front_desk_user)
    wait(session, front_desk_user)
    cancel(later, front_desk_user, committed)
    assert not offers_to(session).exists()
    cancel(earlier, front_desk_user, committed)
    assert offers_to(session).count() == 1


def test_offered_in_the_order_patients_asked_up_to_the_limit(
    clinic, freed, front_desk_user, committed, mailoutbox, settings
):
    settings.WAITLIST_OFFERS_PER_SLOT = 2
    waiting = [first_session(clinic) for _ in range(3)]
    for session in waiting:
        wait(session, front_desk_user)
    cancel(freed, front_desk_user, committed)
    assert [offers_to(s).count() for s in waiting] == [1, 1, 0]
    offers = [m.to[0] for m in mailoutbox if m.subject.startswith("A time has come free")]
    assert offers == [waiting[0].patient.email, waiting[1].patient.email]


def test_the_task_run_twice_offers_once(clinic, freed, front_desk_user, committed):
    wait(clinic.sessions[0], front_desk_user)
    cancel(freed, front_desk_user, committed)
    assert (
        waitlist.opening_offer(
            starts_at=at(3, 10),
            practitioner_user_id=clinic.carla.user_id,
            freed_session_id=freed.pk,
        )
        is None
    )
    assert WaitlistOffer.objects.count() == 1


def test_a_time_too_soon_is_not_offered(clinic, front_desk_user, committed, frozen):
    soon = book(clinic, first_session(clinic), at(2, 9), front_desk_user)  # in one hour
    wait(clinic.sessions[0], front_desk_user)
    cancel(soon, front_desk_user, committed)
    assert not WaitlistOpening.objects.exists()


# --- accepting -----------------------------------------------------------------------------


@pytest.fixture
def two_offers(clinic, freed, front_desk_user, committed, alice, bob):
    """Alice's and Bob's first sessions wait (Alice first); the 10:00 freed time is offered
    to both."""
    alice_session = clinic.sessions[0]
    bob_session = first_session(clinic, bob)
    wait(alice_session, front_desk_user)
    wait(bob_session, front_desk_user)
    cancel(freed, front_desk_user, committed)
    return offers_to(alice_session).get(), offers_to(bob_session).get()


def test_first_accept_books_and_the_others_are_told_it_is_gone(
    two_offers, committed, mailoutbox, alice, bob
):
    alice_offer, bob_offer = two_offers
    mailoutbox.clear()
    with committed():
        answer = waitlist.offer_accept(offer=bob_offer)
    assert answer.booked
    session = Session.objects.get(pk=bob_offer.entry.session_id)
    assert session.status == "booked" and session.starts_at == at(3, 10)
    assert session.booking.booked_by == bob.user
    bob_offer.refresh_from_db()
    alice_offer.refresh_from_db()
    assert (bob_offer.status, alice_offer.status) == ("accepted", "gone")
    assert bob_offer.opening.status == "filled"
    assert WaitlistEntry.objects.get(pk=bob_offer.entry_id).status == "booked"
    [gone] = [m for m in mailoutbox if m.to == [alice.email]]
    assert gone.subject == "Taken: the time offered for Tuesday 3 March 2026 at 10:00"
    assert any(m.to == [bob.email] and "Your booking" in m.subject for m in mailoutbox)

    second = waitlist.offer_accept(offer=alice_offer)
    assert not second.booked and "just been taken" in second.message
    assert Session.objects.get(pk=alice_offer.entry.session_id).status == "planned"


def test_an_offer_acts_once(two_offers):
    alice_offer, _ = two_offers
    assert waitlist.offer_accept(offer=alice_offer).booked
    again = waitlist.offer_accept(offer=alice_offer)
    assert again.booked and "already taken" in again.message
    assert Session.objects.filter(status="booked", starts_at=at(3, 10)).count() == 1
    assert AuditEvent.objects.filter(detail__startswith="waiting list: offer accepted").count() == 1


def test_an_expired_offer_books_nothing(two_offers, frozen):
    alice_offer, _ = two_offers
    frozen.move_to(at(2, 20, 1))
    answer = waitlist.offer_accept(offer=alice_offer)
    assert not answer.booked and "expired" in answer.message
    alice_offer.refresh_from_db()
    assert alice_offer.status == "expired"
    assert Session.objects.get(pk=alice_offer.entry.session_id).status == "planned"


def test_a_time_the_desk_filled_meanwhile_is_gone(two_offers, clinic, front_desk_user):
    alice_offer, _ = two_offers
    book(clinic, first_session(clinic), at(3, 10), front_desk_user)
    answer = waitlist.offer_accept(offer=alice_offer)
    assert not answer.booked and answer.message == waitlist.GONE
    assert Session.objects.get(pk=alice_offer.entry.session_id).status == "planned"
    alice_offer.refresh_from_db()
    assert alice_offer.status == "gone"


def test_a_withdrawn_request_cannot_accept(two_offers, alice):
    alice_offer, _ = two_offers
    waitlist.entry_withdraw(entry=alice_offer.entry, by=alice.user)
    alice_offer.refresh_from_db()
    assert alice_offer.status == "withdrawn"
    assert not waitlist.offer_accept(offer=alice_offer).booked


def test_accepting_moves_a_booked_session_earlier_and_offers_its_old_time(
    clinic, freed, front_desk_user, committed, bob
):
    session = book(clinic, clinic.sessions[0], at(20, 10), front_desk_user)
    wait(session, front_desk_user)
    bob_session = first_session(clinic, bob)
    wait(bob_session, front_desk_user, earliest_day=dt.date(2026, 3, 10))
    cancel(freed, front_desk_user, committed)
    [offer] = offers_to(session)
    with committed():
        assert waitlist.offer_accept(offer=offer).booked
    session.refresh_from_db()
    assert session.starts_at == at(3, 10) and session.status == "booked"
    # The 20 March time it left is offered on: Bob asked for any day from the 10th.
    [bob_offer] = offers_to(bob_session)
    assert bob_offer.opening.starts_at == at(20, 10)


# --- links ---------------------------------------------------------------------------------


def test_a_tampered_or_foreign_link_names_no_offer(two_offers):
    alice_offer, bob_offer = two_offers
    token = waitlist.offer_token(alice_offer)
    assert waitlist.offer_for_token(token) == alice_offer
    assert waitlist.offer_for_token(token[:-2] + "xx") is None
    assert waitlist.offer_for_token("not-a-token") is None
    # Signed with the right salt but Bob's id and Alice's key: no offer has both.
    forged = signing.dumps(
        {"offer": bob_offer.pk, "key": alice_offer.key}, salt=waitlist.SIGNING_SALT
    )
    assert waitlist.offer_for_token(forged) is None
    other_salt = signing.dumps({"offer": alice_offer.pk, "key": alice_offer.key})
    assert waitlist.offer_for_token(other_salt) is None


# --- the desk's inbox and the reports ------------------------------------------------------


def test_open_offers_and_fill_rate(two_offers, clinic, front_desk_user, committed, frozen):
    alice_offer, bob_offer = two_offers
    offers = list(waitlist.open_offers())
    assert offers == [alice_offer, bob_offer]
    assert offers[0].patient.first_name == "Alice" and offers[0].session.number == 1
    assert offers[0].state() == "sent" and offers[0].sent_at == at(2, 8)

    # A second freed time, offered and left to expire.
    other = book(clinic, first_session(clinic), at(5, 10), front_desk_user)
    cancel(other, front_desk_user, committed)
    with committed():
        assert waitlist.offer_accept(offer=alice_offer).booked
    # Alice's offer of the 5th closed when she took the 3rd; Bob's is still open.
    [still_open] = waitlist.open_offers()
    assert still_open.entry == bob_offer.entry and still_open.opening.starts_at == at(5, 10)
    closed = WaitlistOffer.objects.get(entry=alice_offer.entry, opening=still_open.opening)
    assert closed.status == "withdrawn"
    rate = waitlist.fill_rate(dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    assert (rate.offered, rate.filled, rate.rate) == (2, 1, 0.5)
    assert waitlist.fill_rate(dt.date(2026, 3, 3), dt.date(2026, 3, 9)).rate is None
    frozen.move_to(at(3, 8))
    assert list(waitlist.open_offers()) == []


def test_the_desk_inbox_lists_offers_out_as_new_and_answered_ones_as_handled(two_offers, committed):
    from scheduling import inbox

    alice_offer, bob_offer = two_offers
    new = inbox.items(kind="waitlist", state=inbox.NEW)
    assert {item.object_id for item in new} == {alice_offer.pk, bob_offer.pk}
    assert all(item.patient_name and "Waiting-list offer" in item.title for item in new)
    assert inbox.new_count() >= 2

    with committed():
        assert waitlist.offer_accept(offer=alice_offer).booked

    # Both offers were for the same freed time: Alice took it, Bob was told it is gone.
    assert inbox.items(kind="waitlist", state=inbox.NEW) == []
    handled = {item.object_id: item for item in inbox.items(kind="waitlist", state="handled")}
    assert handled[alice_offer.pk].outcome == "Accepted"
    assert handled[bob_offer.pk].outcome == "Taken by someone else"


# --- concurrency (PostgreSQL) --------------------------------------------------------------


@pytest.mark.postgres
def test_two_accepts_at_once_book_once(request, transactional_db, front_desk_user):
    request.getfixturevalue("postgres")
    clinic = request.getfixturevalue("clinic")
    freed = book(clinic, first_session(clinic), at(3, 10), front_desk_user)
    waiting = [first_session(clinic) for _ in range(4)]
    for session in waiting:
        wait(session, front_desk_user)
    services.session_cancel(session=freed, cancelled_by="clinic", reason="x", by=front_desk_user)
    waitlist.opening_offer(
        starts_at=at(3, 10), practitioner_user_id=clinic.carla.user_id, freed_session_id=freed.pk
    )
    offers = list(WaitlistOffer.objects.all())
    # Each offer twice: two patients at once, and each clicking twice.
    attempts = offers + offers
    barrier = threading.Barrier(len(attempts))
    answers, lock = [], threading.Lock()

    def accept(offer):
        try:
            barrier.wait(timeout=10)
            answer = waitlist.offer_accept(offer=offer)
        finally:
            connections.close_all()
        with lock:
            answers.append((offer.pk, answer.booked))

    threads = [threading.Thread(target=accept, args=(o,)) for o in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 8
    assert Session.objects.filter(starts_at=at(3, 10), status="booked").count() == 1
    [winner] = WaitlistOffer.objects.filter(status="accepted")
    # Only the winner's two clicks say booked; the others are told it is gone.
    assert sorted(pk for pk, booked in answers if booked) == [winner.pk, winner.pk]
    assert WaitlistOffer.objects.filter(status="gone").count() == 3


def test_a_patient_without_email_is_not_offered(clinic, freed, front_desk_user, committed):
    session = first_session(clinic, PatientFactory(email=""))
    wait(session, front_desk_user)
    cancel(freed, front_desk_user, committed)
    assert not offers_to(session).exists()


# --- lapsed offers and cancelled requests ---------------------------------------------------


def test_a_time_whose_offers_expired_goes_to_the_next_in_line(
    clinic, freed, front_desk_user, committed, mailoutbox, settings, frozen
):
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    waiting = [first_session(clinic) for _ in range(3)]
    for session in waiting:
        wait(session, front_desk_user)
    cancel(freed, front_desk_user, committed)
    assert [offers_to(s).count() for s in waiting] == [1, 0, 0]
    assert waitlist.openings_reoffer() == 0  # the first offer is still open

    frozen.move_to(at(2, 20, 1))
    with committed():
        assert waitlist.openings_reoffer() == 1
    assert offers_to(waiting[0]).get().status == "expired"
    assert offers_to(waiting[1]).get().status == "sent"
    assert not offers_to(waiting[2]).exists()
    offers = [m.to[0] for m in mailoutbox if m.subject.startswith("A time has come free")]
    assert offers == [waiting[0].patient.email, waiting[1].patient.email]
    # Too close to the time to offer it again (WAITLIST_MIN_NOTICE_HOURS before it).
    frozen.move_to(at(3, 8, 30))
    assert waitlist.openings_reoffer() == 0


def test_a_patient_who_cancels_leaves_the_waiting_list_for_that_session(
    clinic, front_desk_user, committed
):
    session = book(clinic, clinic.sessions[0], at(20, 10), front_desk_user)
    entry = wait(session, front_desk_user)
    cancel(session, front_desk_user, committed)  # cancelled by the patient
    entry.refresh_from_db()
    assert entry.status == "withdrawn"
    other = book(clinic, clinic.sessions[1], at(3, 10, month=4), front_desk_user)
    kept = wait(other, front_desk_user)
    services.session_cancel(session=other, cancelled_by="clinic", reason="ill", by=front_desk_user)
    kept.refresh_from_db()
    assert kept.status == "waiting"  # the clinic cancelled: they still want a time
