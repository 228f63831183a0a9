"""Colour you can compare, on real photographs: the grey card found and a known cast undone,
a clinician's neutral patch, redness that follows added red, the clinician's region, and the
eyes covered for publication (photos.colour)."""

from __future__ import annotations

import numpy as np
import pytest

from photos import colour
from tests.photos import real_photos

WARM = (1.15, 1.0, 0.75)  # tungsten-ish: more red, less blue


def with_grey_card(pixels: np.ndarray, where=(0.6, 0.65, 0.2, 0.2)) -> np.ndarray:
    """The photo with a mid-grey card held in the frame (sensor noise on it, as a camera
    records a flat card)."""
    out = pixels.copy()
    height, width = out.shape[:2]
    y, x, h, w = where
    out[int(height * y) : int(height * (y + h)), int(width * x) : int(width * (x + w))] = 128
    noise = np.random.default_rng(1).normal(0, 1.5, out.shape)
    return np.clip(out + noise, 0, 255).astype(np.uint8)


def lab_ab(pixels: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(pixels.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "stereo_motorcycle"])
def test_a_known_colour_cast_is_undone_by_the_grey_card(name):
    true = with_grey_card(real_photos.at_long_side(real_photos.photo(name), 1024))
    warm = real_photos.tinted(true, WARM)

    card = colour.find_grey_card(warm)

    assert card is not None
    assert colour.chroma_of(warm, card) > 15  # the card reads yellow-red under the cast
    fixed = colour.balanced(warm, colour.gains_from_patch(warm[card.pixels(warm.shape)]))
    assert colour.chroma_of(fixed, card) < 1.5  # neutral again
    # The whole photo's colours come back: a* and b* within a few units of the truth.
    cast_error = np.abs(lab_ab(warm) - lab_ab(true)).mean()
    fixed_error = np.abs(lab_ab(fixed) - lab_ab(true)).mean()
    assert fixed_error < cast_error / 3, (fixed_error, cast_error)


def test_no_card_is_claimed_in_photos_without_one():
    for name in ("astronaut", "coffee", "chelsea", "stereo_motorcycle"):
        photo = real_photos.at_long_side(real_photos.photo(name), 1024)
        assert colour.find_grey_card(photo) is None, name


def test_a_flat_patch_at_the_edge_is_the_backdrop_not_a_card():
    photo = real_photos.at_long_side(real_photos.photo("astronaut"), 1024)
    backdrop = with_grey_card(photo, where=(0.0, 0.0, 0.3, 1.0))  # a grey wall on the left
    assert colour.find_grey_card(backdrop) is None


def test_a_clinicians_neutral_patch_sets_the_colour_where_there_is_no_card():
    """A white-grey area of the astronaut photo, picked by a clinician, undoes the cast."""
    true = real_photos.at_long_side(real_photos.photo("astronaut"), 1024)
    warm = real_photos.tinted(true, WARM)
    patch = colour.Region(0.88, 0.12, 0.08, 0.08)
    rows, columns = patch.pixels(true.shape)
    assert colour.chroma_of(true, patch) < 3, "the patch must be near neutral in the truth"
    assert colour.chroma_of(warm, patch) > 10
    fixed = colour.balanced(warm, colour.gains_from_patch(warm[rows, columns]))
    assert colour.chroma_of(fixed, patch) < 2
    assert np.abs(lab_ab(fixed) - lab_ab(true)).mean() < np.abs(lab_ab(warm) - lab_ab(true)).mean()


def test_a_blown_out_patch_cannot_set_the_colour():
    white = np.full((40, 40, 3), 255, np.uint8)
    with pytest.raises(ValueError, match="blown out"):
        colour.gains_from_patch(white)


def add_red(pixels: np.ndarray, region: colour.Region, amount: float) -> np.ndarray:
    """Erythema, roughly: more red, a little less green, in the region."""
    out = pixels.astype(np.float32)
    rows, columns = region.pixels(out.shape)
    out[rows, columns, 0] *= 1 + amount
    out[rows, columns, 1] *= 1 - amount / 3
    return np.clip(out, 0, 255).astype(np.uint8)


