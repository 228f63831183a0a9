"""The treatments API: same rules and messages as the pages, in the OpenAPI schema."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from tests.records import arrive, screening_on_record
from tests.services import AUDIT_WRITES
from treatments.models import Screening, Session, TreatmentPlan

from .conftest import at

TODAY = datetime.date(2026, 3, 10)


def test_the_schema_lists_the_treatments_endpoints(client, clinician_user):
    client.force_login(clinician_user)
    schema = client.get(
        reverse("api_schema"), headers={"Accept": "application/vnd.oai.openapi+json"}
    ).json()
    for path in [
        "/api/modalities/",
        "/api/plans/",
        "/api/sessions/{id}/record/",
        "/api/sessions/{id}/screen/",
        "/api/sessions/{id}/aftercare/",
        "/api/screenings/{id}/override/",
        "/api/history/",
    ]:
        assert path in schema["paths"], path


def test_catalogue_is_read_only_and_lists_levels(
    client, front_desk_user, django_assert_num_queries
):
    client.force_login(front_desk_user)
    # session, user, the user's own and their groups' permissions, count, modalities, their
    # levels, their indications
    with django_assert_num_queries(7):
        response = client.get("/api/modalities/")
    modalities = {m["kind"]: m for m in response.json()["results"]}
    assert [level["name"] for level in modalities["microdermabrasion"]["levels"]] == [
        "Level I",
        "Level II",
        "Level III",
    ]
    assert modalities["laser_resurfacing"]["levels"][-1]["depth_micrometres"] == 150
    limited = [t for t in modalities["microdermabrasion"]["treats"] if t["benefit"] == "limited"]
    assert len(limited) == 2
    assert client.post("/api/modalities/", {"name": "x"}).status_code in (403, 405)


def plan_payload(catalogue, patient, **changes):
    return {
        "patient": patient.pk,
        "indication": catalogue.indication("sun-damage").pk,
        "body_area": catalogue.area("face").pk,
        "modality": catalogue.modality("laser_resurfacing").pk,
        "first_date": "2026-03-10",
        **changes,
    }


def test_create_a_plan(client, clinician_user, alice, catalogue):
    client.force_login(clinician_user)
    response = client.post(
        "/api/plans/",
        plan_payload(catalogue, alice, session_count=3),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["sessions_ahead"] == 3
    plan = TreatmentPlan.objects.get()
    sessions = client.get("/api/sessions/", {"patient": alice.pk}).json()["results"]
    assert [s["proposed_date"] for s in sessions] == ["2026-03-10", "2026-04-09", "2026-05-09"]
    assert [s["depth_level"] for s in sessions] == [
        catalogue.level("laser_resurfacing", rank).pk for rank in (1, 2, 3)
    ]
    assert plan.screenings.get().outcome == "clear"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"interval_days": 10}, "interval_days", "at least 21 days between them; 10 is too short"),
        ({"session_count": 1, "levels": "mda"}, "levels", "is not a level of Laser resurfacing"),
    ],
)
def test_wrong_plan_input_is_a_400_with_the_message(
    client, clinician_user, alice, catalogue, changes, field, message
):
    if changes.get("levels") == "mda":
        changes["levels"] = [catalogue.level("microdermabrasion", 1).pk]
    client.force_login(clinician_user)
    response = client.post(
        "/api/plans/", plan_payload(catalogue, alice, **changes), content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not TreatmentPlan.objects.exists()


@time_machine.travel(at(TODAY, 9), tick=False)
def test_screen_override_record_and_aftercare(client, clinician_user, alice, make_plan, catalogue):
    session = make_plan(alice, "microdermabrasion", TODAY).sessions.get(number=1)
    arrive(session, timezone.now())
    client.force_login(clinician_user)
    response = client.post(
        f"/api/sessions/{session.pk}/screen/",
        {"present": [catalogue.factor("rosacea-flare").pk]},
        content_type="application/json",
    )
    assert response.status_code == 201
    screening = response.json()
    assert screening["outcome"] == "relative"
    assert screening["findings"][0]["rule_name"] == "Rosacea flare"

    record = f"/api/sessions/{session.pk}/record/"
    response = client.post(record, {}, content_type="application/json")
    assert response.status_code == 400
    assert "record why you proceed" in response.json()["non_field_errors"][0]

    override = f"/api/screenings/{screening['id']}/override/"
    response = client.post(
        override, {"category": "mild", "reason": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["override_reason"] == [
        "Give the reason for proceeding despite the findings."
    ]
    response = client.post(
        override, {"category": "mild", "reason": "."}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "Say in a sentence" in response.json()["override_reason"][0]
    response = client.post(override, {"reason": "Mild"}, content_type="application/json")
    assert response.status_code == 400
    assert "category" in response.json()
    reason = "Flare on the chin only, cheeks calm today"
    response = client.post(
        override, {"category": "mild", "reason": reason}, content_type="application/json"
    )
    assert response.json()["outcome"] == "overridden"
    assert response.json()["overridden_by"] == clinician_user.pk
    assert response.json()["override_category"] == "mild"

    response = client.post(
        record,
        {"depth_level": catalogue.level("laser_peel", 1).pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "is not a level of Microdermabrasion" in str(response.json())

    response = client.post(record, {"notes": "ok"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    aftercare = client.get(f"/api/sessions/{session.pk}/aftercare/").json()
    assert {"text": "no retinoids", "until": "2026-03-13"} in aftercare


def test_front_desk_reads_plans_but_cannot_screen_or_record(
    client, front_desk_user, alice, make_plan
):
    session = make_plan(alice, "microdermabrasion", TODAY).sessions.get(number=1)
    client.force_login(front_desk_user)
    assert client.get("/api/plans/").status_code == 200
    assert client.get("/api/history/").status_code == 403
    assert client.get("/api/screenings/").status_code == 403
    assert client.post(f"/api/sessions/{session.pk}/screen/", {}).status_code == 403
    assert client.post(f"/api/sessions/{session.pk}/record/", {}).status_code == 403


def test_patients_have_no_access_to_the_staff_api(client, alice, bob, make_plan):
    make_plan(alice, "microdermabrasion", TODAY)
    client.force_login(bob.user)
    for url in ["/api/plans/", "/api/sessions/", "/api/history/", "/api/screenings/"]:
        assert client.get(url).status_code == 403, url
    assert client.get("/api/plans/").status_code == 403
    client.logout()
    assert client.get("/api/plans/").status_code == 401


def test_history_through_the_api(client, clinician_user, alice, catalogue):
    client.force_login(clinician_user)
    response = client.post(
        "/api/history/",
        {"patient": alice.pk, "factor": catalogue.factor("waxing").pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["started_on"] == ["Give the day it happened."]
    response = client.post(
        "/api/history/",
        {"patient": alice.pk, "factor": catalogue.factor("waxing").pk, "started_on": "2026-03-01"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["recorded_by"] == clinician_user.pk
    listed = client.get("/api/history/", {"patient": alice.pk}).json()["results"]
    assert [entry["notes"] for entry in listed] == [""]
    assert AuditEvent.objects.filter(
        action="view", patient_id=alice.pk, object_type="treatments.HistoryEntry", detail="list"
    ).exists()
    client.get(f"/api/history/{listed[0]['id']}/")
    assert AuditEvent.objects.filter(
        action="view", object_type="treatments.HistoryEntry", object_id=str(listed[0]["id"])
    ).exists()


@pytest.mark.parametrize("count", [1, 3])
def test_list_endpoints_do_not_grow_with_data(
    client, clinician_user, alice, make_plan, catalogue, django_assert_num_queries, count
):
    for i in range(count):
        plan = make_plan(alice, "microdermabrasion", TODAY + datetime.timedelta(days=100 * i))
        Session.objects.filter(plan=plan, number=1).update(
            status=Session.Status.COMPLETED, completed_screening=screening_on_record(plan)
        )
    client.force_login(clinician_user)
    # session, user, the user's own and their groups' permissions, count, plans with their
    # progress, and the look at their one patient audited
    with django_assert_num_queries(5 + AUDIT_WRITES):
        assert len(client.get("/api/plans/").json()["results"]) == count
    # session, user, permissions, count, sessions, their areas, and the look audited
    with django_assert_num_queries(6 + AUDIT_WRITES):
        assert len(client.get("/api/sessions/").json()["results"]) == 6 * count
    # session, user, permissions, count, screenings, their findings, and the look audited
    with django_assert_num_queries(6 + AUDIT_WRITES):
        assert len(client.get("/api/screenings/").json()["results"]) == count
    assert Screening.objects.count() == count
