"""Issue 17, observations 5 and 12: a new finding reaches every booked session at once (chart,
desk calendar, check-in list, session pages, portal, reminder), the desk can act on it in one
step, check-in shows the screening state, and a blocked search says what blocks it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from scheduling import tasks
from tests.scheduling.conftest import at, book
from treatments import services as treatments
from treatments.models import BodyArea, Factor, Session

TODAY = dt.date(2026, 3, 2)


def factor(slug: str) -> Factor:
    return Factor.objects.get(slug=slug)


def face() -> BodyArea:
    return BodyArea.objects.get(slug="face")


@pytest.fixture
def booked(clinic, front_desk_user):
    """Alice's four sessions booked: today at 10:00, then fortnightly."""
    days = [at(2, 10), at(16, 10), at(30, 10), at(13, 10, month=4)]
    return [
        book(clinic, session, when, front_desk_user)
        for session, when in zip(clinic.sessions, days, strict=True)
    ]


def flags(sessions):
    return [Session.objects.get(pk=s.pk).flag for s in sessions]


# --- through the service --------------------------------------------------------------------


def test_a_new_history_entry_flags_the_booked_sessions_it_concerns(alice, booked, clinician_user):
    entry = treatments.history_add(
        patient=alice,
        factor=factor("waxing"),
        started_on=dt.date(2026, 3, 1),
        body_area=face(),
        by=clinician_user,
    )
    today = Session.objects.get(pk=booked[0].pk)
    assert today.flag == Session.Flag.BLOCKED
    assert "No treatment where the skin was waxed. (within 7 days" in today.flag_reason
    assert today.flag_lifts_on == dt.date(2026, 3, 9)  # waxed on 1 March: 7 days
    assert flags(booked[1:]) == ["", "", ""]  # 16 March onwards: the waxing is long past
    assert AuditEvent.objects.filter(
        object_type="treatments.Session", object_id=str(today.pk), detail="flagged: blocked"
    ).exists()

    # The history is corrected: the waxing was weeks ago; the flag clears.
    treatments.history_update(entry=entry, started_on=dt.date(2026, 2, 20), by=clinician_user)
    today.refresh_from_db()
    assert today.flag == "" and today.flag_reason == "" and today.flag_lifts_on is None
    assert AuditEvent.objects.filter(object_id=str(today.pk), detail="flag cleared").exists()


def test_isotretinoin_started_today_flags_every_booked_session(alice, booked, clinician_user):
    treatments.history_add(
        patient=alice, factor=factor("isotretinoin"), started_on=TODAY, by=clinician_user
    )
    sessions = Session.objects.filter(pk__in=[s.pk for s in booked])
    assert {s.flag for s in sessions} == {Session.Flag.BLOCKED}
    assert all("Isotretinoin" in s.flag_reason for s in sessions)
    assert {s.flag_lifts_on for s in sessions} == {None}  # still taken: no end in sight


def test_a_relative_finding_flags_for_the_clinician_to_confirm(alice, booked, clinician_user):
    treatments.history_add(
        patient=alice, factor=factor("rosacea-flare"), started_on=TODAY, by=clinician_user
    )
    assert flags(booked) == [Session.Flag.CONFIRM] * 4


def test_moving_a_flagged_session_past_the_finding_clears_its_flag(
    alice, booked, clinician_user, front_desk_user
):
    from scheduling import services as desk

    treatments.history_add(
        patient=alice,
        factor=factor("waxing"),
        started_on=dt.date(2026, 3, 1),
        body_area=face(),
        by=clinician_user,
    )
    desk.session_reschedule(session=booked[0], starts_at=at(9, 10), by=front_desk_user)
    assert flags(booked) == ["", "", "", ""]


# --- through the API ------------------------------------------------------------------------


