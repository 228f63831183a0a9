"""The DRF endpoints and the clinician's pages."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from photos.models import Comparison, Photo
from photos.queries import TIMELINE_SESSIONS
from tests.photos import images
from tests.photos.conftest import upload_file
from tests.services import AUDIT_WRITES


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
    assert body["original_url"] == f"/api/photos/{body['id']}/image/original/"


def test_a_camera_jpeg_with_a_second_image_is_accepted_by_api_and_page(
    api, client, clinician_user, alice_plan, django_capture_on_commit_callbacks
):
    """Fujifilm MPOs and phones' JPEGs with depth or gain maps were refused as not a JPEG."""
    session = alice_plan.sessions.first()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_photo(api, session, "DSCF0001.JPG", images.mpo(), "image/jpeg")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 600, 400)
    assert {d["status"] for d in body["derivatives"]} == {"pending"}
    photo = Photo.objects.get(pk=body["id"])
    for derivative in photo.derivatives.all():
        assert derivative.status == "ready" and (derivative.width > derivative.height)
    client.force_login(clinician_user)
    page = client.post(
        reverse("photos:session", args=[session.pk]),
        {
            "body_area": alice_plan.body_area_id,
            "view": "left_45",
            "phase": "before",
            "purposes": ["clinical"],
            "files": [upload_file("IMG_0001.jpg", images.mpo(orientation=6), "image/jpeg")],
        },
    )
    assert page.status_code == 302
    assert Photo.objects.count() == 2


def test_a_capture_date_far_from_the_session_is_flagged_at_upload(
    api, client, clinician_user, alice_plan, settings
):
    settings.PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS = 2
    session = alice_plan.sessions.get(number=1)  # 2 March 2026
    old = images.jpeg(when="2008:05:20 14:00:00")
    response = post_photo(api, session, "photo.jpg", old, "image/jpeg")
    assert response.status_code == 201, response.content
    warning = response.json()["capture_date_warning"]
    assert "20 May 2008" in warning and "2 Mar 2026" in warning
    assert api.get(f"/api/photos/{response.json()['id']}/").json()["capture_date_warning"]
    near = images.jpeg(when="2026:03:04 09:00:00")  # two days after: within the setting
    response = post_photo(api, session, "photo.jpg", near, "image/jpeg")
    assert response.json()["capture_date_warning"] is None
    no_date = images.png()  # no EXIF date: nothing to compare
    response = post_photo(api, session, "photo.png", no_date, "image/png")
    assert response.json()["capture_date_warning"] is None

    client.force_login(clinician_user)
    page = client.post(
        reverse("photos:session", args=[session.pk]),
        {
            "body_area": alice_plan.body_area_id,
            "view": "left_45",
            "phase": "before",
            "purposes": ["clinical"],
            "files": [upload_file("IMG_2008.jpg", old)],
        },
        follow=True,
    )
    text = page.content.decode()
    assert page.status_code == 200 and "1 photo(s) added" in text
    assert "IMG_2008.jpg: " in text and "20 May 2008" in text


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_the_web_process_reads_only_an_uploads_header_the_worker_decodes_it(
    api, alice_plan, name, django_capture_on_commit_callbacks
):
    """Decoding in the web process cost it ~200 MB for a 192 KB, 59 MP PNG. Pillow counts every
    image it allocates pixels for: an upload must allocate none until the worker runs."""
    from PIL import Image

    content_type, make = images.SAMPLES[name]
    data = make()
    allocated = Image.core.get_stats()["new_count"]
    with django_capture_on_commit_callbacks(execute=False) as sends:
        response = post_photo(api, alice_plan.sessions.first(), name, data, content_type)
    assert response.status_code == 201, response.content
    assert Image.core.get_stats()["new_count"] == allocated  # no pixels decoded
    assert response.json()["width"] == 600 and response.json()["height"] == 400
    for send in sends:  # the worker's turn
        send()
    photo = Photo.objects.get(pk=response.json()["id"])
    assert set(photo.derivatives.values_list("status", flat=True)) == {"ready"}


def test_a_59_megapixel_png_costs_the_web_process_no_decoded_pixels(api, alice_plan, settings):
    from PIL import Image

    data = images.big_blank("PNG")
    assert len(data) < 200 * 1024
    allocated = Image.core.get_stats()["new_count"]
    response = post_photo(api, alice_plan.sessions.first(), "big.png", data, "image/png")
    assert response.status_code == 201, response.content
    assert Image.core.get_stats()["new_count"] == allocated
    settings.PHOTOS_MAX_PIXELS = 50_000_000  # the limit is checked from the header alone
    response = post_photo(api, alice_plan.sessions.first(), "big.png", data, "image/png")
    assert response.status_code == 400
    assert "more than 50 megapixels" in str(response.json()["file"])
    assert Image.core.get_stats()["new_count"] == allocated


