"""A laser resurfacing course goes deeper step by step (superficial, medium, deep): planning or
changing a level against that progression needs a reason (issue 17, observation 12)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from treatments import services

DAY = datetime.date(2026, 6, 1)


@pytest.fixture
def laser(catalogue):
    superficial, medium, deep = (catalogue.level("laser_resurfacing", rank) for rank in (1, 2, 3))
    return catalogue.modality("laser_resurfacing"), superficial, medium, deep


def plan(catalogue, patient, levels, **extra):
    return services.plan_create(
        patient=patient,
        indication=catalogue.indication("sun-damage"),
        body_area=catalogue.area("face"),
        modality=catalogue.modality("laser_resurfacing"),
        first_date=DAY,
        session_count=len(levels),
        levels=levels,
        **extra,
    )


def test_deep_then_superficial_is_not_planned_without_a_reason(alice, catalogue, laser):
    _, superficial, medium, deep = laser
    with pytest.raises(ValidationError, match=r"session 2 goes shallower \(Deep → Superficial\)"):
        plan(catalogue, alice, [deep, superficial])
    with pytest.raises(ValidationError, match=r"session 2 skips a level \(Superficial → Deep\)"):
        plan(catalogue, alice, [superficial, deep])
    course = plan(
        catalogue, alice, [deep, superficial], level_reason="Test patch showed deep is tolerated"
    )
    assert course.sessions.get(number=2).level_reason == "Test patch showed deep is tolerated"
    assert AuditEvent.objects.filter(
        object_id=str(course.pk), detail__contains="Test patch showed deep is tolerated"
    ).exists()
    assert plan(catalogue, alice, [superficial, medium, medium, deep]).sessions.count() == 4


def test_planning_through_the_api_asks_for_the_reason(
    client, clinician_user, alice, catalogue, laser
):
    _, superficial, _, deep = laser
    client.force_login(clinician_user)
    body = {
        "patient": alice.pk,
        "indication": catalogue.indication("sun-damage").pk,
        "body_area": catalogue.area("face").pk,
        "modality": laser[0].pk,
        "first_date": DAY.isoformat(),
        "session_count": 2,
        "levels": [deep.pk, superficial.pk],
    }
    refused = client.post("/api/plans/", body, content_type="application/json")
    assert refused.status_code == 400
    assert "goes shallower" in str(refused.json())
    body["level_reason"] = "Deep tolerated on the test patch"
    assert client.post("/api/plans/", body, content_type="application/json").status_code == 201


def test_a_level_change_against_the_progression_needs_a_reason_on_the_page(
    client, clinician_user, alice, catalogue, laser
):
    _, superficial, medium, deep = laser
    course = plan(catalogue, alice, [superficial, medium, deep])
    second = course.sessions.get(number=2)
    client.force_login(clinician_user)
    url = reverse("treatments:session_level", args=[second.pk])
    page = client.post(url, {"depth_level": superficial.pk}, follow=True).content.decode()
    assert "session 3 skips a level (Superficial → Deep)" in page
    second.refresh_from_db()
    assert second.depth_level == medium
    client.post(url, {"depth_level": superficial.pk, "reason": "Skin reacted strongly last time"})
    second.refresh_from_db()
    assert (second.depth_level, second.level_reason) == (
        superficial,
        "Skin reacted strongly last time",
    )
    assert (
        "Why: Skin reacted strongly last time"
        in client.get(course.get_absolute_url()).content.decode()
    )


def test_courses_whose_levels_do_not_rise_are_free(alice, catalogue):
    levels = [catalogue.level("microdermabrasion", rank) for rank in (3, 1)]
    course = services.plan_create(
        patient=alice,
        indication=catalogue.indication("dull-dry-rough-skin"),
        body_area=catalogue.area("face"),
        modality=catalogue.modality("microdermabrasion"),
        first_date=DAY,
        session_count=2,
        levels=levels,
    )
    assert course.sessions.count() == 2
