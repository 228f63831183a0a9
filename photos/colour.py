"""Colour you can compare: white balance from a neutral reference, a redness measure, and the
eyes covered for publication. Pure functions on pixels, like science.py, and like it imported
by the worker only (OpenCV, NumPy and scikit-image stay out of the web process).

Regions are in *fractions* of the upright photo (x, y, width, height from its top left, each
0 to 1), so one region fits every derivative of the photo whatever its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# --- regions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    x: float
    y: float
    w: float
    h: float

    @classmethod
    def from_dict(cls, data: dict | None) -> Region | None:
        if not data:
            return None
        return cls(float(data["x"]), float(data["y"]), float(data["w"]), float(data["h"]))

    def as_dict(self) -> dict:
        return {
            k: round(v, 4) for k, v in (("x", self.x), ("y", self.y), ("w", self.w), ("h", self.h))
        }

    def pixels(self, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """Rows and columns of an array of `shape` (at least one pixel each way)."""
        height, width = shape[:2]
        left, top = int(self.x * width), int(self.y * height)
        right = max(left + 1, round((self.x + self.w) * width))
        bottom = max(top + 1, round((self.y + self.h) * height))
        return slice(top, min(bottom, height)), slice(left, min(right, width))


# Where the treated area is, when the clinician has not marked it: standard views frame the
# treated area in the middle of the photo, so the middle 60 % each way holds it and leaves out
# most backdrop, hair and clothing at the edges.
CENTRAL = Region(0.2, 0.2, 0.6, 0.6)


# --- sRGB <-> linear, and white balance ---------------------------------------------------

_CODES = np.arange(256, dtype=np.float64) / 255.0
# Each 8-bit sRGB code in linear light: looked up, never computed per pixel.
LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4)


def _encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    encoded = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)


def gains_from_patch(patch: np.ndarray) -> tuple[float, float, float]:
    """Per-channel gains (in linear light) that make this patch neutral at its own luminance:
    a grey card under warm light reflects more red than blue, and the gains undo exactly that.
    Pixels with a clipped channel are left out: they no longer tell the light's colour."""
    pixels = patch.reshape(-1, 3)
    unclipped = pixels[(pixels.max(axis=1) < 250) & (pixels.min(axis=1) > 5)]
    if len(unclipped) < 16:
        raise ValueError("The neutral patch is blown out or black: it cannot set the colour.")
    linear = LINEAR[unclipped].mean(axis=0)
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    gains = luminance / np.maximum(linear, 1e-4)
    return float(gains[0]), float(gains[1]), float(gains[2])


def balance_tables(gains: tuple[float, float, float]) -> list[np.ndarray]:
    """One 256-entry table per channel: an 8-bit code, to linear, times its gain, back."""
    return [_encode(LINEAR * gain) for gain in gains]


def balanced(rgb: np.ndarray, gains: tuple[float, float, float] | None) -> np.ndarray:
    """The photo white-balanced by `gains` (a table look-up per channel: fast at any size)."""
    if gains is None:
        return rgb
    tables = balance_tables(gains)
    return np.stack([tables[c][rgb[..., c]] for c in range(3)], axis=-1)


def pil_table(gains: tuple[float, float, float]) -> list[int]:
    """The same correction as a table for Pillow's Image.point (768 entries, R then G then B)."""
    return [int(v) for table in balance_tables(gains) for v in table]


# --- the grey card -------------------------------------------------------------------------

CARD_SIDE = 320  # found on a small copy: a card is a large, flat patch
CARD_MAX_CHROMA = 30.0  # a grey card under a strong cast still reads under this
CARD_MIN_AREA = 0.004  # of the photo
CARD_MAX_AREA = 0.35
CARD_MIN_FILL = 0.80  # of its rotated bounding rectangle: cards are rectangles, skin is not


