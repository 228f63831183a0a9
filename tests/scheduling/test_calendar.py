"""The desk's resource calendar: day and week time grids per practitioner, room or device.

Free time on the calendar is the availability engine's: every cell shown free books through the
booking service, and every other start is refused by it (issue 20: the old grid marked a quarter
hour free without the session's length, the cleaning buffer, the room or the device).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling import services
from scheduling.models import AvailabilityException
from tests.factories import StaffFactory
from tests.scheduling.conftest import at
from tests.scheduling.factories import PlanFactory, PractitionerFactory
from treatments.models import DepthLevel

DAY = dt.date(2026, 3, 3)  # a Tuesday; the tests' clock stands at Monday 2 March, 08:00
FREE = re.compile(r'<a href="([^"]+)" aria-label="(Book [^"]+)">free</a>')
LINK = re.compile(r'<a href="(/desk/[^"]*)"[^>]*>([^<]+)</a>')


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


def book_with(session, when, practitioner, by):
    return services.session_book(
        session=session,
        starts_at=when,
        practitioner_user_id=practitioner.user_id,
        by=by,
        notify=False,
    )


def new_first_session(modality):
    return PlanFactory(modality=modality, session_count=1).sessions.get()


@pytest.fixture
def seeded(clinic, alice, bob, front_desk_user):
    """Tuesday 3 March: Carla (both treatments, 9-17) has Alice's microdermabrasion at 10:00;
    Daan (microdermabrasion only) works mornings and has a session at 11:30; Eva (both) works
    only 13-17 that day (an exception) and has Bob's laser peel at 14:00, which holds the
    clinic's one laser. Two rooms for three practitioners."""
    daan = PractitionerFactory(
        user=StaffFactory(first_name="Daan", last_name="Bakker", username="daan"),
        modalities=[clinic.micro],
        hours={d: (9, 13) for d in range(5)},
    )
    eva = PractitionerFactory(
        user=StaffFactory(first_name="Eva", last_name="Visser", username="eva"),
        modalities=[clinic.micro, clinic.laser],
    )
    AvailabilityException.objects.create(
        practitioner=eva,
        first_day=DAY,
        last_day=DAY,
        kind=AvailabilityException.Kind.CHANGED,
        starts=dt.time(13),
        ends=dt.time(17),
    )
    book_with(clinic.sessions[0], at(3, 10), clinic.carla, front_desk_user)
    book_with(new_first_session(clinic.micro), at(3, 11, 30), daan, front_desk_user)
    laser_plan = PlanFactory(patient=bob, modality=clinic.laser, session_count=1)
    laser = book_with(laser_plan.sessions.get(), at(3, 14), eva, front_desk_user)
    clinic.daan, clinic.eva, clinic.laser_session = daan, eva, laser
    clinic.levels = {
        "micro": DepthLevel.objects.get(modality=clinic.micro, rank=1),
        "laser": DepthLevel.objects.get(modality=clinic.laser, rank=1),
    }
    return clinic


def free_cells(page: str) -> list[dict]:
    """Each free cell's link, read as the browser would follow it."""
    cells = []
    for href, label in FREE.findall(page):
        query = parse_qs(urlsplit(html.unescape(href)).query)
        cells.append(
            {
                "label": html.unescape(label),
                "practitioner": int(query["practitioner"][0]),
                "start": dt.datetime.fromisoformat(query["start"][0]),
                "treatment": int(query["treatment"][0]),
            }
        )
    return cells


class Undo(Exception):
    """Raised to roll a trial booking back, so every cell is tried on the seeded day."""


def try_booking(session, start, practitioner_id, by):
    """Books the (new patient's first) session there and rolls it back, so that every start is
    tried on the seeded calendar: (room, device), or the refusal's messages."""
    try:
        with transaction.atomic():
            try:
                booked = services.session_book(
                    session=session,
                    starts_at=start,
                    practitioner_user_id=practitioner_id,
                    by=by,
                    notify=False,
                )
            except ValidationError as error:
                outcome = error.messages
            else:
                outcome = (booked.booking.room_id, booked.booking.device_id)
            raise Undo
    except Undo:
        return outcome


