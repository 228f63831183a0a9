"""The capture-quality score and the aligned comparison, through the services, the worker's
tasks (eager here; tests/photos/test_worker.py runs a real worker), the pages and the API."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from io import StringIO

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from photos import imaging, services
from photos.models import DERIVATIVE_VERSION, Alignment, Comparison, Derivative, PhotoQuality
from tests.photos import real_photos


@pytest.fixture
def upload(clinician_user, django_capture_on_commit_callbacks):
    """Uploads pixels as a JPEG and runs the worker's tasks (derivatives, score, sheet)."""

    def add(session, pixels: np.ndarray, *, phase: str = "before", view: str = "frontal"):
        file = SimpleUploadedFile("photo.jpg", real_photos.jpeg(pixels), "image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            return services.photo_upload(
                session=session,
                body_area=session.plan.body_area,
                view=view,
                phase=phase,
                file=file,
                by=clinician_user,
            )

    return add


SHARP = "stereo_motorcycle"


def test_an_upload_is_scored_once_its_derivatives_are_made(alice_plan, upload):
    photo = upload(alice_plan.sessions.get(number=1), real_photos.photo(SHARP))
    quality = PhotoQuality.objects.get(photo=photo)
    assert not quality.retake
    verdicts = {f["measure"]: f["verdict"] for f in quality.findings}
    assert verdicts == {
        "sharpness": "good",
        "exposure": "good",
        "colour": "good",
        "framing": "unknown",  # it is the baseline
    }
    assert quality.sharpness > 30 and quality.baseline is None


def test_a_blurred_upload_asks_for_a_retake_on_the_page_and_the_api(
    alice_plan, upload, client, clinician_user
):
    session = alice_plan.sessions.get(number=1)
    photo = upload(session, real_photos.blurred(real_photos.photo(SHARP), 3.0))
    client.force_login(clinician_user)
    page = client.get(reverse("photos:session", args=[session.pk])).content.decode()
    assert "Retake this photo" in page
    assert "Hold the camera still" in page
    detail = client.get(reverse("photos:photo", args=[photo.pk])).content.decode()
    assert "Capture quality" in detail and "Blurred" in detail
    api = APIClient()
    api.force_authenticate(clinician_user)
    body = api.get(f"/api/photos/{photo.pk}/").json()
    assert body["quality"]["retake"] is True
    [problem] = [f for f in body["quality"]["findings"] if f["verdict"] == "retake"]
    assert problem["measure"] == "sharpness"
    assert problem["hint"].startswith("Hold the camera still")


def test_an_over_exposed_upload_asks_for_a_retake(alice_plan, upload, client, clinician_user):
    session = alice_plan.sessions.get(number=1)
    upload(session, real_photos.exposed(real_photos.photo(SHARP), 2.0))
    client.force_login(clinician_user)
    page = client.get(reverse("photos:session", args=[session.pk])).content.decode()
    assert "Retake this photo" in page and "move away from the window" in page


def test_a_photo_is_framed_against_its_baseline(alice_plan, upload):
    baseline = real_photos.photo(SHARP)
    upload(alice_plan.sessions.get(number=1), baseline)
    # A camera too close: the new photo shows 80 % of the baseline's width, enlarged.
    closer = real_photos.moved(baseline, real_photos.similarity(0.8, 0.0, 0.1, 0.07))
    later = upload(alice_plan.sessions.get(number=2), closer, phase="after")
    quality = PhotoQuality.objects.select_related("framing").get(photo=later)
    assert quality.framing.ok
    assert quality.framing.scale == pytest.approx(0.8, abs=0.02)
    [framing] = [f for f in quality.findings if f["measure"] == "framing"]
    assert framing["verdict"] == "retake"
    assert framing["hint"].startswith("Step back")
    assert quality.retake


def _panel(sheet: Image.Image, index: int, size: tuple[int, int]) -> np.ndarray:
    """A panel's photo cut out of a two-panel sheet (imaging.render_sheet's layout), less a
    margin where an aligned photo leaves the frame uncovered."""
    box, margin, gap, header = imaging.sheet_box(2), 40, 24, 130
    left = margin + index * (box + gap) + (box - size[0]) // 2
    top = header + (box - size[1]) // 2
    inset = 120
    crop = sheet.crop((left + inset, top + inset, left + size[0] - inset, top + size[1] - inset))
    return np.asarray(crop, dtype=float)


def test_the_sheet_is_drawn_from_the_aligned_pair(alice_plan, upload, client, clinician_user):
    before = real_photos.photo(SHARP)
    moved = real_photos.moved(before, real_photos.similarity(1.12, 6.0, -0.05, 0.01), gain=1.1)
    upload(alice_plan.sessions.get(number=1), before)
    after = upload(alice_plan.sessions.get(number=2), moved, phase="after")
    comparison = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    assert comparison.sheet_status == "ready" and comparison.after_id == after.pk
    alignment = Alignment.objects.get(reference=comparison.before, moving=after)
    assert alignment.ok and alignment.scale == pytest.approx(1.12, abs=0.02)

    with default_storage.open(comparison.sheet_jpeg_key, "rb") as handle:
        sheet = Image.open(io.BytesIO(handle.read())).convert("RGB")
    box = imaging.sheet_box(2)
    size = (box, round(box * before.shape[0] / before.shape[1]))
    drawn_before, drawn_after = _panel(sheet, 0, size), _panel(sheet, 1, size)
    as_taken = np.asarray(
        Image.fromarray(moved).resize(size, Image.Resampling.LANCZOS), dtype=float
    )[120:-120, 120:-120]
    aligned_difference = np.abs(drawn_after - drawn_before).mean()
    unaligned_difference = np.abs(as_taken - drawn_before).mean()
    assert aligned_difference < unaligned_difference / 2, (aligned_difference, unaligned_difference)
    # The originals are untouched: the after's original is the uploaded file, byte for byte.
    with default_storage.open(after.storage_key, "rb") as handle:
        assert handle.read() == real_photos.jpeg(moved)

    client.force_login(clinician_user)
    page = client.get(reverse("photos:comparison", args=[comparison.pk])).content.decode()
    assert 'data-alignment="ok"' in page and "aligned onto" in page


