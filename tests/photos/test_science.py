"""The photo science on real photographs: the capture-quality score, alignment, and the
sharpness of the derivatives (photos.science, photos.imaging)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from photos import imaging, science
from tests.photos import real_photos

THRESHOLDS = science.Thresholds()


def _finding(quality: science.Quality, measure: str) -> science.Finding:
    return next(f for f in quality.findings if f.measure == measure)


@pytest.mark.parametrize("name", ["stereo_motorcycle", "rocket", "coffee"])
def test_a_sharp_well_exposed_photo_needs_no_retake(name):
    quality = science.assess(real_photos.photo(name), THRESHOLDS)
    assert not quality.retake, [f.summary for f in quality.findings]
    assert _finding(quality, "sharpness").verdict == science.GOOD


@pytest.mark.parametrize("name", ["stereo_motorcycle", "rocket", "coffee", "astronaut"])
def test_the_score_flags_a_blurred_copy(name):
    blurred = real_photos.blurred(real_photos.photo(name), sigma=2.5)
    quality = science.assess(blurred, THRESHOLDS)
    finding = _finding(quality, "sharpness")
    assert quality.retake
    assert finding.verdict == science.RETAKE
    assert finding.hint.startswith("Hold the camera still")


@pytest.mark.parametrize("degrees", [0, 30, 90, 135])
def test_the_score_flags_a_shaken_copy_whatever_the_direction(degrees):
    """A shake smears detail one way only: the Laplacian's variance alone let most through."""
    photo = real_photos.photo("astronaut")
    shaken = real_photos.shaken(photo, 13, degrees)
    finding = _finding(science.assess(shaken, THRESHOLDS), "sharpness")
    assert finding.verdict == science.RETAKE
    assert "camera moved" in finding.summary and finding.hint.startswith("Hold the camera still")
    assert _finding(science.assess(photo, THRESHOLDS), "sharpness").verdict == science.GOOD


@pytest.mark.parametrize("name", ["stereo_motorcycle", "rocket", "coffee", "astronaut"])
def test_the_score_flags_an_over_exposed_copy(name):
    bright = real_photos.exposed(real_photos.photo(name), gain=2.0)
    quality = science.assess(bright, THRESHOLDS)
    finding = _finding(quality, "exposure")
    assert finding.verdict == science.RETAKE
    assert finding.hint.startswith("Too bright")
    assert _finding(science.assess(real_photos.photo(name), THRESHOLDS), "exposure").verdict == (
        science.GOOD
    )


def test_a_warm_cast_is_named_with_what_to_do():
    warm = real_photos.tinted(real_photos.photo("astronaut"), (1.1, 1.0, 0.8))
    finding = _finding(science.assess(warm, THRESHOLDS), "colour")
    assert finding.verdict == science.RETAKE
    assert "warm" in finding.hint.lower()


@pytest.mark.parametrize("name", ["stereo_motorcycle", "astronaut", "retina"])
def test_alignment_recovers_a_known_transform_on_a_real_photo(name):
    reference = real_photos.at_long_side(real_photos.photo(name), 1024)
    true = real_photos.similarity(1.08, 6.0, 0.03, -0.02)
    moving = real_photos.moved(reference, true, gain=1.25, noise=4.0)
    found = science.align(reference, moving)
    assert found.ok, found.reason
    size = (moving.shape[1], moving.shape[0])
    assert science.corner_error_px(found, true, size, 1024) < 2.0
    assert found.scale == pytest.approx(1.08, abs=0.01)
    assert found.rotation_degrees == pytest.approx(6.0, abs=0.3)
    assert found.inliers >= science.MIN_INLIERS


def test_alignment_reports_a_failure_on_unrelated_photos():
    found = science.align(
        real_photos.at_long_side(real_photos.photo("astronaut"), 1024),
        real_photos.at_long_side(real_photos.photo("coffee"), 1024),
    )
    assert not found.ok
    assert found.reason  # said why, not an identity passed off as a match
    assert found.inliers < science.MIN_INLIERS


def test_alignment_reports_a_failure_on_a_featureless_photo():
    flat = np.full((600, 800, 3), 128, dtype=np.uint8)
    found = science.align(real_photos.photo("rocket"), flat)
    assert not found.ok
    assert "detail" in found.reason


def test_framing_asks_to_step_closer_when_the_area_looks_smaller():
    # Moving coordinates grow by 1.25 onto the baseline: the area is smaller in the new photo.
    alignment = science.Alignment(ok=True, scale=1.25, rotation_degrees=0.0, tx=-0.125, ty=-0.09)
    finding = science.framing(
        alignment, moving_size=(1024, 768), reference_size=(1024, 768), thresholds=THRESHOLDS
    )
    assert finding.verdict == science.RETAKE
    assert finding.hint.startswith("Step closer")