def working_starts(practitioner, days, step=dt.timedelta(minutes=15)):
    """Every quarter hour from 8:00 to 18:00 of the days: more than anyone works."""
    for day in days:
        moment = at(day.day, 8, month=day.month)
        while moment < at(day.day, 18, month=day.month):
            yield moment
            moment += step


@pytest.mark.parametrize("treatment", ["micro", "laser"])
def test_every_free_cell_of_the_day_books_and_no_other_start_does(
    desk, seeded, front_desk_user, treatment
):
    level = seeded.levels[treatment]
    modality = level.modality
    probe = new_first_session(modality)  # a new patient's first session
    page = desk.get(f"/desk/?date={DAY}&treatment={level.pk}").content.decode()
    cells = free_cells(page)
    assert cells, "the seeded day has free time"
    shown = set()
    for cell in cells:
        assert cell["treatment"] == level.pk
        outcome = try_booking(probe, cell["start"], cell["practitioner"], front_desk_user)
        assert isinstance(outcome, tuple), (cell["label"], outcome)
        shown.add((cell["practitioner"], cell["start"]))
    # Every other quarter hour is refused by the booking service: nothing bookable is hidden,
    # nothing shown free is taken, in its cleaning buffer, without a room, device or hours.
    people = [seeded.carla, seeded.daan, seeded.eva]
    for practitioner in people:
        if modality not in practitioner.modalities.all():
            assert not any(c["practitioner"] == practitioner.user_id for c in cells)
            continue
        for start in working_starts(practitioner, [DAY]):
            if (practitioner.user_id, start) in shown:
                continue
            outcome = try_booking(probe, start, practitioner.user_id, front_desk_user)
            assert isinstance(outcome, list), f"{practitioner} {start:%H:%M} books but is not free"


def test_the_seeded_day_shows_what_the_old_grid_got_wrong(desk, seeded):
    micro = seeded.levels["micro"]
    cells = free_cells(desk.get(f"/desk/?date={DAY}&treatment={micro.pk}").content.decode())
    carla = {
        timezone.localtime(c["start"]) for c in cells if c["practitioner"] == seeded.carla.user_id
    }
    # 45 minutes and 15 of cleaning: 9:15 would run into the 10:00 session, 10:45 is within
    # its buffer; 11:00 is free again. The last start that fits before 17:00 is 16:15.
    assert at(3, 9) in carla and at(3, 9, 15) not in carla
    assert at(3, 10, 45) not in carla and at(3, 11) in carla
    assert at(3, 16, 15) in carla and at(3, 16, 30) not in carla
    # Eva works 13-17 that day (an exception to her weekly hours).
    eva = {timezone.localtime(c["start"]) for c in cells if c["practitioner"] == seeded.eva.user_id}
    assert min(eva) == at(3, 13)
    laser = seeded.levels["laser"]
    cells = free_cells(desk.get(f"/desk/?date={DAY}&treatment={laser.pk}").content.decode())
    starts = {timezone.localtime(c["start"]) for c in cells}
    # The one laser is in use from 14:00 to 15:15 with its buffer, whoever has time.
    assert at(3, 13) not in starts and at(3, 14) not in starts and at(3, 15, 15) in starts


