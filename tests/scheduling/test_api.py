"""The booking API: same services, same rules, same messages as the pages."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.scheduling.conftest import at
from tests.scheduling.factories import PlanFactory
from treatments.models import Session


def mornings(session, *, last_day: str = "2026-03-02") -> dict:
    """An availability query for the session: mornings from Monday 2 March."""
    return {
        "session": session.pk,
        "first_day": "2026-03-02",
        "last_day": last_day,
        "mornings_only": "true",
    }


def free(body: dict) -> list[tuple[str, str, int]]:
    """Every free start of an availability answer as (date, local time, practitioner id)."""
    return sorted(
        (day["date"], start, column["id"])
        for day in body["days"]
        for column in day["practitioners"]
        for start in column["starts"]
    )


@pytest.fixture
def api(front_desk_user):
    client = APIClient()
    client.force_authenticate(front_desk_user)
    return client


def test_availability(api, clinic, django_assert_max_num_queries):
    query = mornings(clinic.sessions[0], last_day="2026-03-06")
    # The session, then the search's 19 (see test_the_search_loads_its_data_once).
    with django_assert_max_num_queries(20):
        response = api.get("/api/booking/availability/", query)
    assert response.status_code == 200
    body = response.json()
    # By day, then by practitioner and room, each start a local time in the clinic's zone.
    assert body["session"] == clinic.sessions[0].pk and body["time_zone"] == "Europe/Amsterdam"
    monday = body["days"][0]
    assert monday["date"] == "2026-03-02"
    first = monday["practitioners"][0]
    assert first["starts"][0] == "09:00"  # 09:00+01:00
    assert first["id"] == clinic.carla.user_id and first["room"] == "Room 1"
    assert first["name"] == str(clinic.carla)
    assert body["count"] == len(free(body)) == 5 * 12
    assert [day["date"] for day in body["days"]] == [f"2026-03-0{n}" for n in range(2, 7)]
    assert body["minutes"] == clinic.sessions[0].depth_level.session_minutes
    bad = api.get("/api/booking/availability/", {**query, "last_day": "2026-01-01"})
    assert bad.status_code == 400


def test_a_search_follows_the_patients_record(api, clinic, alice):
    """Isotretinoin stopped 8 September refuses the week (6 months run through 8 March): a
    change to the patient's record alone, not to the calendar."""
    import datetime as dt

    from treatments.models import Factor
    from treatments.services import history_add

    query = mornings(clinic.sessions[0], last_day="2026-03-06")
    assert api.get("/api/booking/availability/", query).json()["count"] == 5 * 12
    history_add(
        patient=alice,
        factor=Factor.objects.get(slug="isotretinoin"),
        started_on=dt.date(2025, 6, 1),
        ended_on=dt.date(2025, 9, 8),
    )
    nothing = api.get("/api/booking/availability/", query).json()
    assert (nothing["count"], nothing["days"]) == (0, [])


def test_an_unknown_or_deleted_session_is_404(api, clinic):
    query = mornings(clinic.sessions[0])
    assert api.get("/api/booking/availability/", {**query, "session": 999_999}).status_code == 404
    assert api.get("/api/booking/availability/", query).status_code == 200
    Session.objects.filter(pk=clinic.sessions[0].pk).delete()
    assert api.get("/api/booking/availability/", query).status_code == 404


def test_book_reschedule_cancel(api, clinic):
    s1, s2 = clinic.sessions[0], clinic.sessions[1]
    uid = clinic.carla.user_id
    booked = api.post(
        f"/api/booking/sessions/{s1.pk}/book/",
        {"starts_at": at(2, 9).isoformat(), "practitioner": uid},
        format="json",
    )
    assert booked.status_code == 201, booked.json()
    assert booked.json()["status"] == "booked"
    assert (
        api.post(
            f"/api/booking/sessions/{s2.pk}/book/",
            {"starts_at": at(9, 9).isoformat(), "practitioner": uid},
            format="json",
        ).status_code
        == 201
    )
    refused = api.post(
        f"/api/booking/sessions/{s2.pk}/reschedule/",
        {"starts_at": at(2, 9).isoformat()},
        format="json",
    )
    assert refused.status_code == 400
    assert "already has a session at that time" in str(refused.json())
    crowding = api.post(
        f"/api/booking/sessions/{s1.pk}/reschedule/",
        {"starts_at": at(4, 9).isoformat()},
        format="json",
    )
    assert crowding.status_code == 400
    assert "at least 7 days before session 2 on Monday 9 March 2026" in str(crowding.json())
    moved = api.post(
        f"/api/booking/sessions/{s1.pk}/reschedule/",
        {"starts_at": at(2, 11).isoformat()},
        format="json",
    )
    assert moved.status_code == 200
    assert moved.json()["warnings"] == []
    cancelled = api.post(
        f"/api/booking/sessions/{s1.pk}/cancel/",
        {"cancelled_by": "clinic", "reason": "Laser broken"},
        format="json",
    )
    assert cancelled.json()["status"] == "cancelled"
    nobody = api.post(
        f"/api/booking/sessions/{s2.pk}/cancel/", {"cancelled_by": "x"}, format="json"
    )
    assert nobody.status_code == 400


