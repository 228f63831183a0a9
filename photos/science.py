"""Measuring photos: capture quality (sharpness, exposure, colour cast, framing) and the
alignment of one photo onto another. Pure functions on pixels, like imaging.py.

Only the worker imports this module (services import it inside the functions the tasks call):
OpenCV and NumPy would cost each web process ~40 MB and a second or more of start-up
(measured on the shared machine) for nothing.

Coordinates: a photo's *normalised* coordinates are its pixel coordinates (pixel edges at
whole numbers, so the first pixel's centre is 0.5) divided by its long side. A similarity
transform (scale s, rotation r, translation tx, ty) takes a point p of the moving photo to
s·R(r)·p + (tx, ty) in the reference photo; normalising makes it independent of the size of
the derivative it was measured on.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from .colour import LINEAR

# Measured on this long side: sharpness (the Laplacian's variance) depends on the scale, so
# every photo is judged at the size of the screen derivative. Smaller photos are not enlarged.
ANALYSIS_SIDE = 1024

# Alignment: ORB features matched with Lowe's ratio test, then a RANSAC similarity fit.
ORB_FEATURES = 1500
RATIO_TEST = 0.8
RANSAC_THRESHOLD_PX = 3.0
# Unrelated photos still give a handful of chance inliers (measured: at most 11 over
# scikit-image's photos paired with each other); a true match gives hundreds.
MIN_INLIERS = 25
MIN_INLIER_RATIO = 0.15
SCALE_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class Thresholds:
    """Where a measure asks for a retake (clinic settings, see clinic/settings.py)."""

    # Calibrated on scikit-image's photographs at up to 1024 px: sharp crops score 22 (a
    # retina's smooth fundus) to 3,600, copies blurred by a 2 to 4 px Gaussian 1.4 to 24.
    min_sharpness: float = 30.0
    min_isotropy: float = 0.20
    max_clipped_highlights: float = 0.03
    # Black backdrops are common in clinical photography: only a mostly black photo is dark.
    max_clipped_shadows: float = 0.30
    max_colour_cast: float = 10.0
    max_framing_scale: float = 0.10  # |scale - 1|
    max_framing_offset: float = 0.08  # of the long side
    max_framing_rotation: float = 5.0  # degrees
    # Against the baseline: a stop either way is a different light, not a different skin.
    max_exposure_difference_ev: float = 1.0
    # Against the baseline: another framing of the same photo keeps 0.40 of its detail or
    # more (0.28 lit a stop apart); blurred or shaken copies 0.22 at most (bench/photo_science).
    min_sharpness_ratio: float = 0.25


@dataclass(frozen=True)
class Finding:
    measure: str  # sharpness, exposure, colour, framing
    verdict: str  # good, retake, unknown
    summary: str  # what was measured, for a person
    hint: str = ""  # what to do about it, when there is something to do

    def as_dict(self) -> dict:
        return {
            "measure": self.measure,
            "verdict": self.verdict,
            "summary": self.summary,
            "hint": self.hint,
        }


GOOD, RETAKE, UNKNOWN = "good", "retake", "unknown"


@dataclass(frozen=True)
class Alignment:
    ok: bool
    reason: str = ""
    scale: float | None = None
    rotation_degrees: float | None = None
    tx: float | None = None
    ty: float | None = None
    inliers: int = 0
    matches: int = 0
    residual_px: float | None = None  # RMS distance of the inliers after the fit, in pixels
    analysed_side: int = 0  # the long side (px) the residual was measured at

    def matrix(self) -> np.ndarray:
        """2x3: normalised moving -> normalised reference."""
        angle = math.radians(self.rotation_degrees or 0.0)
        scale = self.scale or 1.0
        c, s = scale * math.cos(angle), scale * math.sin(angle)
        return np.array([[c, -s, self.tx or 0.0], [s, c, self.ty or 0.0]])


@dataclass
class Quality:
    sharpness: float
    isotropy: float
    clipped_shadows: float
    clipped_highlights: float
    cast_a: float | None
    cast_b: float | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def retake(self) -> bool:
        return any(f.verdict == RETAKE for f in self.findings)


def load_rgb(data: bytes, side: int = ANALYSIS_SIDE) -> np.ndarray:
    """A stored derivative (JPEG bytes) as an RGB array, its long side at most `side`."""
    with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:
        image.draft("RGB", (side, side))
        rgb = image.convert("RGB")
    if max(rgb.size) > side:
        scale = side / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(rgb)


# --- capture quality ---------------------------------------------------------------------


SHARPNESS_TILES = 8  # per side
SHARPNESS_PERCENTILE = 90


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian at the analysis size (fine detail, which a shaken or unfocused
    camera loses first), in the sharpest tenth of an 8x8 grid of tiles: the skin in focus
    counts, not a plain backdrop or a black surround that has no detail to lose."""
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    rows = np.array_split(laplacian, SHARPNESS_TILES, axis=0)
    variances = [
        float(tile.var()) for row in rows for tile in np.array_split(row, SHARPNESS_TILES, axis=1)
    ]
    return float(np.percentile(variances, SHARPNESS_PERCENTILE))