def test_every_free_cell_of_the_week_books_and_no_other_start_does(desk, seeded, front_desk_user):
    # The rest of the week is short, so that trying every start stays quick: on Monday Carla
    # works 9-12 and Eva 9-11; from Wednesday only Daan works, who does no laser.
    monday, wednesday, friday = (
        DAY - dt.timedelta(days=1),
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=3),
    )
    for practitioner, ends in ((seeded.carla, 12), (seeded.eva, 11)):
        AvailabilityException.objects.create(
            practitioner=practitioner,
            first_day=monday,
            last_day=monday,
            kind=AvailabilityException.Kind.CHANGED,
            starts=dt.time(9),
            ends=dt.time(ends),
        )
        AvailabilityException.objects.create(
            practitioner=practitioner, first_day=wednesday, last_day=friday
        )
    level = seeded.levels["laser"]
    probe = new_first_session(level.modality)
    page = desk.get(f"/desk/week/?date={DAY}&treatment={level.pk}").content.decode()
    assert "Wednesday 4 Mar" in page  # Daan works
    cells = free_cells(page)
    days = {timezone.localtime(c["start"]).date() for c in cells}
    assert days == {monday, DAY}
    shown = set()
    for cell in cells:
        outcome = try_booking(probe, cell["start"], cell["practitioner"], front_desk_user)
        assert isinstance(outcome, tuple), (cell["label"], outcome)
        shown.add((cell["practitioner"], cell["start"]))
    week = [monday + dt.timedelta(days=n) for n in range(5)]
    for practitioner in (seeded.carla, seeded.eva):  # qualified for laser
        for start in working_starts(practitioner, week):
            if (practitioner.user_id, start) not in shown:
                outcome = try_booking(probe, start, practitioner.user_id, front_desk_user)
                assert isinstance(outcome, list), f"{practitioner} {start} books but is not free"


@pytest.mark.parametrize("span", ["", "week/"])
def test_free_cells_by_room_and_by_device_book_that_room_and_device(
    desk, seeded, front_desk_user, span
):
    laser = seeded.levels["laser"]
    probe = new_first_session(seeded.laser)
    rooms = {room.name: room.pk for room in seeded.rooms}
    page = desk.get(f"/desk/{span}?date={DAY}&by=room&treatment={laser.pk}").content.decode()
    cells = [c for c in free_cells(page) if timezone.localtime(c["start"]).date() == DAY]
    assert cells
    for cell in cells:
        room = rooms[re.search(r" in (Room \d)", cell["label"]).group(1)]
        outcome = try_booking(probe, cell["start"], cell["practitioner"], front_desk_user)
        assert outcome == (room, seeded.device.pk), cell["label"]
    page = desk.get(f"/desk/{span}?date={DAY}&by=device&treatment={laser.pk}").content.decode()
    cells = [c for c in free_cells(page) if timezone.localtime(c["start"]).date() == DAY]
    assert cells and all(" in Laser with " in c["label"] for c in cells)
    for cell in cells:
        outcome = try_booking(probe, cell["start"], cell["practitioner"], front_desk_user)
        assert isinstance(outcome, tuple) and outcome[1] == seeded.device.pk, cell["label"]


def column_heads(page: str) -> list[str]:
    return re.findall(r'<th scope="col">([^<]+)</th>', page)


@pytest.mark.parametrize("span", ["", "week/"])
def test_columns_by_practitioner_room_and_device(desk, seeded, span):
    carla, daan, eva = str(seeded.carla), "Daan Bakker", "Eva Visser"
    by_person = desk.get(f"/desk/{span}?date={DAY}").content.decode()
    heads = column_heads(by_person)
    assert {carla, daan, eva} <= set(heads)
    by_room = desk.get(f"/desk/{span}?date={DAY}&by=room").content.decode()
    assert {"Room 1", "Room 2"} == set(column_heads(by_room)) - {"Time"}
    # In a room's column, each session names its practitioner.
    assert "Laser peel, session 1 · Eva Visser" in by_room
    by_device = desk.get(f"/desk/{span}?date={DAY}&by=device").content.decode()
    assert set(column_heads(by_device)) - {"Time"} == {"Laser"}
    assert "14:00 Bob" in by_device and "10:00 Alice Smit" not in by_device  # no device
    if span:  # a week has a column per resource for each working day, Monday to Friday
        assert column_heads(by_room).count("Room 1") == 5
        assert "Monday 2 Mar" in by_room and "Sunday 8 Mar" not in by_room
    # Anything else in ?by= is the practitioners' view, never an error.
    assert desk.get(f"/desk/{span}?date={DAY}&by=nonsense").status_code == 200