def fetch(client, url):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_a_token_client_can_fetch_every_image_it_uploaded(
    alice_plan, clinician_user, django_capture_on_commit_callbacks
):
    """The API's image links answered a token client with a redirect to the login page."""
    from tests.factories import PASSWORD

    client = APIClient()
    signed_in = client.post(
        "/api/auth/token/", {"username": clinician_user.username, "password": PASSWORD}
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {signed_in.json()['token']}")
    data = images.jpeg()
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = post_photo(client, alice_plan.sessions.get(number=1), data=data)
        post_photo(client, alice_plan.sessions.get(number=3), data=data, phase="after")
    assert uploaded.status_code == 201, uploaded.content
    photo = client.get(f"/api/photos/{uploaded.json()['id']}/").json()
    response, body = fetch(client, photo["original_url"])
    assert response.status_code == 200, response.get("Location")
    assert body == data and response["Content-Type"] == "image/jpeg"
    for derivative in photo["derivatives"]:
        response, body = fetch(client, derivative["url"])
        assert response.status_code == 200, (derivative["size"], response.get("Location"))
        assert body[:3] == b"\xff\xd8\xff" and response["Cache-Control"] == "private, no-store"
    [pair] = client.get("/api/comparisons/", {"patient": alice_plan.patient_id}).json()["results"]
    for url, content_type in (
        (pair["sheet_jpeg_url"], "image/jpeg"),
        (pair["sheet_pdf_url"], "application/pdf"),
    ):
        response, body = fetch(client, url)
        assert response.status_code == 200, (url, response.get("Location"))
        assert response["Content-Type"] == content_type and body
    # Without credentials: the API's own 401, not the sign-in page.
    assert APIClient().get(photo["original_url"]).status_code == 401
    assert APIClient().get(pair["sheet_pdf_url"]).status_code == 401


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
    with django_assert_num_queries(4 + AUDIT_WRITES):
        # 1 user and group permissions (IsClinician),
        # 2 count, 3 the page of photos, 4 their derivatives (one prefetch), and the look at
        # the patient on the page audited
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
    with django_assert_num_queries(6 + AUDIT_WRITES):
        # 1 the login session, 2 its user, 3 user and group permissions,
        # 4 the session with plan, area, modality and patient, 5 its photos, 6 their derivatives,
        # and the look audited
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
    make_plan,
    alice,
    add_photo,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    plan = make_plan(alice, sessions=2 * TIMELINE_SESSIONS + 1)
    sessions = list(plan.sessions.order_by("number"))
    with django_capture_on_commit_callbacks(execute=True):
        add_photo(sessions[0], phase="before")
        add_photo(sessions[0], phase="after")
    client.force_login(clinician_user)
    url = reverse("photos:timeline", args=[alice.pk])

    def timeline(page=None):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page": page} if page else {})
        assert response.status_code == 200
        return len(queries), response.content.decode()

    small, page = timeline()
    assert page.count("<img") == 2
    # Every session gets photos: three pages of sessions, more views, more thumbnails.
    with django_capture_on_commit_callbacks(execute=True):
        for session in sessions[1:]:
            add_photo(session, phase="after")
            add_photo(session, phase="before", view="left_45")
    with django_assert_num_queries(9 + AUDIT_WRITES):
        # 1 the login session, 2 its user, 3 user and group permissions with the group names,
        # 4 the patient, 5 a page of sessions with photos (one more to know there is an older
        # page) with plan, modality and area, 6 their photos with area and grid thumbnail,
        # 7 comparisons with plan and area, 8 the redness of every measured photo with its
        # session, course and area, 9 the course sheets, then the audit writes (the actor's
        # role from the group names read in 3)
        response = client.get(url)
    assert response.content.decode().count("<img") == 2 * TIMELINE_SESSIONS
    assert small == 9 + AUDIT_WRITES
    # Older pages: the same, without the comparisons, the redness and the course sheets
    # (they head the first page only).
    assert timeline(2)[0] == timeline(3)[0] == small - 3
    assert timeline(3)[1].count("<img") == 2


def test_the_timeline_shows_sessions_newest_first_a_page_at_a_time(
    client, clinician_user, make_plan, alice, add_photo, django_capture_on_commit_callbacks
):
    plan = make_plan(alice, sessions=TIMELINE_SESSIONS + 2)
    with django_capture_on_commit_callbacks(execute=True):
        for session in plan.sessions.all():
            add_photo(session, phase="after")
    client.force_login(clinician_user)
    url = reverse("photos:timeline", args=[alice.pk])
    numbers = list(range(TIMELINE_SESSIONS + 2, 0, -1))  # newest first

    first = client.get(url).content.decode()
    shown = [int(n) for n in re.findall(r">Session (\d+) ·", first)]
    assert shown == numbers[:TIMELINE_SESSIONS]
    assert "Comparisons" in first and "Face · Frontal · After" in first
    assert f'href="{url}?page=2" rel="next"' in first and 'hx-get="' in first

    # Without JavaScript the link opens page 2 as a whole page.
    second = client.get(url, {"page": "2"}).content.decode()
    assert [int(n) for n in re.findall(r">Session (\d+) ·", second)] == numbers[TIMELINE_SESSIONS:]
    assert "<html" in second and "Comparisons" not in second
    assert "Older photos" not in second  # the last page

    # With htmx it gets only the next sessions, which replace the link in place.
    partial = client.get(url, {"page": "2"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    assert [int(n) for n in re.findall(r">Session (\d+) ·", partial)] == numbers[TIMELINE_SESSIONS:]

    # Each page shown is audited as a view of the patient's photos.
    details = list(
        AuditEvent.objects.filter(patient_id=alice.pk, action="view").values_list(
            "detail", flat=True
        )
    )
    assert sorted(details) == ["photos", "photos page 2", "photos page 2"]


@pytest.mark.parametrize(
    ("page", "status", "message"),
    [
        ("two", 400, "Pages are numbered 1, 2, 3 and so on."),
        ("0", 400, "Pages are numbered 1, 2, 3 and so on."),
        ("-1", 400, "Pages are numbered 1, 2, 3 and so on."),
        ("1.5", 400, "Pages are numbered 1, 2, 3 and so on."),
        ("", 400, "Pages are numbered 1, 2, 3 and so on."),
        ("3", 404, "There is no page 3: this patient&#x27;s photos end before it."),
        ("9" * 30, 404, "There is no page 9999"),
    ],
)
def test_a_page_number_that_is_no_page_gets_a_clear_answer(
    client, clinician_user, alice_plan, add_photo, page, status, message
):
    add_photo(alice_plan.sessions.get(number=1))
    client.force_login(clinician_user)
    response = client.get(reverse("photos:timeline", args=[alice_plan.patient_id]), {"page": page})
    assert response.status_code == status
    assert message in response.content.decode()
    assert "photos/1/grid" not in response.content.decode()
    assert not AuditEvent.objects.filter(detail__startswith="photos").exists()


def test_a_patient_without_photos_has_an_empty_timeline(client, clinician_user, alice_plan):
    client.force_login(clinician_user)
    url = reverse("photos:timeline", args=[alice_plan.patient_id])
    assert "No photos yet." in client.get(url).content.decode()
    assert client.get(url, {"page": "2"}).status_code == 404


def test_releasing_to_the_portal_is_asked_once_more_withdrawing_is_not(
    client, clinician_user, alice_plan, add_photo, django_capture_on_commit_callbacks
):
    portal = ("clinical", "portal")
    with django_capture_on_commit_callbacks(execute=True):
        add_photo(alice_plan.sessions.get(number=1), purposes=portal)
        add_photo(alice_plan.sessions.get(number=3), phase="after", purposes=portal)
    pair = Comparison.objects.get(kind="pair")
    client.force_login(clinician_user)
    url = reverse("photos:comparison_release", args=[pair.pk])
    asked = client.post(url, {"release": "1"})
    html = asked.content.decode()
    assert asked.status_code == 200
    assert f"Release this comparison to {alice_plan.patient.full_name}" in html
    assert 'name="release" value="1"' in html and 'name="confirmed" value="yes"' in html
    pair.refresh_from_db()
    assert not pair.released_to_portal  # nothing shown to the patient before the answer
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"release": "1", "confirmed": "yes"}).status_code == 302
    pair.refresh_from_db()
    assert pair.released_to_portal
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"release": "0"}).status_code == 302
    pair.refresh_from_db()
    assert not pair.released_to_portal