def test_framing_of_a_matching_photo_is_good():
    alignment = science.Alignment(ok=True, scale=1.02, rotation_degrees=1.0, tx=0.0, ty=0.0)
    finding = science.framing(
        alignment, moving_size=(1024, 768), reference_size=(1024, 768), thresholds=THRESHOLDS
    )
    assert finding.verdict == science.GOOD


def _edge_energy(image: Image.Image) -> float:
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    gx = gray[1:-1, 2:] - gray[1:-1, :-2]
    gy = gray[2:, 1:-1] - gray[:-2, 1:-1]
    return float(np.mean(gx * gx + gy * gy))


def test_derivatives_are_as_sharp_as_a_lanczos_reference():
    """Every size within 5 % of the edge energy of a Lanczos resize of the full image (the
    bilinear derivatives carried 25 % less at 2048 px)."""
    original = real_photos.mosaic((3000, 2000))
    source = io.BytesIO()
    original.save(source, "JPEG", quality=92)
    for derivative in imaging.make_derivatives(source.getvalue()):
        size = imaging._fit(original.width, original.height, derivative.size)
        reference = original.resize(size, Image.Resampling.LANCZOS)
        reference_jpeg = Image.open(io.BytesIO(imaging._encode_jpeg(reference)))
        ratio = _edge_energy(Image.open(io.BytesIO(derivative.data))) / _edge_energy(reference_jpeg)
        assert 0.95 <= ratio <= 1.05, (derivative.size, ratio)


def test_an_aligned_panel_is_drawn_in_the_reference_frame():
    reference = real_photos.at_long_side(real_photos.photo("astronaut"), 512)
    true = real_photos.similarity(1.15, -7.0, 0.04, 0.02)
    moving = real_photos.moved(reference, true)
    drawn = imaging.align_onto(
        Image.fromarray(moving), true.ravel().tolist(), (reference.shape[1], reference.shape[0])
    )
    inside = (slice(100, 400), slice(100, 400))  # away from the uncovered edges
    aligned_error = np.abs(np.asarray(drawn, dtype=int)[inside] - reference[inside]).mean()
    unaligned_error = np.abs(moving.astype(int)[inside] - reference[inside]).mean()
    assert aligned_error < 6 < unaligned_error


@pytest.mark.parametrize(
    ("gain", "verdict", "word"),
    [(2.0, "retake", "brighter"), (0.45, "retake", "darker"), (1.1, "good", "Lit as")],
)
def test_exposure_is_judged_against_the_baseline_over_the_area_they_share(gain, verdict, word):
    # A dark scene: twice as bright, it clips almost nothing and passes on its own.
    baseline = real_photos.at_long_side(real_photos.photo("rocket"), 1024)
    true = real_photos.similarity(1.05, 3.0, 0.02, -0.01)
    later = real_photos.moved(baseline, true, gain=gain)
    finding = science.exposure_against(baseline, later, science.align(baseline, later), THRESHOLDS)
    assert finding.verdict == verdict
    assert word in finding.summary
    # Without an alignment the central half of each photo is compared.
    assert science.exposure_against(baseline, later, None, THRESHOLDS).verdict == verdict


def test_a_dark_scene_made_brighter_passes_alone_but_not_beside_its_baseline():
    baseline = real_photos.at_long_side(real_photos.photo("rocket"), 1024)
    brighter = real_photos.exposed(baseline, 1.5)  # +1.2 EV
    assert _finding(science.assess(brighter, THRESHOLDS), "exposure").verdict == science.GOOD
    finding = science.exposure_against(baseline, brighter, None, THRESHOLDS)
    assert finding.verdict == science.RETAKE
    assert finding.hint.startswith("Lower the exposure")


def test_a_shake_that_passes_alone_is_a_retake_beside_a_crisp_baseline():
    """The rocket shaken 9 px at 45 degrees keeps its diagonal detail and passes on its own;
    beside its sharp baseline it keeps 3 % of the detail. Another framing of the baseline,
    turned and a little darker, keeps enough (half of it: the warp's resampling softens it)."""
    baseline = real_photos.photo("rocket")
    shaken = real_photos.shaken(baseline, 9, 45)
    assert _finding(science.assess(shaken, THRESHOLDS), "sharpness").verdict == science.GOOD
    finding = science.sharpness_against(baseline, shaken, THRESHOLDS)
    assert finding.verdict == science.RETAKE
    assert finding.summary.startswith("Blurred beside the baseline")
    later = real_photos.moved(baseline, real_photos.similarity(1.05, 3.0, 0.02, -0.01), gain=0.8)
    assert science.sharpness_against(baseline, later, THRESHOLDS).verdict == science.GOOD