@pytest.mark.parametrize("span", ["", "week/"])
def test_one_practitioner(desk, seeded, span):
    micro = seeded.levels["micro"]
    url = f"/desk/{span}?date={DAY}&practitioner={seeded.daan.user_id}&treatment={micro.pk}"
    page = desk.get(url).content.decode()
    assert set(column_heads(page)) - {"Time"} == {"Daan Bakker"}
    assert "11:30 " in page and "10:00 Alice Smit" not in page and "14:00 Bob" not in page
    cells = free_cells(page)
    assert cells and {c["practitioner"] for c in cells} == {seeded.daan.user_id}
    # He works until 13:00; his 11:30 session and its buffer hold him until 12:30, so the
    # last 45 minutes that fit start at 10:30.
    on_the_day = [timezone.localtime(c["start"]) for c in cells]
    assert max(start for start in on_the_day if start.date() == DAY) == at(3, 10, 30)
    # Per room, only that practitioner's sessions and free time.
    rooms = desk.get(url + "&by=room").content.decode()
    assert "11:30 " in rooms and "10:00 Alice Smit" not in rooms
    assert {c["practitioner"] for c in free_cells(rooms)} == {seeded.daan.user_id}
    for junk in ("abc", "%C2%B2", "999999999999999999999"):
        assert desk.get(f"/desk/{span}?date={DAY}&practitioner={junk}").status_code == 200
    nobody = desk.get(f"/desk/{span}?date={DAY}&practitioner=999999").content.decode()
    assert "That practitioner is not in the calendar." in nobody


