"""Colour measured per photo, course sheets (a whole series on a printable page with a text
layer), consent that governs which photos a sheet for education shows, and who may see what:
through the services, the worker's tasks (eager here) and the pages."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader

from audit.models import AuditEvent
from photos import colour, services
from photos.models import Comparison, CourseSheet, PhotoColour, Status
from tests.photos import real_photos
from tests.photos.test_colour import WARM, add_red, with_grey_card

A4_POINTS = (595.28, 841.89)
LETTER_POINTS = (612, 792)


def session_photo(red: float) -> np.ndarray:
    """The astronaut with a grey card, under the warm light of the treatment room, the centre
    reddened by `red` (the course's redness)."""
    face = with_grey_card(real_photos.photo("astronaut"))
    return real_photos.tinted(add_red(face, colour.CENTRAL, red), WARM)


@pytest.fixture
def course(
    request, alice_plan, clinician_user, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """Baseline before in session 1, an after in sessions 2 and 3, redder each time. The
    patient consented to education for the first two only."""
    settings.CLINIC_NAME = "Lumen Test Clinic"
    if "pair_sheets" not in request.fixturenames:
        # The pair and series sheets, redrawn at each upload, are test_comparisons.py's
        # subject; here they would triple the time of every test.
        monkeypatch.setattr(services, "_send_sheet_on_commit", lambda comparison_id: None)
    sessions = {s.number: s for s in alice_plan.sessions.all()}
    plan = [
        (1, "before", 0.0, ("clinical", "portal", "education")),
        (2, "after", 0.08, ("clinical", "portal", "education")),
        (3, "after", 0.16, ("clinical", "portal")),
    ]
    photos = []
    for number, phase, red, purposes in plan:
        file = SimpleUploadedFile("p.jpg", real_photos.jpeg(session_photo(red)), "image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            photos.append(
                services.photo_upload(
                    session=sessions[number],
                    body_area=alice_plan.body_area,
                    view="frontal",
                    phase=phase,
                    purposes=purposes,
                    file=file,
                    by=clinician_user,
                )
            )
    return photos


def request_sheet(plan, clinician_user, captured, purpose="clinical", paper=None):
    with captured(execute=True):
        sheet = services.course_sheet_request(
            plan=plan,
            body_area=plan.body_area,
            view="frontal",
            purpose=purpose,
            paper=paper,
            by=clinician_user,
        )
    sheet.refresh_from_db()
    return sheet


def pdf_of(sheet: CourseSheet) -> PdfReader:
    with default_storage.open(sheet.sheet_pdf_key, "rb") as handle:
        return PdfReader(io.BytesIO(handle.read()))


def test_each_photo_is_white_balanced_by_its_card_and_its_redness_measured(course):
    measured = [PhotoColour.objects.get(photo=photo) for photo in course]
    for row in measured:
        assert row.status == Status.READY
        assert row.balance == PhotoColour.Balance.GREY_CARD
        red, _, blue = row.gains
        assert red < 1 < blue  # the warm light undone
        assert "skin in the central region" in row.redness_method
    rednesses = [row.redness for row in measured]
    assert rednesses[0] < rednesses[1] < rednesses[2], rednesses


def test_the_photo_page_shows_the_redness_and_how_it_was_measured(client, clinician_user, course):
    client.force_login(clinician_user)
    page = client.get(reverse("photos:photo", args=[course[0].pk])).content.decode()
    measured = PhotoColour.objects.get(photo=course[0])
    assert f"a* {measured.redness:.1f}" in page
    assert "White balanced from the grey card found in the photo." in page


def test_the_course_sheet_is_an_a4_page_with_text_dates_and_the_redness_trend(
    alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    sheet = request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks)
    assert sheet.sheet_status == Status.READY, sheet.sheet_reason
    assert sheet.photo_ids == [p.pk for p in course]
    pdf = pdf_of(sheet)
    [page] = pdf.pages
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
        A4_POINTS, abs=0.5
    )
    text = page.extract_text()
    for expected in (
        "Lumen Test Clinic",
        "Face · Frontal · course",
        "Consent purpose: Clinical record",
        "Baseline · 2 Mar 2026",
        "16 Mar 2026",
        "Latest · 30 Mar 2026",
        "Redness (mean CIELAB a*",
    ):
        assert expected in text, expected
    for row in PhotoColour.objects.filter(photo__in=course):
        assert f"Redness a* {row.redness:.1f}" in text
    assert len(page.images) == 3  # the photos, embedded as images: the rest is text
    with default_storage.open(sheet.sheet_jpeg_key, "rb") as handle, Image.open(handle) as jpeg:
        assert jpeg.format == "JPEG" and jpeg.height > jpeg.width  # the same portrait page


def test_letter_paper_when_asked(
    alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    sheet = request_sheet(
        alice_plan, clinician_user, django_capture_on_commit_callbacks, paper="Letter"
    )
    box = pdf_of(sheet).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(LETTER_POINTS)


@pytest.fixture
def pair_sheets():
    """Asked for by a test: the course fixture lets the pair and series sheets be drawn."""


def test_the_pair_sheet_pdf_is_a_page_with_text_too(pair_sheets, course):
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    with default_storage.open(pair.sheet_pdf_key, "rb") as handle:
        [page] = PdfReader(io.BytesIO(handle.read())).pages
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx(A4_POINTS[::-1], abs=0.5)  # A4 landscape, not 1009.92 x 643.2
    text = page.extract_text()
    assert "Lumen Test Clinic" in text and "Session 1 of 3" in text


def test_a_sheet_nothing_is_consented_for_is_refused(
    alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    with pytest.raises(services.ValidationError, match="consented for marketing"):
        request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks, "marketing")
    assert not CourseSheet.objects.exists()


def _eye_detail(image: np.ndarray, region: colour.Region) -> float:
    import cv2

    rows, columns = region.pixels(image.shape)
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)[rows, columns]
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def test_an_education_sheet_shows_only_consented_photos_with_the_eyes_blurred(
    alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    clinical = request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks)
    education = request_sheet(
        alice_plan, clinician_user, django_capture_on_commit_callbacks, "education"
    )
    assert education.sheet_status == Status.READY, education.sheet_reason
    assert education.photo_ids == [course[0].pk, course[1].pk]  # the third is not consented
    text = pdf_of(education).pages[0].extract_text()
    assert "Consent purpose: Education" in text and "Eyes covered" in text
    assert "30 Mar 2026" not in text
    assert education.notes and all("1 face(s) found" in note for note in education.notes)

    as_drawn = np.asarray(pdf_of(clinical).pages[0].images[0].image.convert("RGB"))
    covered = pdf_of(education).pages[0].images[0].image.convert("RGB")
    covered = np.asarray(covered.resize((as_drawn.shape[1], as_drawn.shape[0])))
    [found] = colour.eye_regions(as_drawn, is_face_view=True).regions
    # Its inner part: the two sheets' panels are drawn at different sizes, so the cover's
    # sharp edge may fall a pixel or two inside the band found on the clinical one.
    eyes = colour.Region(
        found.x + found.w * 0.15, found.y + found.h * 0.15, found.w * 0.7, found.h * 0.7
    )
    before, after = _eye_detail(as_drawn, eyes), _eye_detail(covered, eyes)
    assert after < before * 0.05, (before, after)


def test_withdrawing_consent_removes_the_photo_from_the_sheet_at_once(
    client, alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    sheet = request_sheet(
        alice_plan, clinician_user, django_capture_on_commit_callbacks, "education"
    )
    old_pdf = sheet.sheet_pdf_key
    client.force_login(clinician_user)

    with django_capture_on_commit_callbacks(execute=False) as redraw:
        services.photo_consent_update(
            photo=course[1], purposes=["clinical", "portal"], by=clinician_user
        )
    # Before the worker has redrawn it, nothing of the old sheet can be had.
    assert not default_storage.exists(old_pdf)
    url = reverse("photos:course_sheet_file", args=[sheet.pk, "pdf"])
    assert client.get(url).status_code == 404
    assert AuditEvent.objects.filter(
        action="delete", detail__contains="consent withdrawn for photo"
    ).exists()
    for callback in redraw:
        callback()
    sheet.refresh_from_db()
    assert sheet.sheet_status == Status.READY and sheet.photo_ids == [course[0].pk]
    assert "16 Mar 2026" not in pdf_of(sheet).pages[0].extract_text()

    with django_capture_on_commit_callbacks(execute=True):
        services.photo_consent_update(photo=course[0], purposes=["clinical"], by=clinician_user)
    sheet.refresh_from_db()
    assert sheet.sheet_status == Status.FAILED and "removed" in sheet.sheet_reason
    assert not sheet.sheet_pdf_key and not default_storage.exists(old_pdf)
    assert client.get(url).status_code == 404


def test_a_marked_region_is_measured_again_and_the_sheet_redrawn(
    client, alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    sheet = request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks)
    first_inputs = sheet.inputs
    assert services.course_sheet_make(sheet_id=sheet.pk) == "nothing to do"  # ready already
    client.force_login(clinician_user)
    region = {"redness_region_x": 40, "redness_region_y": 22, "redness_region_w": 12}
    region["redness_region_h"] = 8
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("photos:photo_regions", args=[course[2].pk]), region)
    assert response.status_code == 302
    measured = PhotoColour.objects.get(photo=course[2])
    assert measured.redness_method.startswith("mean a* of the clinician region")
    assert measured.redness_region == {"x": 0.4, "y": 0.22, "w": 0.12, "h": 0.08}
    sheet.refresh_from_db()
    assert sheet.sheet_status == Status.READY and sheet.inputs != first_inputs
    assert AuditEvent.objects.filter(detail__startswith="colour regions").exists()
    # Asked again with nothing changed, the worker keeps what it drew.
    services.course_sheets_refresh(photo=course[0])
    assert services.course_sheet_make(sheet_id=sheet.pk) == "unchanged"


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"neutral_patch_x": 10, "neutral_patch_y": 10}, "give its left, top, width and height"),
        (
            {"neutral_patch_x": 90, "neutral_patch_y": 10, "neutral_patch_w": 20},
            "runs off the photo",
        ),
        ({"redness_region_x": "red"}, "Enter a number"),
        ({"redness_region_x": 150}, "less than or equal to 100"),
    ],
)
def test_a_bad_region_is_refused_with_a_message_and_nothing_changes(
    client, clinician_user, course, posted, message
):
    posted = {**posted}
    if "neutral_patch_w" in posted:
        posted["neutral_patch_h"] = 10
    client.force_login(clinician_user)
    response = client.post(reverse("photos:photo_regions", args=[course[0].pk]), posted)
    assert response.status_code == 400
    assert message in response.content.decode()
    course[0].refresh_from_db()
    assert course[0].neutral_patch is None and course[0].redness_region is None


