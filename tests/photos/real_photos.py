"""Real photographs for the photo science: scikit-image's bundled ones (no download), a mosaic
of them at camera size, and copies moved, blurred, over-exposed or tinted in known ways.

Synthetic images (tests/photos/images.py) are flat colours or noise: the wrong test for
sharpness, exposure or alignment, which depend on real detail. The bench uses these too.
"""

from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image

# Colour photographs (not microscopy or astronomy), largest first.
PHOTO_NAMES = ("retina", "stereo_motorcycle", "rocket", "coffee", "astronaut", "chelsea")


@functools.cache
def photo(name: str) -> np.ndarray:
    """One of scikit-image's photographs as an RGB uint8 array (read-only)."""
    import skimage.data

    if name == "stereo_motorcycle":
        pixels = skimage.data.stereo_motorcycle()[0]
    else:
        pixels = getattr(skimage.data, name)()
    pixels = np.ascontiguousarray(pixels[..., :3])
    pixels.setflags(write=False)
    return pixels


def photos() -> list[tuple[str, np.ndarray]]:
    return [(name, photo(name)) for name in PHOTO_NAMES]


def at_long_side(pixels: np.ndarray, side: int) -> np.ndarray:
    image = Image.fromarray(pixels)
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def jpeg(pixels: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def mosaic(size: tuple[int, int]) -> Image.Image:
    """A camera-sized image tiled from the photographs at their own resolution, so its finest
    detail is a real photograph's (an enlarged photo would be soft, a synthetic one noise)."""
    width, height = size
    tiles = [Image.fromarray(pixels) for _, pixels in photos()]
    out = Image.new("RGB", size)
    x = y = row_height = index = 0
    while y < height:
        tile = tiles[index % len(tiles)]
        index += 1
        if x >= width:
            x, y, row_height = 0, y + row_height, 0
            continue
        out.paste(tile, (x, y))
        x += tile.width
        row_height = max(row_height, tile.height)
    return out


def similarity(scale: float, degrees: float, tx: float, ty: float) -> np.ndarray:
    """2x3, normalised moving -> normalised reference (as photos.science.Alignment.matrix)."""
    angle = math.radians(degrees)
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def moved(
    reference: np.ndarray,
    matrix: np.ndarray,
    *,
    size: tuple[int, int] | None = None,
    gain: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """The photo a camera moved by `matrix` would take of `reference`: pixel p of the result
    shows what lies at matrix·p (normalised) in the reference; then exposure gain and noise."""
    import cv2

    height, width = reference.shape[:2]
    out_w, out_h = size or (width, height)
    ref_long, out_long = max(width, height), max(out_w, out_h)
    # Pixel centres: normalised = (px + 0.5) / long side.
    linear = matrix[:, :2] * ref_long / out_long
    offset = matrix[:, :2] @ np.array([0.5, 0.5]) * ref_long / out_long + matrix[:, 2] * ref_long
    offset = offset - 0.5
    pixel_matrix = np.hstack([linear, offset[:, None]])
    warped = cv2.warpAffine(
        np.ascontiguousarray(reference),
        pixel_matrix,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    ).astype(np.float32)
    warped *= gain
    if noise:
        warped += np.random.default_rng(seed).normal(0, noise, warped.shape).astype(np.float32)
    return np.clip(warped, 0, 255).astype(np.uint8)


def blurred(pixels: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(pixels, (0, 0), sigma)


def shaken(pixels: np.ndarray, length: int, degrees: float) -> np.ndarray:
    """A camera shake: the photo smeared along a line `length` pixels long at `degrees`."""
    import cv2

    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), degrees, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    return cv2.filter2D(pixels, -1, kernel / kernel.sum())


def exposed(pixels: np.ndarray, gain: float) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def tinted(pixels: np.ndarray, rgb_gains: tuple[float, float, float]) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * np.array(rgb_gains), 0, 255).astype(np.uint8)
