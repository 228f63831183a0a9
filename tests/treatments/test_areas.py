"""Body areas overlap (issue 17, observation 4): the face holds the lips, the eyes, the cheeks,
the forehead, the nose and the chin, so a finding in one concerns a treatment of the other."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.records import arrive
from treatments.models import BodyArea
from treatments.screening import INTERVAL_RULE_NAME, screen
from treatments.services import history_add

from .conftest import at

DAY = datetime.date(2026, 3, 20)
FACE_PARTS = {"around-eyes", "around-lips", "cheeks", "forehead", "nose", "chin"}


def names(findings) -> list[str]:
    return [finding.rule_name for finding in findings]


def run(patient, catalogue, kind, area, on=DAY):
    return screen(
        patient=patient, modality=catalogue.modality(kind), on=on, body_area=catalogue.area(area)
    )


def test_the_face_holds_its_parts(catalogue):
    face = catalogue.area("face")
    assert {area.slug for area in face.children.all()} == FACE_PARTS
    assert face.parent is None
    assert catalogue.area("neck").parent is None


def test_areas_overlap_when_one_holds_the_other_at_any_depth(catalogue):
    from treatments.areas import area_tree

    face, lips, eyes = (catalogue.area(s) for s in ("face", "around-lips", "around-eyes"))
    upper_lip = BodyArea.objects.create(name="Upper lip", slug="upper-lip", parent=lips)
    tree = area_tree()
    assert tree.overlap(face.pk, face.pk)
    assert tree.overlap(face.pk, lips.pk) and tree.overlap(lips.pk, face.pk)
    assert tree.overlap(upper_lip.pk, face.pk) and tree.overlap(face.pk, upper_lip.pk)
    assert not tree.overlap(lips.pk, eyes.pk)  # two parts of the face do not overlap
    assert not tree.overlap(upper_lip.pk, eyes.pk)
    assert not tree.overlap(face.pk, catalogue.area("neck").pk)
    assert tree.overlapping(lips.pk) == {lips.pk, face.pk, upper_lip.pk}


def test_an_area_cannot_hold_itself_or_what_holds_it(catalogue):
    face, lips = catalogue.area("face"), catalogue.area("around-lips")
    face.parent = face
    with pytest.raises(ValidationError, match="cannot be part of itself"):
        face.full_clean()
    face.parent = lips
    with pytest.raises(ValidationError, match="Around the lips is part of Face"):
        face.full_clean()


def test_the_clinic_edits_the_hierarchy_in_the_admin(client, admin_user, alice, catalogue):
    admin_user.is_superuser = admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    lips = catalogue.area("around-lips")
    response = client.post(
        "/admin/treatments/bodyarea/add/",
        {"name": "Upper lip", "slug": "upper-lip", "parent": lips.pk, "extra_sessions_note": ""},
    )
    assert response.status_code == 302, response.content.decode()
    upper_lip = BodyArea.objects.get(slug="upper-lip")
    assert upper_lip.parent == lips
    assert "Around the lips" in client.get("/admin/treatments/bodyarea/").content.decode()
    # A cold sore on the upper lip concerns a full-face treatment.
    history_add(patient=alice, factor=catalogue.factor("cold-sore"), body_area=upper_lip)
    assert names(run(alice, catalogue, "laser_resurfacing", "face")) == ["Active cold sore"]
    # A loop is refused in words.
    face = catalogue.area("face")
    response = client.post(
        f"/admin/treatments/bodyarea/{face.pk}/change/",
        {"name": "Face", "slug": "face", "parent": upper_lip.pk, "extra_sessions_note": ""},
    )
    assert response.status_code == 200
    assert "Upper lip is part of Face" in response.content.decode()
    assert BodyArea.objects.get(pk=face.pk).parent is None


def test_a_cold_sore_around_the_lips_blocks_a_full_face_treatment(alice, catalogue):
    history_add(
        patient=alice,
        factor=catalogue.factor("cold-sore"),
        started_on=DAY - datetime.timedelta(days=1),
        body_area=catalogue.area("around-lips"),
    )
    findings = run(alice, catalogue, "laser_resurfacing", "face")
    assert names(findings) == ["Active cold sore"]
    assert findings[0].is_absolute
    assert names(run(alice, catalogue, "microdermabrasion", "around-lips")) == ["Active cold sore"]
    # Not where it is not: the eyes are another part of the face, the neck is not the face.
    assert run(alice, catalogue, "microdermabrasion", "around-eyes") == []
    assert run(alice, catalogue, "microdermabrasion", "neck") == []


def test_waxing_on_the_face_blocks_an_around_the_lips_laser_peel(alice, catalogue):
    history_add(
        patient=alice,
        factor=catalogue.factor("waxing"),
        started_on=DAY - datetime.timedelta(days=3),
        body_area=catalogue.area("face"),
    )
    findings = run(alice, catalogue, "laser_peel", "around-lips")
    assert names(findings) == ["Waxing of the area in the last 7 days"]
    assert findings[0].is_absolute
    assert run(alice, catalogue, "laser_peel", "neck") == []


def test_the_minimum_interval_holds_across_overlapping_areas(alice, catalogue, session_done):
    session_done(alice, "microdermabrasion", DAY - datetime.timedelta(days=2), area="face")
    findings = run(alice, catalogue, "microdermabrasion", "around-eyes")
    assert names(findings) == [INTERVAL_RULE_NAME]
    assert "at least 7 days" in findings[0].reason
    assert run(alice, catalogue, "microdermabrasion", "neck") == []


@time_machine.travel(at(DAY, 9), tick=False)
def test_the_check_in_screening_finds_a_cold_sore_around_the_lips(
    client, clinician_user, alice, make_plan, catalogue
):
    """Through the API: the history entry as the clinician adds it, then the day's screening
    of a full-face session."""
    session = make_plan(alice, "laser_resurfacing", DAY).sessions.get(number=1)
    arrive(session, timezone.now())
    client.force_login(clinician_user)
    added = client.post(
        "/api/history/",
        {
            "patient": alice.pk,
            "factor": catalogue.factor("cold-sore").pk,
            "started_on": DAY.isoformat(),
            "body_area": catalogue.area("around-lips").pk,
        },
        content_type="application/json",
    )
    assert added.status_code == 201, added.json()
    response = client.post(
        f"/api/sessions/{session.pk}/screen/", {"present": []}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["outcome"] == "blocked"
    assert [f["rule_name"] for f in response.json()["findings"]] == ["Active cold sore"]