def test_the_timeline_shows_the_redness_trend_and_makes_a_course_sheet(
    client, alice, clinician_user, course, django_assert_max_num_queries
):
    client.force_login(clinician_user)
    url = reverse("photos:timeline", args=[alice.pk])
    with django_assert_max_num_queries(16):
        page = client.get(url).content.decode()
    assert "Redness across the course" in page and "<polyline" in page
    assert page.count("<circle") == 3
    response = client.post(
        reverse("photos:course_sheet_new", args=[alice.pk]),
        {
            "plan": course[0].session.plan_id,
            "body_area": course[0].body_area_id,
            "view": "frontal",
            "purpose": "clinical",
            "paper": "A4",
        },
    )
    sheet = CourseSheet.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{sheet.pk}/")


def test_a_course_sheet_for_another_patients_course_is_refused(
    client, bob, make_plan, clinician_user, course
):
    bobs = make_plan(bob)
    client.force_login(clinician_user)
    response = client.post(
        reverse("photos:course_sheet_new", args=[course[0].patient_id]),
        {"plan": bobs.pk, "body_area": bobs.body_area_id, "view": "frontal", "purpose": "clinical"},
    )
    assert response.status_code == 400
    assert "not this patient" in response.content.decode()
    assert not CourseSheet.objects.exists()