def test_a_pair_that_cannot_be_aligned_says_so(alice_plan, upload, client, clinician_user):
    upload(alice_plan.sessions.get(number=1), real_photos.photo(SHARP))
    upload(alice_plan.sessions.get(number=2), real_photos.photo("coffee"), phase="after")
    comparison = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    alignment = Alignment.objects.get(reference=comparison.before, moving=comparison.after)
    assert not alignment.ok and alignment.reason
    assert alignment.scale is None or alignment.inliers < 25
    assert comparison.sheet_status == "ready"  # drawn as taken, its caption says why
    client.force_login(clinician_user)
    page = client.get(reverse("photos:comparison", args=[comparison.pk])).content.decode()
    assert 'data-alignment="failed"' in page and "Not aligned" in page


def _edge_energy(data: bytes) -> float:
    gray = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
    gx = gray[1:-1, 2:] - gray[1:-1, :-2]
    gy = gray[2:, 1:-1] - gray[:-2, 1:-1]
    return float(np.mean(gx * gx + gy * gy))


def test_a_derivative_version_bump_remakes_soft_derivatives(alice_plan, upload):
    original = real_photos.mosaic((2400, 1600))
    photo = upload(alice_plan.sessions.get(number=1), np.asarray(original))
    screen = photo.derivatives.get(size=Derivative.Size.SCREEN)
    # As the previous version made it: bilinear, a quarter less edge energy.
    soft = imaging._encode_jpeg(original.resize((1024, 683), Image.Resampling.BILINEAR))
    services._put(screen.storage_key, soft)
    Derivative.objects.filter(photo=photo).update(version=DERIVATIVE_VERSION - 1)

    out = StringIO()
    call_command("photos_regenerate", "--now", stdout=out)

    assert "1 photo(s)" in out.getvalue()
    assert set(photo.derivatives.values_list("version", flat=True)) == {DERIVATIVE_VERSION}
    with default_storage.open(screen.storage_key, "rb") as handle:
        remade = handle.read()
    lanczos = imaging._encode_jpeg(original.resize((1024, 683), Image.Resampling.LANCZOS))
    assert _edge_energy(remade) == pytest.approx(_edge_energy(lanczos), rel=0.05)
    assert _edge_energy(soft) < 0.9 * _edge_energy(remade)


def test_the_sweep_sends_a_lost_score_again(alice_plan, upload, settings):
    photo = upload(alice_plan.sessions.get(number=1), real_photos.photo(SHARP))
    PhotoQuality.objects.filter(photo=photo).delete()  # as if the scoring task was lost
    assert services.quality_unscored() == [photo.pk]
    # Just made: its scoring task may still be on its way, so the sweep leaves it.
    assert services.pending_resend(older_than=dt.timedelta(0)) == 0
    made = timezone.now() - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    Derivative.objects.filter(photo=photo).update(updated_at=made)
    assert services.pending_resend(older_than=dt.timedelta(0)) == 1
    assert PhotoQuality.objects.filter(photo=photo).exists()


def test_the_web_process_does_not_import_opencv():
    """cv2 and NumPy are the worker's: the web process imports the URLs, views and API."""
    code = (
        "import django, sys; django.setup(); import clinic.urls, photos.views, photos.api, "
        "photos.services, photos.tasks; print('cv2' in sys.modules, 'numpy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"DJANGO_SETTINGS_MODULE": "clinic.settings", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_a_photo_blurred_beside_its_baseline_asks_for_a_retake(alice_plan, upload):
    baseline = real_photos.photo("rocket")
    upload(alice_plan.sessions.get(number=1), baseline)
    later = upload(
        alice_plan.sessions.get(number=2), real_photos.shaken(baseline, 9, 45), phase="after"
    )
    quality = PhotoQuality.objects.get(photo=later)
    [alone] = [f for f in quality.findings if f["measure"] == "sharpness"]
    [match] = [f for f in quality.findings if f["measure"] == "sharpness_match"]
    assert (alone["verdict"], match["verdict"]) == ("good", "retake")
    assert quality.retake


def test_a_photo_lit_unlike_its_baseline_asks_for_a_retake(alice_plan, upload):
    baseline = real_photos.photo(SHARP)
    upload(alice_plan.sessions.get(number=1), baseline)
    darker = real_photos.moved(baseline, real_photos.similarity(1.0, 1.0, 0.0, 0.0), gain=0.4)
    later = upload(alice_plan.sessions.get(number=2), darker, phase="after")
    quality = PhotoQuality.objects.get(photo=later)
    [match] = [f for f in quality.findings if f["measure"] == "exposure_match"]
    assert match["verdict"] == "retake"
    assert "darker than the baseline" in match["summary"]
    assert quality.retake