# Second derivatives: along the rows, the columns, and the mixed one. Steered to any angle t,
# the second derivative is cos²t·fxx + 2·sin t·cos t·fxy + sin²t·fyy, so its energy at every
# angle follows from the 3x3 moments of (fxx, fxy, fyy).
_SECOND_XX = np.array([[1, -2, 1]], np.float32)
_SECOND_YY = _SECOND_XX.T.copy()
_SECOND_XY = np.array([[1, 0, -1], [0, 0, 0], [-1, 0, 1]], np.float32) / 4
_ANGLES = np.radians(np.arange(0, 180, 3))
_STEER = np.stack(
    [np.cos(_ANGLES) ** 2, 2 * np.sin(_ANGLES) * np.cos(_ANGLES), np.sin(_ANGLES) ** 2], axis=1
)


def isotropy(gray: np.ndarray) -> float:
    """How evenly the detail of the sharpest fifth of the tiles spreads over directions: the
    second derivative's energy in its weakest direction over its strongest. Real scenes have
    detail every way (0.31 to 0.88 over crops of scikit-image's photos); a shaken camera
    smears it along the shake, whatever its angle (0.004 to 0.38, half under 0.07)."""
    gray = gray.astype(np.float32)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)
    derivatives = [cv2.filter2D(gray, cv2.CV_32F, k) for k in (_SECOND_XX, _SECOND_XY, _SECOND_YY)]
    height, width = gray.shape
    tiles = []
    for row in range(SHARPNESS_TILES):
        for column in range(SHARPNESS_TILES):
            area = (
                slice(row * height // SHARPNESS_TILES, (row + 1) * height // SHARPNESS_TILES),
                slice(column * width // SHARPNESS_TILES, (column + 1) * width // SHARPNESS_TILES),
            )
            tiles.append((float(laplacian[area].var()), area))
    tiles.sort(key=lambda tile: -tile[0])
    moments = np.zeros((3, 3))
    for _, area in tiles[: max(1, len(tiles) // 5)]:
        values = np.stack([d[area].ravel() for d in derivatives]).astype(np.float64)
        moments += values @ values.T
    energy = np.einsum("ij,jk,ik->i", _STEER, moments, _STEER)
    if energy.max() <= 0:
        return 0.0
    return float(energy.min() / energy.max())


def clipping(rgb: np.ndarray) -> tuple[float, float]:
    """Fractions of pixels with no shadow detail (every channel at most 5) and with a highlight
    blown (any channel at least 250: skin clips in red first)."""
    brightest = rgb.max(axis=2)
    return float(np.mean(brightest <= 5)), float(np.mean(brightest >= 250))


COLOUR_SIDE = 256  # a cast is the whole photo's: judged on a small copy


def colour_cast(rgb: np.ndarray) -> tuple[float, float] | None:
    """Mean CIELAB a*, b* of the photo's most neutral tenth (mid-tones only): the backdrop, a
    grey card, clothing. A colour cast shifts them all; None when nothing is near neutral
    (chroma over 25 even in that tenth: a close-up of skin has no neutral to judge by)."""
    scale = COLOUR_SIDE / max(rgb.shape[:2])
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    lightness, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    midtones = (lightness > 25) & (lightness < 95)
    if midtones.sum() < 500:
        return None
    a, b = a[midtones], b[midtones]
    chroma = np.hypot(a, b)
    cut = np.quantile(chroma, 0.10)
    if cut > 25:
        return None
    neutral = chroma <= cut
    return float(a[neutral].mean()), float(b[neutral].mean())


def _cast_hint(a: float, b: float) -> str:
    if abs(b) >= abs(a):
        if b > 0:
            return "Too warm (yellow): use the clinic's daylight lamp, not room or tungsten light."
        return "Too cold (blue): switch off the window light or use the clinic's lamp."
    if a > 0:
        return "Magenta cast: check the camera's white balance (set it to daylight)."
    return "Green cast (fluorescent light): use the clinic's daylight lamp."


def assess(rgb: np.ndarray, thresholds: Thresholds) -> Quality:
    """Sharpness, exposure and colour of one photo (framing is added by `framing`)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    sharp = sharpness(gray)
    even = isotropy(gray)
    shadows, highlights = clipping(rgb)
    cast = colour_cast(rgb)
    findings = []
    if sharp < thresholds.min_sharpness:
        findings.append(
            Finding(
                "sharpness",
                RETAKE,
                f"Blurred (detail {sharp:.0f}, needs {thresholds.min_sharpness:.0f}).",
                "Hold the camera still, tap to focus on the skin, and use more light.",
            )
        )
    elif even < thresholds.min_isotropy:
        findings.append(
            Finding(
                "sharpness",
                RETAKE,
                f"Smeared in one direction (evenness {even:.2f}, needs "
                f"{thresholds.min_isotropy:.2f}): the camera moved.",
                "Hold the camera still: brace your elbows or use the stand, and use more light.",
            )
        )
    else:
        findings.append(
            Finding("sharpness", GOOD, f"Sharp (detail {sharp:.0f}, evenness {even:.2f}).")
        )
    if highlights > thresholds.max_clipped_highlights:
        findings.append(
            Finding(
                "exposure",
                RETAKE,
                f"Too bright: {highlights:.0%} of the photo is blown out.",
                "Too bright: move away from the window or lower the exposure.",
            )
        )
    elif shadows > thresholds.max_clipped_shadows:
        findings.append(
            Finding(
                "exposure",
                RETAKE,
                f"Too dark: {shadows:.0%} of the photo is black.",
                "Too dark: add light in front of the patient, not behind.",
            )
        )
    else:
        findings.append(
            Finding(
                "exposure",
                GOOD,
                f"Well exposed ({highlights:.1%} blown out, {shadows:.1%} black).",
            )
        )
    if cast is None:
        findings.append(
            Finding(
                "colour",
                UNKNOWN,
                "No neutral area to judge the colour by.",
                "Include the grey card or a white backdrop in the frame.",
            )
        )
    else:
        a, b = cast
        strength = math.hypot(a, b)
        if strength > thresholds.max_colour_cast:
            findings.append(
                Finding(
                    "colour",
                    RETAKE,
                    f"Colour cast of {strength:.0f} (a* {a:+.0f}, b* {b:+.0f}).",
                    _cast_hint(a, b),
                )
            )
        else:
            findings.append(Finding("colour", GOOD, f"Neutral colour (cast {strength:.0f})."))
    cast_a, cast_b = cast if cast else (None, None)
    return Quality(sharp, even, shadows, highlights, cast_a, cast_b, findings)


def framing(
    alignment: Alignment | None,
    *,
    moving_size: tuple[int, int],
    reference_size: tuple[int, int],
    thresholds: Thresholds,
) -> Finding:
    """The photo's framing against the baseline, from the alignment of the photo onto it."""
    if alignment is None:
        return Finding("framing", UNKNOWN, "This is the baseline: later photos are framed on it.")
    if not alignment.ok:
        return Finding(
            "framing",
            UNKNOWN,
            f"Could not be matched to the baseline ({alignment.reason}).",
            "Frame the same area and view as the baseline photo.",
        )
    scale, rotation = alignment.scale or 1.0, alignment.rotation_degrees or 0.0
    centre = np.array([moving_size[0] / 2, moving_size[1] / 2]) / max(moving_size)
    lands = alignment.matrix() @ np.array([centre[0], centre[1], 1.0])
    reference_centre = np.array([reference_size[0] / 2, reference_size[1] / 2]) / max(
        reference_size
    )
    dx, dy = lands - reference_centre
    problems, hints = [], []
    if abs(scale - 1) > thresholds.max_framing_scale:
        # s > 1: the moving photo's distances grow onto the baseline, so the area looks
        # smaller in it: the camera was further away.
        closer = scale > 1
        problems.append(f"the area is {abs(1 / scale - 1):.0%} {'smaller' if closer else 'larger'}")
        hints.append("Step closer" if closer else "Step back")
    if math.hypot(dx, dy) > thresholds.max_framing_offset:
        # The photo's centre lands right of the baseline's: the camera pointed too far right.
        horizontal = "left" if dx > 0 else "right"
        vertical = "up" if dy > 0 else "down"
        way = horizontal if abs(dx) >= abs(dy) else vertical
        problems.append(f"off-centre by {math.hypot(dx, dy):.0%} of the frame")
        hints.append(f"aim the camera a little {way}")
    if abs(rotation) > thresholds.max_framing_rotation:
        problems.append(f"turned {abs(rotation):.0f}°")
        hints.append("hold the camera level, as for the baseline")
    if not problems:
        return Finding(
            "framing",
            GOOD,
            f"Framed as the baseline (scale {scale:.2f}, turned {rotation:+.1f}°).",
        )
    hint = "; ".join(hints)
    return Finding(
        "framing",
        RETAKE,
        "Framed unlike the baseline: " + ", ".join(problems) + ".",
        hint[0].upper() + hint[1:] + ".",
    )


_LUMINANCE = [
    (LINEAR * weight).astype(np.float32) for weight in (0.2126, 0.7152, 0.0722)
]  # per channel: each 8-bit code's share of the relative luminance in linear light


def _linear_luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance in linear light (sRGB decoded), 0..1."""
    return sum(table[rgb[..., channel]] for channel, table in enumerate(_LUMINANCE))


def exposure_against(
    reference: np.ndarray,
    moving: np.ndarray,
    alignment: Alignment | None,
    thresholds: Thresholds,
) -> Finding:
    """The photo's exposure against the baseline's, in stops (EV), over the area they share.

    A photo can be well exposed on its own and still be no use beside its baseline: a dark
    scene made 2 EV brighter clips almost nothing, but the comparison would show a change of
    light, not of skin. The median luminance in linear light of the shared area (the moving
    photo drawn onto the baseline through the alignment; without one, the central half of
    each) gives the difference in stops."""
    height, width = reference.shape[:2]
    if alignment is not None and alignment.ok:
        ref_side, moving_side = max(width, height), max(moving.shape[:2])
        matrix = alignment.matrix()
        pixel_matrix = np.hstack(
            [matrix[:, :2] * (ref_side / moving_side), matrix[:, 2:] * ref_side]
        )
        drawn = cv2.warpAffine(moving, pixel_matrix, (width, height), flags=cv2.INTER_AREA)
        inside = cv2.warpAffine(
            np.full(moving.shape[:2], 255, np.uint8), pixel_matrix, (width, height)
        )
        shared = inside == 255
        if shared.mean() < 0.25:
            return Finding("exposure_match", UNKNOWN, "Too little of the baseline is in view.")
        before, after = _linear_luminance(reference)[shared], _linear_luminance(drawn)[shared]
    else:
        before, after = (_linear_luminance(_central_half(pixels)) for pixels in (reference, moving))
    floor = 1 / 255 / 12.92  # the darkest step of 8-bit sRGB: no log of zero
    stops = math.log2(max(float(np.median(after)), floor) / max(float(np.median(before)), floor))
    if abs(stops) <= thresholds.max_exposure_difference_ev:
        return Finding("exposure_match", GOOD, f"Lit as the baseline ({stops:+.1f} EV).")
    if stops > 0:
        return Finding(
            "exposure_match",
            RETAKE,
            f"{stops:.1f} stops brighter than the baseline.",
            "Lower the exposure or the light to the baseline's: the same lamp, distance and "
            "camera setting.",
        )
    return Finding(
        "exposure_match",
        RETAKE,
        f"{-stops:.1f} stops darker than the baseline.",
        "Add light or raise the exposure to the baseline's: the same lamp, distance and "
        "camera setting.",
    )


def sharpness_against(reference: np.ndarray, moving: np.ndarray, thresholds: Thresholds) -> Finding:
    """The photo's fine detail against the baseline's. The same view of the same skin, framed
    alike, keeps most of its detail; a camera that moved or missed focus loses nearly all of
    it. A blur can still pass on its own (a scene whose detail runs along the shake), but
    not beside a crisp baseline: the comparison would show the camera, not the skin."""
    before, after = (sharpness(cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)) for p in (reference, moving))
    if before <= 0:
        return Finding("sharpness_match", UNKNOWN, "The baseline has no detail to compare with.")
    ratio = after / before
    if ratio >= thresholds.min_sharpness_ratio:
        return Finding(
            "sharpness_match", GOOD, f"As sharp as the baseline ({ratio:.0%} of its detail)."
        )
    return Finding(
        "sharpness_match",
        RETAKE,
        f"Blurred beside the baseline: {ratio:.0%} of its detail.",
        "Hold the camera still, tap to focus on the skin, and use the baseline's light.",
    )


def _central_half(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    return pixels[height // 4 : height - height // 4, width // 4 : width - width // 4]


# --- alignment ---------------------------------------------------------------------------


def _features(gray: np.ndarray):
    # Equalised locally first, so a brighter or darker photo finds the same corners.
    equalised = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, scaleFactor=1.2, nlevels=6, fastThreshold=15)
    return orb.detectAndCompute(equalised, None)


def align(reference: np.ndarray, moving: np.ndarray) -> Alignment:
    """The similarity transform taking `moving` onto `reference` (RGB or grey arrays), or a
    failed Alignment saying why; never a silent identity."""
    ref_gray = reference if reference.ndim == 2 else cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY)
    mov_gray = moving if moving.ndim == 2 else cv2.cvtColor(moving, cv2.COLOR_RGB2GRAY)
    side = max(ref_gray.shape)
    ref_points, ref_descriptors = _features(ref_gray)
    mov_points, mov_descriptors = _features(mov_gray)
    if ref_descriptors is None or mov_descriptors is None or len(mov_points) < MIN_INLIERS:
        return Alignment(False, "too little detail to match", analysed_side=side)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(mov_descriptors, ref_descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
    if len(good) < MIN_INLIERS:
        return Alignment(
            False, f"only {len(good)} matching details", matches=len(good), analysed_side=side
        )
    # Normalised coordinates (see the module's docstring): keypoints are pixel centres.
    ref_long, mov_long = max(ref_gray.shape), max(mov_gray.shape)
    src = np.float32([mov_points[m.queryIdx].pt for m in good]) + 0.5
    dst = np.float32([ref_points[m.trainIdx].pt for m in good]) + 0.5
    matrix, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=RANSAC_THRESHOLD_PX,
        maxIters=5000,
        confidence=0.999,
        refineIters=20,
    )
    if matrix is None:
        return Alignment(False, "no consistent transform", matches=len(good), analysed_side=side)
    inliers = mask.ravel().astype(bool)
    count = int(inliers.sum())
    projected = src[inliers] @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.sqrt(np.mean(np.sum((projected - dst[inliers]) ** 2, axis=1))))
    scale = float(math.hypot(matrix[0, 0], matrix[1, 0]))
    rotation = float(math.degrees(math.atan2(matrix[1, 0], matrix[0, 0])))
    # Pixels to normalised: p_ref/L_ref = A (p_mov/L_mov) (L_mov/L_ref) + t/L_ref.
    normalised_scale = scale * mov_long / ref_long
    tx, ty = float(matrix[0, 2] / ref_long), float(matrix[1, 2] / ref_long)
    common = {
        "scale": normalised_scale,
        "rotation_degrees": rotation,
        "tx": tx,
        "ty": ty,
        "inliers": count,
        "matches": len(good),
        "residual_px": residual,
        "analysed_side": side,
    }
    if count < MIN_INLIERS or count < MIN_INLIER_RATIO * len(good):
        return Alignment(False, f"only {count} of {len(good)} details agree", **common)
    if not SCALE_RANGE[0] <= normalised_scale <= SCALE_RANGE[1]:
        return Alignment(False, f"implausible scale {normalised_scale:.2f}", **common)
    return Alignment(True, "", **common)


def corner_error_px(
    found: Alignment, true_matrix: np.ndarray, moving_size: tuple[int, int], reference_side: int
) -> float:
    """Mean distance (reference pixels) between where the moving photo's corners land under
    the found and the true transforms (both normalised, 2x3)."""
    long_side = max(moving_size)
    corners = np.array(
        [
            [0, 0, 1],
            [moving_size[0], 0, 1],
            [moving_size[0], moving_size[1], 1],
            [0, moving_size[1], 1],
        ],
        dtype=float,
    )
    corners[:, :2] /= long_side
    difference = corners @ found.matrix().T - corners @ true_matrix.T
    return float(np.mean(np.hypot(difference[:, 0], difference[:, 1])) * reference_side)