def test_only_clinicians_get_course_sheets_and_every_refusal_is_audited(
    client,
    alice,
    bob,
    front_desk_user,
    clinician_user,
    alice_plan,
    course,
    django_capture_on_commit_callbacks,
):
    sheet = request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks)
    urls = [
        reverse("photos:course_sheet", args=[sheet.pk]),
        reverse("photos:course_sheet_file", args=[sheet.pk, "pdf"]),
        reverse("photos:course_sheet_file", args=[sheet.pk, "jpg"]),
    ]
    for patient in (alice, bob):  # the patient's own course sheet is the clinic's
        client.force_login(patient.user)
        for url in urls:
            assert client.get(url).status_code in (403, 404), url
            assert client.get(url).status_code != 200
    client.force_login(alice.user)
    assert client.get(urls[1]).status_code == 404
    client.force_login(front_desk_user)
    assert client.get(urls[1]).status_code == 403
    refused = AuditEvent.objects.filter(allowed=False, detail="course sheet")
    assert refused.count() >= 3
    client.force_login(clinician_user)
    response = client.get(urls[1])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(
        allowed=True, detail="course sheet pdf", patient_id=alice.pk
    ).exists()


def test_the_portal_shows_the_redness_of_a_released_comparison_only(
    client, alice, clinician_user, pair_sheets, course
):
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    client.force_login(alice.user)
    url = reverse("portal:comparison", args=[pair.pk])
    assert client.get(url).status_code == 404  # not released
    services.comparison_release(comparison=pair, released=True, by=clinician_user)
    page = client.get(url).content.decode()
    before, after = (PhotoColour.objects.get(photo=p).redness for p in (course[0], course[2]))
    assert "Redness" in page and f"{before:.1f}" in page and f"{after:.1f}" in page


def test_a_lost_colour_measure_is_sent_again(
    alice_plan, add_photo, django_capture_on_commit_callbacks
):
    from io import StringIO

    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        photo = add_photo(alice_plan.sessions.get(number=1))
    assert PhotoColour.objects.filter(photo=photo).exists()
    assert services.colour_unmeasured() == []
    PhotoColour.objects.filter(photo=photo).delete()  # its task was lost
    assert services.colour_unmeasured() == [photo.pk]
    out = StringIO()
    call_command("photos_regenerate", stdout=out)
    assert "Queued the colour measure of 1 photo(s)." in out.getvalue()
    assert PhotoColour.objects.filter(photo=photo).exists()  # eager here: measured again


def test_a_series_photo_that_cannot_be_decoded_fails_the_sheet_with_the_reason(
    alice_plan, clinician_user, course, django_capture_on_commit_callbacks
):
    from photos.models import Derivative

    Derivative.objects.filter(photo=course[1], size=2048).update(status=Status.FAILED)
    sheet = request_sheet(alice_plan, clinician_user, django_capture_on_commit_callbacks)
    assert sheet.sheet_status == Status.FAILED
    assert sheet.sheet_reason.startswith("Photo 2 of the series could not be decoded")