def find_grey_card(rgb: np.ndarray) -> Region | None:
    """The grey card (or any neutral card) in the photo, as its inner region, or None.

    What a card looks like to the camera: evenly lit and without texture (its lightness and
    colour vary by under a few units from pixel to pixel), mid-grey to light (L* 25 to 92), low
    in chroma even under a colour cast, a filled rectangle (turned or in perspective) of at
    least 0.4 % of the photo, and inside the frame: a flat patch touching the edge is the
    backdrop or a wall, which are not known to be neutral. Of several candidates the least
    chromatic wins. Only the inner half of the card is measured, away from its edges' shadow.
    """
    scale = CARD_SIDE / max(rgb.shape[:2])
    small = rgb
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lightness, a, b = lab[..., 0], lab[..., 1], lab[..., 2]

    def local_std(channel: np.ndarray) -> np.ndarray:
        mean = cv2.blur(channel, (5, 5))
        return np.sqrt(np.maximum(cv2.blur(channel * channel, (5, 5)) - mean * mean, 0))

    flat = (local_std(lightness) < 2.0) & (local_std(a) < 1.5) & (local_std(b) < 1.5)
    chroma = np.hypot(a, b)
    candidate = flat & (lightness > 25) & (lightness < 92) & (chroma < CARD_MAX_CHROMA)
    candidate = cv2.morphologyEx(
        candidate.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=4)
    height, width = candidate.shape
    best: tuple[float, Region] | None = None
    for index in range(1, count):
        left, top, w, h, area = stats[index]
        if not CARD_MIN_AREA <= area / (width * height) <= CARD_MAX_AREA:
            continue
        if left == 0 or top == 0 or left + w >= width or top + h >= height:
            continue
        mask = labels == index
        points = cv2.findNonZero(mask.astype(np.uint8))
        (_, _), (rw, rh), _ = cv2.minAreaRect(points)
        if rw * rh <= 0 or area / (rw * rh) < CARD_MIN_FILL:
            continue
        mean_chroma = float(chroma[mask].mean())
        inner = Region(
            (left + w * 0.25) / width, (top + h * 0.25) / height, w * 0.5 / width, h * 0.5 / height
        )
        if best is None or mean_chroma < best[0]:
            best = (mean_chroma, inner)
    return best[1] if best else None


# --- redness -------------------------------------------------------------------------------

# Skin by its chrominance (Chai and Ngan's YCbCr rule, widely used, any skin tone: skin differs
# by lightness far more than by chrominance), on the white-balanced photo.
SKIN_CR = (133, 173)
SKIN_CB = (77, 127)
MIN_SKIN_SHARE = 0.10  # of the region: fewer, and the whole region is measured

CLINICIAN_REGION = "clinician region"
SKIN_IN_CENTRE = "skin in the central region"
CENTRE = "central region"


@dataclass(frozen=True)
class Redness:
    value: float  # mean CIELAB a* (D65): 0 is neutral, higher is redder
    method: str  # CLINICIAN_REGION, SKIN_IN_CENTRE or CENTRE
    region: Region
    pixels: int  # how many were averaged

    @property
    def description(self) -> str:
        return f"mean a* of the {self.method} ({self.pixels} pixels)"


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1])