def test_course_booking_all_or_none(api, clinic):
    uid = clinic.carla.user_id
    items = [
        {"session": s.pk, "starts_at": at(2 + 7 * i, 9).isoformat(), "practitioner": uid}
        for i, s in enumerate(clinic.sessions[:3])
    ]
    items[2]["starts_at"] = at(10, 9).isoformat()  # one day after session 2
    refused = api.post(
        f"/api/booking/plans/{clinic.plan.pk}/book/", {"sessions": items}, format="json"
    )
    assert refused.status_code == 400 and "Nothing was booked." in str(refused.json())
    assert not Session.objects.filter(status="booked").exists()
    items[2]["starts_at"] = at(23, 9).isoformat()
    ok = api.post(f"/api/booking/plans/{clinic.plan.pk}/book/", {"sessions": items}, format="json")
    assert ok.status_code == 201 and len(ok.json()) == 3


def test_only_front_desk_staff(clinic, persona):
    client = APIClient()
    client.force_authenticate(persona("alice"))
    assert client.get("/api/booking/availability/").status_code == 403
    assert APIClient().get("/api/booking/availability/").status_code == 401


def test_the_endpoints_are_in_the_openapi_schema(api, admin_user):
    api.force_authenticate(admin_user)
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in [
        "/api/booking/availability/",
        "/api/booking/sessions/{id}/book/",
        "/api/booking/sessions/{id}/reschedule/",
        "/api/booking/sessions/{id}/cancel/",
        "/api/booking/plans/{plan_id}/book/",
    ]:
        assert path in paths, path


def test_availability_is_searched_again_after_a_committed_booking(api, clinic, bob, committed):
    """The search is kept per calendar version: a slot booked for another patient goes."""
    query = mornings(clinic.sessions[0])
    nine = at(2, 9).isoformat()

    def carla_at_nine():
        body = api.get("/api/booking/availability/", query).json()
        return ("2026-03-02", "09:00", uid) in free(body)

    uid = clinic.carla.user_id
    with committed():  # the clinic as set up, committed
        bobs = PlanFactory(patient=bob, modality=clinic.micro, session_count=1).sessions.get()
    assert carla_at_nine()
    with committed():
        booked = api.post(
            f"/api/booking/sessions/{bobs.pk}/book/",
            {"starts_at": nine, "practitioner": uid},
            format="json",
        )
    assert booked.status_code == 201
    assert not carla_at_nine()


def test_availability_drops_a_slot_once_it_has_started(api, clinic, frozen):
    query = mornings(clinic.sessions[0])
    first = free(api.get("/api/booking/availability/", query).json())[0]
    frozen.move_to(at(2, 9, 5))
    later = free(api.get("/api/booking/availability/", query).json())
    assert later and all(slot[:2] > first[:2] for slot in later)


def test_the_desk_is_told_of_a_relative_finding_when_booking(api, clinic, alice, front_desk_user):
    """A finding the clinician decides at check-in (here: rosacea on record) does not stop the
    booking, but the desk hears of it, on the API and on the page."""
    import datetime as dt

    from treatments.models import Factor, ScreeningRule
    from treatments.services import history_add

    rosacea = Factor.objects.get(slug="rosacea-flare")
    rule = ScreeningRule.objects.create(
        name="Rosacea on record",
        factor=rosacea,
        window=365,
        severity=ScreeningRule.Severity.RELATIVE,
        reason="Rosacea may flare after treatment",
    )
    rule.modalities.set([clinic.micro])
    history_add(patient=alice, factor=rosacea, started_on=dt.date(2026, 2, 1))
    first, second = clinic.sessions[0], clinic.sessions[1]
    booked = api.post(
        f"/api/booking/sessions/{first.pk}/book/",
        {"starts_at": "2026-03-02T09:00:00+01:00", "practitioner": clinic.carla.user_id},
        format="json",
    )
    assert booked.status_code == 201
    assert any("Rosacea may flare" in warning for warning in booked.json()["warnings"])
    client = Client()
    client.force_login(front_desk_user)
    page = client.post(
        f"/desk/sessions/{second.pk}/book/",
        {"starts_at": "2026-03-16T09:00", "practitioner": clinic.carla.user_id},
        follow=True,
    )
    assert "A clinician decides at check-in: Rosacea may flare" in page.content.decode()