def links(page: str) -> dict[str, str]:
    return {html.unescape(text).strip(): html.unescape(href) for href, text in LINK.findall(page)}


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("span", ["", "week/"])
def test_every_link_keeps_the_date_and_the_filters(desk, seeded, span):
    micro = seeded.levels["micro"]
    kept = {"practitioner": str(seeded.carla.user_id), "treatment": str(micro.pk)}
    url = f"/desk/{span}?date={DAY}&practitioner={kept['practitioner']}&treatment={micro.pk}"
    found = links(desk.get(url).content.decode())
    expected = {"date": str(DAY), **kept}
    for name in ("Day", "Rooms", "Devices", "Week", "Practitioners"):
        assert {key: query_of(found[name]).get(key) for key in expected} == expected, name
    assert query_of(found["Rooms"])["by"] == "room"
    assert query_of(found["Devices"])["by"] == "device"
    assert found["Week"].startswith("/desk/week/") and found["Day"].startswith("/desk/?")
    step = dt.timedelta(days=7 if span else 1)
    previous, following = ("Previous week", "Next week") if span else ("Previous day", "Next day")
    assert query_of(found[f"← {previous}"]) == {"date": str(DAY - step), **kept}
    assert query_of(found[f"{following} →"]) == {"date": str(DAY + step), **kept}
    # The rooms view keeps its columns when stepping.
    rooms = links(desk.get(url + "&by=room").content.decode())
    assert query_of(rooms[f"{following} →"])["by"] == "room"
    # A step drawn by htmx sends the page's view links along, for the new date.
    swapped = desk.get(f"{url}&date={DAY + step}", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="cal-nav" aria-label="Calendar" hx-swap-oob="true"' in swapped
    assert query_of(links(swapped)["Day"])["date"] == str(DAY + step)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


def test_calendar_queries_stay_the_same_with_ten_times_the_sessions(
    desk, seeded, front_desk_user, django_capture_on_commit_callbacks
):
    micro = seeded.levels["micro"]
    urls = [
        f"/desk/?date={DAY}&treatment={micro.pk}",
        f"/desk/?date={DAY}&by=room&treatment={micro.pk}",
        f"/desk/week/?date={DAY}&treatment={micro.pk}",
        f"/desk/week/?date={DAY}&by=device",
    ]
    before = [count_queries(desk, url) for url in urls]
    with django_capture_on_commit_callbacks(execute=True):
        for day in (2, 4, 5, 6):  # the week's other days; Tuesday's own below
            for hour in (9, 10, 11, 12, 13, 14, 15):
                book_with(
                    new_first_session(seeded.micro), at(day, hour), seeded.carla, front_desk_user
                )
        for hour in (12, 13, 15, 16):
            book_with(new_first_session(seeded.micro), at(3, hour), seeded.carla, front_desk_user)
    page = desk.get(urls[2]).content.decode()
    assert page.count('class="cal-event') >= 10 * 3
    assert [count_queries(desk, url) for url in urls] == before
    # session, user, permissions; practitioners with hours, exceptions and modalities; the
    # treatments; the sessions; the free time's requirement, rooms, every room and the
    # reservations; the rooms or devices as columns; the look audited
    assert max(before) <= 15 + 3


def test_a_free_cell_leads_to_booking_that_time_for_that_treatment(desk, seeded):
    micro = seeded.levels["micro"]
    page = desk.get(f"/desk/?date={DAY}&treatment={micro.pk}").content.decode()
    href = html.unescape(FREE.search(page).group(1))
    start = desk.get(href).content.decode()
    assert "Tuesday 3 March 2026, 09:00" in start
    assert f"Free for microdermabrasion, {micro.name} (45 minutes" in start


def test_sessions_are_coloured_by_their_state_and_screening_flag(desk, seeded, frozen):
    from treatments.models import Session

    alices = Session.objects.get(pk=seeded.sessions[0].pk)
    laser = seeded.laser_session
    Session.objects.filter(pk=laser.pk).update(flag=Session.Flag.BLOCKED, flag_reason="Tan")
    frozen.move_to(at(3, 9, 30))
    desk.post(f"/desk/sessions/{alices.pk}/check-in/")
    page = desk.get(f"/desk/?date={DAY}").content.decode()
    assert re.search(rf'status-checked_in"[^>]*>\s*<a href="[^"]*{alices.pk}/">10:00', page)
    assert "cal-event status-booked flagged flag-blocked" in page
    assert "Refused by screening" in page
    # Only a booked session can be dragged: an arrived one is not offered for it.
    assert f'data-session="{alices.pk}"' not in page
    assert f'data-session="{laser.pk}"' in page


def test_a_move_from_the_calendar_answers_in_place(desk, seeded):
    alices = seeded.sessions[0]
    url = f"/desk/sessions/{alices.pk}/move/"
    refused = desk.post(
        url,
        {"starts_at": f"{DAY}T11:45", "practitioner": seeded.daan.user_id},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert "This session cannot move there" in refused.content.decode()
    assert "Daan Bakker already has a session at that time." in refused.content.decode()
    garbage = desk.post(url, {"starts_at": "soon", "practitioner": "x"}, HTTP_HX_REQUEST="true")
    assert garbage.status_code == 400 and "Date and time:" in garbage.content.decode()
    alices.refresh_from_db()
    assert alices.starts_at == at(3, 10) and alices.practitioner_id == seeded.carla.user_id
    moved = desk.post(
        url,
        {"starts_at": f"{DAY}T09:00", "practitioner": seeded.daan.user_id},
        HTTP_HX_REQUEST="true",
    )
    assert moved.status_code == 200
    assert (
        "Session moved to Tuesday 3 March 2026 at 09:00 with Daan Bakker." in moved.content.decode()
    )
    alices.refresh_from_db()
    assert alices.starts_at == at(3, 9) and alices.practitioner_id == seeded.daan.user_id