def redness(rgb: np.ndarray, region: Region | None = None) -> Redness:
    """The redness of a white-balanced photo: the mean CIELAB a* (red-green axis, D65) of the
    treated skin, the measure dermatology uses for erythema.

    Which pixels: the region the clinician marked when there is one, all of it (they chose
    it). Otherwise the skin pixels of the photo's central region: the software cannot know the
    treated area, but a standard view centres it, and the skin rule leaves out what is not skin
    (hair, eyes, lips' edges, the backdrop, a grey card) whose colour would dilute or bias the
    mean. Where the centre holds too little skin for that rule (an unusual tone or light), the
    whole central region is measured, and the method says so. Clipped pixels never count: a
    blown highlight has lost its colour.
    """
    method = CLINICIAN_REGION if region is not None else SKIN_IN_CENTRE
    region = region or CENTRAL
    rows, columns = region.pixels(rgb.shape)
    patch = np.ascontiguousarray(rgb[rows, columns])
    usable = (patch.max(axis=2) < 250) & (patch.min(axis=2) > 5)
    if method == SKIN_IN_CENTRE:
        skin = usable & skin_mask(patch)
        if skin.sum() >= MIN_SKIN_SHARE * usable.size:
            usable = skin
        else:
            method = CENTRE
    if not usable.any():
        raise ValueError("The region has no usable pixels (all blown out or black).")
    lab = cv2.cvtColor(patch.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return Redness(float(lab[..., 1][usable].mean()), method, region, int(usable.sum()))


# --- covering the eyes for publication --------------------------------------------------------

FACE_SIDE = 512  # faces are found on a copy this size (the cascade scans every scale)
# The eyes lie in this band of a detected frontal face box (fractions of its height), with a
# margin: the cascade's box runs from the eyebrows to below the mouth.
EYE_BAND = (0.15, 0.55)
# No face found on a photo of the face: cover the band where eyes are in a standard framing,
# generously (the whole width, from 15 % to 55 % of the height).
FALLBACK_BAND = Region(0.0, 0.15, 1.0, 0.40)


@dataclass(frozen=True)
class Cover:
    regions: list[Region]
    note: str  # what was covered and how it was found, for the sheet


def _face_cascade():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def eye_regions(rgb: np.ndarray, *, is_face_view: bool) -> Cover:
    """Where the eyes are, to cover before a photo is used for education or marketing.

    OpenCV 5 no longer ships Haar cascades, so faces are found with the LBP frontal-face
    cascade that scikit-image ships (trained by OpenCV), and the eyes are the upper-middle band
    of each face. On a photo of the face where no face is found (a profile, a close-up), the
    band where a standard framing puts the eyes is covered instead, and the note says so.
    """
    scale = min(1.0, FACE_SIDE / max(rgb.shape[:2]))
    small = rgb
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
    side = min(gray.shape)
    faces = _face_cascade().detect_multi_scale(
        img=gray,
        scale_factor=1.2,
        step_ratio=1,
        min_size=(max(24, side // 8), max(24, side // 8)),
        max_size=(side, side),
        min_neighbor_number=2,
    )
    height, width = gray.shape
    regions = []
    for face in faces:
        top = face["r"] + EYE_BAND[0] * face["height"]
        bottom = face["r"] + EYE_BAND[1] * face["height"]
        regions.append(
            Region(
                max(0.0, (face["c"] - 0.05 * face["width"]) / width),
                top / height,
                min(1.0, 1.10 * face["width"] / width),
                (bottom - top) / height,
            )
        )
    if regions:
        return Cover(regions, f"Eyes covered ({len(regions)} face(s) found).")
    if is_face_view:
        return Cover(
            [FALLBACK_BAND],
            "No face found: the upper-middle band, where the eyes are, is covered.",
        )
    return Cover([], "")


def cover(rgb: np.ndarray, regions: list[Region], how: str) -> np.ndarray:
    """The photo with each region blurred beyond recognition ("blur") or filled ("bar")."""
    out = rgb.copy()
    for region in regions:
        rows, columns = region.pixels(out.shape)
        patch = out[rows, columns]
        if how == "bar":
            out[rows, columns] = (30, 30, 30)
            continue
        # Half the band's height: the eyes' shapes and the gaze are gone, the skin tone stays.
        # Blurred on a copy reduced by a quarter of that (the same look: a wide Gaussian keeps
        # nothing finer), as a kernel hundreds of pixels wide took a second per band.
        sigma = max(4.0, min(patch.shape[:2]) / 2)
        factor = max(1, int(sigma / 4))
        height, width = patch.shape[:2]
        small = cv2.resize(
            np.ascontiguousarray(patch),
            (max(1, width // factor), max(1, height // factor)),
            interpolation=cv2.INTER_AREA,
        )
        small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
        out[rows, columns] = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def chroma_of(rgb: np.ndarray, region: Region) -> float:
    """Mean CIELAB chroma of a region (a neutral patch's is near 0)."""
    rows, columns = region.pixels(rgb.shape)
    lab = cv2.cvtColor(rgb[rows, columns].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return float(math.hypot(lab[..., 1].mean(), lab[..., 2].mean()))
