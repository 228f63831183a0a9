"""The live capture guide with Chromium's fake camera, the quality score it brings back, and
the hand alignment of the comparison it makes, in a real browser under the strict CSP."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from photos.models import Alignment, Comparison, Photo
from tests.browser.test_login import sign_in
from tests.browser.test_photos import wait_until
from tests.photos.conftest import create_plan

pytestmark = pytest.mark.browser


@pytest.fixture
def tablet_page(browser, live_server):
    """A tablet held upright, camera allowed (the fake camera: tests/services.BROWSER_ARGS)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 834, "height": 1112},
        has_touch=True,
        permissions=["camera"],
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()


def take_photo(page, view: str, phase: str) -> None:
    page.locator("#id_view").select_option(view)
    page.locator("#id_phase").select_option(phase)
    page.get_by_role("button", name="Take photo with the live guide").click()
    wait_until(page, "() => document.getElementById('camera-video').videoWidth > 0")
    assert page.get_by_role("button", name="Take photo with the live guide").is_hidden()
    page.get_by_role("button", name="Take photo", exact=True).click()
    page.locator("#upload-list li").get_by_text("Uploaded").last.wait_for()


def inside(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["y"] >= outer["y"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5
    )


def test_photos_taken_through_the_live_guide_are_scored_compared_and_nudged(
    tablet_page, clinician_user, alice
):
    page = tablet_page
    plan = create_plan(alice)
    first, last = plan.sessions.get(number=1), plan.sessions.get(number=3)
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")

    # The baseline: no earlier photo to lay over the camera, only the framing marks.
    page.goto(f"/photos/sessions/{first.pk}/")
    page.get_by_text("No baseline photo of this view yet").wait_for()
    take_photo(page, "frontal", "before")
    baseline = Photo.objects.get()
    assert (baseline.view, baseline.phase, baseline.content_type) == (
        "frontal",
        "before",
        "image/jpeg",
    )
    assert baseline.is_reference
    assert AuditEvent.objects.filter(action="create", object_id=str(baseline.pk)).exists()
    # The grid refreshes itself until the worker's verdict is in, beside the new thumbnail.
    cell = page.locator(f"#photo-grid [data-photo='{baseline.pk}']")
    cell.locator("[data-quality='good'], [data-quality='retake']").wait_for()
    if baseline.quality.retake:  # the fake camera's pattern may well be judged soft
        assert cell.get_by_role("link", name="Take it again").is_visible()

    # The after photo: the baseline lies over the live camera, as opaque as asked, inside the
    # picture's frame and not over its caption.
    page.goto(f"/photos/sessions/{last.pk}/")
    page.locator("#id_phase").select_option("after")
    page.get_by_text("Baseline: session 1, before").wait_for()
    wait_until(page, "() => document.getElementById('guide-overlay').naturalWidth > 0")
    page.locator("#guide-opacity").fill("70")
    assert page.locator("#guide-overlay").evaluate("e => e.style.opacity") == "0.7"
    take_photo(page, "frontal", "after")
    stage = page.locator("#guide-stage").bounding_box()
    assert inside(page.locator("#guide-overlay").bounding_box(), stage)
    assert inside(page.locator("#camera-video").bounding_box(), stage)
    assert page.locator("#guide-caption").bounding_box()["y"] >= stage["y"] + stage["height"]
    after = Photo.objects.get(phase="after")
    page.locator(
        f"#photo-grid [data-photo='{after.pk}'] [data-quality]:not([data-quality='scoring'])"
    ).wait_for()
    page.get_by_role("button", name="Close the camera").click()

    # The comparison the two make: nudge the after over the before and save it.
    pair = Comparison.objects.get(kind="pair")
    assert (pair.before_id, pair.after_id) == (baseline.pk, after.pk)
    page.goto(f"/photos/comparisons/{pair.pk}/")
    wait_until(page, "() => document.getElementById('nudge-moving').naturalWidth > 0")
    start = {
        name: float(page.locator(f"#id_{name}").input_value())
        for name in ("scale", "rotation_degrees", "tx", "ty")
    }
    page.get_by_role("button", name="Move right").click()
    page.get_by_role("button", name="Move right").click()
    page.get_by_role("button", name="Turn right").click()
    page.get_by_role("button", name="Larger").click()
    moving = page.locator("#nudge-moving")
    assert "rotate(" in moving.evaluate("e => e.style.transform")
    page.get_by_role("button", name="As taken").click()
    assert moving.evaluate("e => e.style.transform") == "none"
    page.get_by_role("button", name="Aligned", exact=True).click()
    page.get_by_role("button", name="Save this alignment").click()
    page.get_by_text("Your alignment is saved").wait_for()

    manual = Alignment.objects.get(source=Alignment.Source.MANUAL)
    assert manual.made_by == clinician_user
    assert manual.tx == pytest.approx(start["tx"] + 0.01, abs=1e-4)
    assert manual.ty == pytest.approx(start["ty"], abs=1e-4)
    assert manual.rotation_degrees == pytest.approx(start["rotation_degrees"] + 0.5, abs=0.01)
    assert manual.scale == pytest.approx(start["scale"] * 1.01, abs=1e-3)
    assert Alignment.objects.filter(source=Alignment.Source.WORKER).exists()  # kept
    assert page.locator("[data-alignment='manual']").is_visible()
    page.get_by_text("Sheet ready").wait_for()
    wait_until(page, "() => [...document.querySelectorAll('img')].every(i => i.complete)")
    assert page.console_errors == []


def test_a_refused_camera_falls_back_to_the_file_chooser_on_a_phone(
    phone_page, clinician_user, alice
):
    page = phone_page
    # As if the clinician said no to the browser's camera question.
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    session = create_plan(alice, sessions=1).sessions.get()
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    page.goto(f"/photos/sessions/{session.pk}/")
    page.get_by_role("button", name="Take photo with the live guide").click()
    page.get_by_text("The camera was refused.").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "id_camera"
    assert page.get_by_role("button", name="Take photo with the live guide").is_visible()
    assert page.get_by_role("button", name="Take photo", exact=True).is_hidden()
    assert page.get_by_role("button", name="Close the camera").is_hidden()
    assert page.locator("#id_camera").get_attribute("capture") == "environment"
    # The guide fits the phone's width.
    width = page.evaluate("() => document.documentElement.clientWidth")
    box = page.locator("#guide-stage").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