def test_redness_rises_as_red_is_added_to_the_skin():
    face = real_photos.at_long_side(real_photos.photo("astronaut"), 1024)
    cheek = colour.Region(0.40, 0.22, 0.12, 0.08)  # the astronaut's face
    values = [
        colour.redness(add_red(face, colour.CENTRAL, amount)).value for amount in (0, 0.05, 0.12)
    ]
    assert values[0] < values[1] < values[2], values
    marked = [colour.redness(add_red(face, cheek, a), cheek).value for a in (0, 0.05, 0.12)]
    assert marked[0] < marked[1] < marked[2], marked
    assert marked[2] - marked[0] > 5  # a clear step on the a* scale


def test_the_default_region_is_the_skin_of_the_centre_and_says_so():
    face = real_photos.at_long_side(real_photos.photo("astronaut"), 1024)
    measured = colour.redness(face)
    assert measured.method == colour.SKIN_IN_CENTRE and measured.region == colour.CENTRAL
    assert "skin in the central region" in measured.description
    # A photo with no skin in its centre (a fundus photo is all red, no skin rule fits it,
    # nor a grey block) is measured over the whole centre, and the method says so.
    grey = np.full((300, 400, 3), 128, np.uint8)
    assert colour.redness(grey).method == colour.CENTRE
    assert abs(colour.redness(grey).value) < 1


def test_the_clinicians_region_is_measured_and_not_the_centre():
    """Region picking: a red patch marked by the clinician reads redder than the centre."""
    photo = real_photos.at_long_side(real_photos.photo("coffee"), 1024)
    patch = colour.Region(0.05, 0.05, 0.15, 0.15)
    reddened = add_red(photo, patch, 0.4)
    marked = colour.redness(reddened, patch)
    assert marked.method == colour.CLINICIAN_REGION and marked.region == patch
    assert marked.value > colour.redness(reddened).value + 5
    rows, columns = patch.pixels(reddened.shape)
    assert marked.pixels <= reddened[rows, columns].shape[0] * reddened[rows, columns].shape[1]


def test_white_balance_comes_before_redness():
    """A magenta cast (a camera's white balance set wrong) reads as redness until the card
    undoes it."""
    true = with_grey_card(real_photos.at_long_side(real_photos.photo("astronaut"), 1024))
    magenta = real_photos.tinted(true, (1.12, 0.92, 1.05))
    card = colour.find_grey_card(magenta)
    gains = colour.gains_from_patch(magenta[card.pixels(magenta.shape)])
    truth = colour.redness(true).value
    assert colour.redness(magenta).value - truth > 3
    assert abs(colour.redness(colour.balanced(magenta, gains)).value - truth) < 1.5


def test_the_eyes_are_found_on_a_face_and_blurred_beyond_recognition():
    import cv2

    face = real_photos.photo("astronaut")
    found = colour.eye_regions(face, is_face_view=True)
    assert len(found.regions) == 1 and "1 face" in found.note
    [eyes] = found.regions
    # Eileen Collins' eyes lie at about (0.45, 0.2) of the photo.
    assert eyes.x < 0.45 < eyes.x + eyes.w and eyes.y < 0.2 < eyes.y + eyes.h
    covered = colour.cover(face, found.regions, "blur")
    rows, columns = eyes.pixels(face.shape)
    before = face[rows, columns].astype(float).var()
    after = covered[rows, columns].astype(float).var()
    assert after < before * 0.3, (before, after)
    # The fine detail that makes a face recognisable is gone (the Laplacian's variance).
    detail = [
        cv2.Laplacian(cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)[rows, columns], cv2.CV_32F).var()
        for p in (face, covered)
    ]
    assert detail[1] < detail[0] * 0.01, detail
    # Outside the band nothing changed.
    assert np.array_equal(covered[: rows.start], face[: rows.start])


def test_no_face_found_on_a_face_view_covers_the_upper_middle_band_and_says_so():
    photo = real_photos.photo("coffee")
    found = colour.eye_regions(photo, is_face_view=True)
    assert found.regions == [colour.FALLBACK_BAND]
    assert "No face found" in found.note
    assert colour.eye_regions(photo, is_face_view=False).regions == []
    barred = colour.cover(photo, found.regions, "bar")
    rows, columns = colour.FALLBACK_BAND.pixels(photo.shape)
    assert barred[rows, columns].astype(float).var() == 0