def test_an_upload_cannot_give_a_use_the_patient_withdrew(client, clinician_user, alice_plan):
    """Alice took marketing back in the portal: the upload form's box does not give it back
    to a new photo (the page says why; nothing is stored), and what she allows still goes."""
    from treatments import consents

    alice = alice_plan.patient
    consents.photo_consent_record(
        patient=alice, purposes=["clinical", "marketing"], source="staff", by=clinician_user
    )
    consents.photo_consent_record(
        patient=alice, purposes=["clinical"], source="portal", by=alice.user
    )
    session = alice_plan.sessions.get(number=1)
    client.force_login(clinician_user)
    fields = {"body_area": alice_plan.body_area_id, "view": "frontal", "phase": "before"}
    response = client.post(
        reverse("photos:session", args=[session.pk]),
        {
            **fields,
            "purposes": ["clinical", "marketing"],
            "files": [upload_file("a.jpg", images.jpeg())],
        },
    )
    assert response.status_code == 400
    assert "photo consent does not cover marketing" in response.content.decode()
    assert not Photo.objects.exists()
    response = client.post(
        reverse("photos:session", args=[session.pk]),
        {**fields, "purposes": ["clinical"], "files": [upload_file("b.jpg", images.jpeg())]},
    )
    assert response.status_code == 302
    assert Photo.objects.get().purposes == ["clinical"]