def test_the_api_history_change_flags_and_unflags(client, alice, booked, clinician_user):
    client.force_login(clinician_user)
    response = client.post(
        "/api/history/",
        {"patient": alice.pk, "factor": factor("isotretinoin").pk, "started_on": "2026-03-02"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert flags(booked) == [Session.Flag.BLOCKED] * 4
    listed = client.get("/api/sessions/", {"patient": alice.pk}).json()["results"]
    assert {s["flag"] for s in listed if s["status"] == "booked"} == {"blocked"}
    assert all("Isotretinoin" in s["flag_reason"] for s in listed if s["status"] == "booked")

    # It was entered on the wrong line: anticoagulants, which concern needling only.
    response = client.patch(
        f"/api/history/{response.json()['id']}/",
        {"factor": factor("anticoagulants").pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert flags(booked) == ["", "", "", ""]


# --- where people see it --------------------------------------------------------------------


@pytest.fixture
def waxed(alice, booked, clinician_user):
    """Alice waxed her face yesterday: today's session is blocked until 9 March."""
    treatments.history_add(
        patient=alice,
        factor=factor("waxing"),
        started_on=dt.date(2026, 3, 1),
        body_area=face(),
        by=clinician_user,
    )
    return booked


def test_the_chart_and_the_session_page_show_the_flag(client, alice, waxed, clinician_user):
    client.force_login(clinician_user)
    chart = client.get(reverse("treatments:chart", args=[alice.pk])).content.decode()
    assert "Flagged sessions" in chart
    assert "No treatment where the skin was waxed" in chart
    assert "Monday 9 March 2026" in chart  # when it lifts
    page = client.get(reverse("treatments:session_detail", args=[waxed[0].pk])).content.decode()
    assert "No treatment where the skin was waxed" in page and "Monday 9 March 2026" in page
    assert "Record the session" not in page


def test_the_desk_calendar_the_check_in_list_and_the_desk_session_page_show_the_flag(
    client, waxed, front_desk_user
):
    client.force_login(front_desk_user)
    day = client.get("/desk/?date=2026-03-02").content.decode()
    assert "cal-flag" in day and "until Monday 9 March 2026" in day
    today = client.get("/desk/today/").content.decode()
    assert "No treatment where the skin was waxed" in today
    assert "Blocked" in today
    desk_page = client.get(f"/desk/sessions/{waxed[0].pk}/").content.decode()
    assert "No treatment where the skin was waxed" in desk_page
    assert "Monday 9 March 2026" in desk_page


def test_the_portal_asks_the_patient_to_call_without_clinical_detail(client, alice, waxed):
    client.force_login(alice.user)
    home = client.get("/portal/").content.decode()
    assert "Please contact us before this session" in home
    assert "skin was waxed" not in home
    page = client.get(f"/portal/sessions/{waxed[0].pk}/").content.decode()
    assert "Please contact us before this session" in page
    assert "skin was waxed" not in page
    later = client.get(f"/portal/sessions/{waxed[1].pk}/").content.decode()
    assert "Please contact us before this session" not in later


def test_the_reminder_asks_the_patient_to_call_without_clinical_detail(
    waxed, mailoutbox, frozen, settings
):
    settings.REMINDER_LEAD_HOURS = 24
    assert tasks.send_due_reminders() == 1
    body = mailoutbox[0].body
    assert "Please contact us before this session" in body
    assert "skin was waxed" not in body
    assert "A reminder of your" not in body


def test_the_desk_cancels_the_flagged_sessions_in_one_step(
    client, alice, waxed, front_desk_user, clinician_user
):
    treatments.history_add(
        patient=alice, factor=factor("isotretinoin"), started_on=TODAY, by=clinician_user
    )
    client.force_login(front_desk_user)
    url = reverse("scheduling:flagged", args=[alice.pk])
    page = client.get(url).content.decode()
    assert page.count('name="sessions"') == 4
    response = client.post(url, {"sessions": [s.pk for s in waxed]})
    assert response.status_code == 302
    assert {Session.objects.get(pk=s.pk).status for s in waxed} == {"cancelled"}
    assert "No flagged sessions" in client.get(url).content.decode()


def test_only_the_desk_opens_the_flagged_sessions_page(client, alice, waxed, persona):
    url = reverse("scheduling:flagged", args=[alice.pk])
    for who in ("clinician", "alice", "bob"):
        client.force_login(persona(who))
        assert client.get(url).status_code == 403


# --- check-in shows the screening state; record only when it can succeed --------------------


def test_check_in_shows_the_screening_state_and_record_is_offered_only_when_it_can_succeed(
    client, clinic, booked, front_desk_user, clinician_user, frozen
):
    from scheduling import services as desk

    session = booked[0]
    frozen.move_to(at(2, 9, 50))
    desk.session_arrival(session=session, status=Session.Status.CHECKED_IN, by=front_desk_user)
    client.force_login(front_desk_user)
    assert "Not screened" in client.get("/desk/today/").content.decode()
    detail = reverse("treatments:session_detail", args=[session.pk])

    client.force_login(clinician_user)
    assert "Record the session" not in client.get(detail).content.decode()
    for present, state, can_record in [
        (["rosacea-flare"], "Relative finding to confirm", False),
        (["cold-sore"], "Blocked", False),
        ([], "Clear", True),
    ]:
        treatments.session_check_and_screen(
            session=session, present=[factor(s) for s in present], by=clinician_user
        )
        client.force_login(front_desk_user)
        assert state in client.get("/desk/today/").content.decode()
        client.force_login(clinician_user)
        page = client.get(detail).content.decode()
        assert state in page
        assert ("Record the session" in page) is can_record


# --- observation 12: a blocked search says what blocks it -----------------------------------


def test_a_blocked_search_names_the_finding_and_when_it_lifts(
    client, clinic, alice, front_desk_user, clinician_user
):
    treatments.history_add(
        patient=alice,
        factor=factor("waxing"),
        started_on=dt.date(2026, 3, 1),
        body_area=face(),
        by=clinician_user,
    )
    client.force_login(front_desk_user)
    session = clinic.sessions[0]
    page = client.get(
        reverse("scheduling:session_slots", args=[session.pk]),
        {"first_day": "2026-03-02", "days": 5},
    ).content.decode()
    assert "No free time" in page
    assert "No treatment where the skin was waxed. (within 7 days" in page
    assert "Monday 9 March 2026" in page
