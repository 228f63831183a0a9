"""A clinician opens a course sheet from the photo timeline and sees the redness trend, then
marks a redness region by dragging on a photo: in a real Chromium, under the strict CSP."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from photos import services
from photos.models import CourseSheet, PhotoColour, Status
from tests.browser.test_login import sign_in
from tests.photos import real_photos
from tests.photos.conftest import create_plan
from tests.photos.test_course_sheets import session_photo

pytestmark = pytest.mark.browser


@pytest.fixture
def photographed_course(alice, clinician_user, monkeypatch):
    # The pair and series sheets, redrawn at each upload, are another walk's subject.
    monkeypatch.setattr(services, "_send_sheet_on_commit", lambda comparison_id: None)
    plan = create_plan(alice)
    photos = []
    for number, phase, red in ((1, "before", 0.0), (2, "after", 0.08), (3, "after", 0.16)):
        file = SimpleUploadedFile("p.jpg", real_photos.jpeg(session_photo(red)), "image/jpeg")
        photos.append(
            services.photo_upload(
                session=plan.sessions.get(number=number),
                body_area=plan.body_area,
                view="frontal",
                phase=phase,
                file=file,
                by=clinician_user,
            )
        )
    return photos


def test_a_course_sheet_from_the_timeline_shows_the_redness_trend(
    page, clinician_user, alice, photographed_course
):
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto(f"/photos/patients/{alice.pk}/")

    trend = page.locator("#redness .redness-trend")
    assert trend.locator("circle").count() == 3
    page.locator("#redness select[name=purpose]").select_option("clinical")
    page.get_by_role("button", name="Make a course sheet").click()

    page.wait_for_url("**/photos/course-sheets/*/")
    preview = page.get_by_role("img", name="Course sheet: Face, Frontal")
    preview.wait_for()
    assert page.evaluate("() => document.querySelector('.sheet-preview').naturalWidth") > 1000
    chart = page.locator(".redness-trend svg")
    assert chart.locator("circle").count() == 3
    assert "from the first photo to the latest" in page.locator(".redness-trend").inner_text()
    assert page.get_by_role("link", name="PDF").get_attribute("href").endswith("sheet.pdf")
    assert CourseSheet.objects.get().sheet_status == Status.READY

    # Marking the redness region: chosen, dragged on the photo, saved, measured again.
    latest = photographed_course[-1]
    page.goto(f"/photos/{latest.pk}/")
    page.get_by_label("Redness region", exact=True).check()
    photo = page.locator("#region-canvas img")
    photo.scroll_into_view_if_needed()
    box = photo.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.40, box["y"] + box["height"] * 0.22)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.30, steps=4)
    page.mouse.up()
    assert float(page.locator("#id_redness_region_w").input_value()) == pytest.approx(12, abs=1)
    page.get_by_role("button", name="Save regions").click()
    page.get_by_text("Regions saved").wait_for()
    assert "clinician region" in PhotoColour.objects.get(photo=latest).redness_method
    assert errors == []