def test_a_photos_page_or_the_api_cannot_give_it_a_use_the_patient_withdrew(
    client, clinician_user, alice_plan, add_photo
):
    """Alice took marketing back after the photo was taken: neither the photo page's boxes nor
    the API give it back (a clear message, nothing changed); a use she allows still can be
    given, and any can be taken away."""
    from treatments import consents

    alice = alice_plan.patient
    consents.photo_consent_record(
        patient=alice, purposes=["clinical", "portal"], source="staff", by=clinician_user
    )
    photo = add_photo(alice_plan.sessions.get(number=1), purposes=["clinical"])
    consents.photo_consent_record(
        patient=alice,
        purposes=["clinical", "portal", "marketing"],
        source="staff",
        by=clinician_user,
    )
    consents.photo_consent_record(
        patient=alice, purposes=["clinical", "portal"], source="portal", by=alice.user
    )
    client.force_login(clinician_user)
    page = reverse("photos:photo", args=[photo.pk])
    response = client.post(page, {"purposes": ["clinical", "marketing"]})
    assert response.status_code == 400
    assert "photo consent does not cover marketing" in response.content.decode()
    api = APIClient()
    api.force_authenticate(clinician_user)
    response = api.put(
        f"/api/photos/{photo.pk}/consent/", {"purposes": ["clinical", "marketing"]}, format="json"
    )
    assert response.status_code == 400
    assert "photo consent does not cover marketing" in str(response.json())
    photo.refresh_from_db()
    assert photo.purposes == ["clinical"]
    assert client.post(page, {"purposes": ["clinical", "portal"]}).status_code == 302
    photo.refresh_from_db()
    assert sorted(photo.purposes) == ["clinical", "portal"]


def test_a_page_loaded_before_a_withdrawal_does_not_give_the_use_back(
    alice_plan, add_photo, clinician_user
):
    """The clinician's request loaded the photo (marketing ticked); Alice withdrew marketing in
    the portal meanwhile; saving the boxes as they were shown is refused, not a silent undo."""
    from django.core.exceptions import ValidationError

    from photos import services
    from treatments import consents

    alice = alice_plan.patient
    consents.photo_consent_record(
        patient=alice,
        purposes=["clinical", "portal", "marketing"],
        source="staff",
        by=clinician_user,
    )
    photo = add_photo(alice_plan.sessions.get(number=1), purposes=["clinical", "marketing"])
    loaded = Photo.objects.get(pk=photo.pk)
    consents.photo_consent_record(
        patient=alice, purposes=["clinical", "portal"], source="portal", by=alice.user
    )
    with pytest.raises(ValidationError, match="does not cover marketing"):
        services.photo_consent_update(
            photo=loaded, purposes=["clinical", "portal", "marketing"], by=clinician_user
        )
    assert Photo.objects.get(pk=photo.pk).purposes == ["clinical"]
    services.photo_consent_update(photo=loaded, purposes=["clinical", "portal"], by=clinician_user)
    assert sorted(Photo.objects.get(pk=photo.pk).purposes) == ["clinical", "portal"]


def test_a_withdrawal_reaches_each_photo_in_a_few_queries(alice_plan, add_photo, clinician_user):
    """Withdrawing marketing writes each photo that held it with its audit (and its course
    sheets), under the lock the withdrawal already holds: no photo is read or checked again
    (it took 22 queries a photo; 7 now)."""
    from treatments import consents

    alice = alice_plan.patient

    def withdrawal_queries(photos: int) -> int:
        consents.photo_consent_record(
            patient=alice, purposes=["clinical", "marketing"], source="staff", by=clinician_user
        )
        Photo.objects.update(consent_marketing=True)
        while Photo.objects.count() < photos:
            add_photo(alice_plan.sessions.get(number=1), purposes=["clinical", "marketing"])
        with CaptureQueriesContext(connection) as queries:
            consents.photo_consent_record(
                patient=alice, purposes=["clinical"], source="portal", by=alice.user
            )
        assert not Photo.objects.filter(consent_marketing=True).exists()
        return len(queries.captured_queries)

    one, five = withdrawal_queries(1), withdrawal_queries(5)
    assert five - one <= 4 * 7
