"""Photo capture and the comparison sheet in a real Chromium, under the strict CSP."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from photos.models import Comparison, Derivative, Photo, Status
from photos.queries import TIMELINE_SESSIONS
from photos.services import photo_upload
from tests.browser.test_login import sign_in
from tests.photos import images
from tests.photos.conftest import create_plan

pytestmark = pytest.mark.browser


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Polls a JS arrow function from Python: wait_for_function would need 'unsafe-eval'."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


@pytest.fixture
def alice_plan(alice):
    return create_plan(alice)


def test_a_clinician_uploads_photos_and_views_the_comparison_sheet(
    page, clinician_user, alice_plan, tmp_path
):
    good = tmp_path / "before-front.jpg"
    good.write_bytes(images.jpeg(orientation=6))
    heic = tmp_path / "before-extra.heic"
    heic.write_bytes(images.heic())
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"this is not a photo")
    first = alice_plan.sessions.get(number=1)
    last = alice_plan.sessions.get(number=3)

    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto(f"/photos/sessions/{first.pk}/")
    grid = page.locator("#photo-grid")
    assert grid.get_by_text("Missing").count() == 10  # five face views, before and after
    page.locator("#id_view").select_option("frontal")
    page.locator("#id_phase").select_option("before")
    page.get_by_label("Shown in the portal").check()
    page.set_input_files("#id_files", [str(good), str(heic), str(bad)])
    page.get_by_role("button", name="Upload").click()

    uploads = page.locator("#upload-list li")
    uploads.filter(has_text="notes.jpg").get_by_text("Failed: This file is not a JPEG").wait_for()
    uploads.filter(has_text="before-front.jpg").get_by_text("Uploaded").wait_for()
    uploads.filter(has_text="before-extra.heic").get_by_text("Uploaded").wait_for()
    assert uploads.locator("progress").count() == 3
    # The grid refreshes itself (htmx) and shows the thumbnail of the frontal before.
    grid.locator("img[alt='Frontal before']").wait_for()
    assert grid.get_by_text("Missing").count() == 9
    assert Photo.objects.count() == 2
    assert not Derivative.objects.exclude(status=Status.READY).exists()

    # The after photo, with the capture guide showing the earlier frontal photo.
    after = tmp_path / "after-front.jpg"
    after.write_bytes(images.jpeg())
    page.goto(f"/photos/sessions/{last.pk}/")
    page.locator("#id_view").select_option("frontal")
    page.locator("#id_phase").select_option("after")
    # The baseline lies over the chosen photo's preview (tests/browser/test_capture_guide.py
    # walks the live camera).
    wait_until(page, "() => document.getElementById('guide-overlay').naturalWidth > 0")
    page.get_by_label("Shown in the portal").check()
    page.set_input_files("#id_files", [str(after)])
    wait_until(page, "() => document.getElementById('guide-preview').naturalWidth > 0")
    assert page.locator("#guide-overlay").is_visible()
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-list li").get_by_text("Uploaded").wait_for()

    pair = Comparison.objects.get(kind="pair", view="frontal")
    assert pair.sheet_status == Status.READY
    page.goto(f"/photos/patients/{alice_plan.patient_id}/")
    page.get_by_role("link", name="Face · Frontal · Before and after").click()
    page.get_by_text("Sheet ready").wait_for()
    wait_until(
        page,
        "() => [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)",
    )
    page.locator("#compare-range").fill("80")
    clip = page.locator("#compare-top").evaluate("e => e.style.clipPath")
    assert clip == "inset(0px 20% 0px 0px)" or clip == "inset(0 20% 0 0)"
    page.get_by_role("button", name="Release to the patient's portal").click()
    # Asked once more: the patient will see these photos.
    page.get_by_role("heading", name="Release this comparison to").wait_for()
    page.get_by_role("button", name="Yes, release to the portal").click()
    page.get_by_text("Released to the portal.").wait_for()
    # The reloaded viewer's images are audited as they are served: let them finish before the
    # test ends, or the database flush after it can deadlock with their audit rows.
    wait_until(
        page,
        "() => [...document.querySelectorAll('img')].every(i => i.complete)",
    )
    # The one refused upload logs its 400; anything else (a CSP violation) would show here.
    refused = [e for e in page.console_errors if "status of 400" in e]
    assert len(refused) == 1
    assert [e for e in page.console_errors if e not in refused] == []


def test_older_photos_load_in_place_under_the_csp(page, clinician_user, alice):
    plan = create_plan(alice, sessions=TIMELINE_SESSIONS + 1)
    for session in plan.sessions.all():
        photo_upload(
            session=session,
            body_area=plan.body_area,
            view="frontal",
            phase="after",
            purposes=("clinical",),
            file=SimpleUploadedFile("after.jpg", images.jpeg(), content_type="image/jpeg"),
            by=clinician_user,
        )

    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto(f"/photos/patients/{alice.pk}/")
    sessions = page.locator("section.timeline-session")
    assert sessions.count() == TIMELINE_SESSIONS
    page.get_by_role("link", name="Older photos").click()
    page.get_by_role("heading", name="Session 1 · Microdermabrasion, face").wait_for()
    # Appended below the first page, on the same page; the link is gone with the last page.
    assert sessions.count() == TIMELINE_SESSIONS + 1
    assert page.url.endswith(f"/photos/patients/{alice.pk}/")
    assert page.get_by_role("link", name="Older photos").count() == 0
    wait_until(
        page,
        "() => [...document.querySelectorAll('.timeline img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )
    assert page.console_errors == []


def test_the_session_page_asks_for_a_retake_of_a_shaken_photo(
    page, clinician_user, alice_plan, tmp_path
):
    from tests.photos import real_photos

    photo = real_photos.photo("stereo_motorcycle")
    sharp = tmp_path / "front.jpg"
    sharp.write_bytes(real_photos.jpeg(photo))
    shaken = tmp_path / "left.jpg"
    shaken.write_bytes(real_photos.jpeg(real_photos.shaken(photo, 15, 30)))
    session = alice_plan.sessions.get(number=1)

    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto(f"/photos/sessions/{session.pk}/")
    grid = page.locator("#photo-grid")
    for path, view in ((sharp, "frontal"), (shaken, "left_45")):
        page.locator("#id_view").select_option(view)
        page.locator("#id_phase").select_option("before")
        page.set_input_files("#id_files", [str(path)])
        page.get_by_role("button", name="Upload").click()
        page.locator("#upload-list li").filter(has_text=path.name).get_by_text(
            "Uploaded"
        ).wait_for()
    # The grid refreshes itself until both are scored: one good, one asking for a retake.
    retake = grid.locator("[data-quality='retake']")
    retake.wait_for(timeout=30_000)
    assert "Hold the camera still" in retake.inner_text()
    grid.locator("[data-quality='good']").wait_for(timeout=30_000)
    assert retake.count() == 1
    wait_until(page, "() => [...document.querySelectorAll('img')].every(i => i.complete)")
    assert page.console_errors == []
