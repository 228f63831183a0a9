"""The DRF endpoints and the clinician's pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from photos.models import Comparison, Photo
from tests.photos import images
from tests.photos.conftest import upload_file


@pytest.fixture
def api(clinician_user):
    client = APIClient()
    client.force_authenticate(clinician_user)
    return client


def post_photo(api, session, name="photo.jpg", data=None, content_type=None, **fields):
    body = {
        "session": session.pk,
        "body_area": session.plan.body_area_id,
        "view": "frontal",
        "phase": "before",
        "purposes": ["clinical", "portal"],
        "file": upload_file(name, data, content_type),
        **fields,
    }
    return api.post("/api/photos/", body, format="multipart")


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_upload_by_api_in_each_format(api, alice_plan, name):
    response = post_photo(
        api, alice_plan.sessions.first(), name, images.SAMPLES[name][1](), images.SAMPLES[name][0]
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["width"] == 600 and sorted(body["purposes"]) == ["clinical", "portal"]
    assert body["original_url"] == reverse("photos:image", args=[body["id"], "original"])


def test_a_bad_file_gets_a_400_with_the_reason(api, alice_plan):
    response = post_photo(api, alice_plan.sessions.first(), "x.jpg", b"<html>", "image/jpeg")
    assert response.status_code == 400
    assert "not a JPEG" in str(response.json()["file"])
    assert Photo.objects.count() == 0


def test_only_clinicians_use_the_api(alice_plan, front_desk_user, alice):
    for user in (front_desk_user, alice.user):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get("/api/photos/").status_code == 403
        assert post_photo(client, alice_plan.sessions.first()).status_code == 403


def test_listing_photos_takes_a_fixed_number_of_queries(
    api, alice_plan, add_photo, django_assert_num_queries
):
    for number in (1, 2, 3):
        add_photo(alice_plan.sessions.get(number=number), phase="after")
    with django_assert_num_queries(5):
        # 1 user permissions, 2 group permissions (IsClinician),
        # 3 count, 4 the page of photos, 5 their derivatives (one prefetch)
        response = api.get(f"/api/photos/?patient={alice_plan.patient_id}")
    assert response.json()["count"] == 3


def test_pairing_can_be_changed_and_released_through_the_api(
    api, alice_plan, add_photo, django_capture_on_commit_callbacks
):
    portal = ("clinical", "portal")
    with django_capture_on_commit_callbacks(execute=True):
        before = add_photo(alice_plan.sessions.get(number=1), purposes=portal)
        after2 = add_photo(alice_plan.sessions.get(number=2), phase="after", purposes=portal)
        add_photo(alice_plan.sessions.get(number=3), phase="after", purposes=portal)
    pair = Comparison.objects.get(kind="pair")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(
            f"/api/comparisons/{pair.pk}/",
            {"before": before.pk, "after": after2.pk, "released_to_portal": True},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["released_to_portal"] is True
    pair.refresh_from_db()
    assert pair.after == after2 and pair.chosen_by is not None
    assert pair.sheet_status == "ready"  # remade once the change was committed
    response = api.post("/api/comparisons/propose/", {"plan": alice_plan.pk}, format="json")
    assert response.status_code == 200 and len(response.json()) == 2
    assert api.get(f"/api/comparisons/?patient={alice_plan.patient_id}").json()["count"] == 2


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/").content.decode()
    assert "/api/photos/" in schema and "/api/comparisons/{id}/" in schema
    assert "multipart/form-data" in schema


def test_the_session_panel_lists_expected_views_and_gaps(
    client, clinician_user, alice_plan, add_photo, django_assert_num_queries
):
    session = alice_plan.sessions.get(number=1)
    add_photo(session, phase="before")
    client.force_login(clinician_user)
    url = reverse("photos:session", args=[session.pk])
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    for view in ("Frontal", "Left 45°", "Right 45°", "Left profile", "Right profile"):
        assert view in page
    assert page.count("Missing") == 9  # ten cells, one filled
    assert 'hx-trigger="every 2s' in page  # derivatives pending: the grid polls
    add_photo(session, phase="after", view="left_45")
    with django_assert_num_queries(7):
        # 1 the login session, 2 its user, 3 user permissions, 4 group permissions,
        # 5 the session with plan, area, modality and patient, 6 its photos, 7 their derivatives
        partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.content.decode().count("Missing") == 8


def test_the_upload_form_without_javascript_reports_each_file(client, clinician_user, alice_plan):
    session = alice_plan.sessions.get(number=1)
    client.force_login(clinician_user)
    response = client.post(
        reverse("photos:session", args=[session.pk]),
        {
            "body_area": alice_plan.body_area_id,
            "view": "frontal",
            "phase": "before",
            "purposes": ["clinical"],
            "files": [upload_file("good.jpg", images.jpeg()), upload_file("bad.jpg", b"nope")],
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "bad.jpg: This file is not a JPEG" in page and "1 photo(s) added" in page
    assert Photo.objects.count() == 1


def test_timeline_and_comparison_viewer(
    client, clinician_user, alice_plan, add_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_photo(alice_plan.sessions.get(number=1))
        add_photo(alice_plan.sessions.get(number=3), phase="after")
    client.force_login(clinician_user)
    timeline = client.get(reverse("photos:timeline", args=[alice_plan.patient_id]))
    assert timeline.status_code == 200 and "Face · Frontal" in timeline.content.decode()
    pair = Comparison.objects.get(kind="pair")
    viewer = client.get(reverse("photos:comparison", args=[pair.pk])).content.decode()
    assert 'id="compare-range"' in viewer and "Sheet ready" in viewer
    assert 'style="' not in viewer  # the CSP forbids inline styles


def test_the_timeline_takes_a_fixed_number_of_queries(
    client,
    clinician_user,
    alice_plan,
    add_photo,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        for number in (1, 2, 3):
            add_photo(alice_plan.sessions.get(number=number), phase="after")
        add_photo(alice_plan.sessions.get(number=1), phase="before")
    client.force_login(clinician_user)
    with django_assert_num_queries(12):
        # 1 the login session, 2 its user, 3 user permissions, 4 group permissions,
        # 5 the patient, 6 the audit actor's groups, 7 the audit chain head (locked),
        # 8 the audit record, 9 the chain head moved on,
        # 10 photos with area and session, 11 their derivatives, 12 comparisons with plan and area
        response = client.get(reverse("photos:timeline", args=[alice_plan.patient_id]))
    assert response.content.decode().count("<img") == 4
