"""Test images made on the fly: each accepted format, EXIF orientations and GPS, bad files."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw
from pillow_heif import register_heif_opener

register_heif_opener()

# What exif_transpose does for each orientation, undone: stored = upright.transpose(UNDO[o]).
UNDO = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
RED = (220, 20, 20)
BLUE = (20, 40, 200)


def upright(width: int = 600, height: int = 400) -> Image.Image:
    """Landscape, blue, with a red top-left quarter: easy to tell which way is up."""
    image = Image.new("RGB", (width, height), BLUE)
    ImageDraw.Draw(image).rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=RED)
    return image


def exif_with(orientation: int = 1, gps: bool = True, when: str = "2026:03:14 09:30:00"):
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber (Exif IFD in real files; fine here)
    exif.get_ifd(0x8769)[0x9003] = when
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 22.0, 5.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (4.0, 53.0, 10.0)
    return exif


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def jpeg(
    orientation: int = 1,
    gps: bool = True,
    size=(600, 400),
    quality: int = 90,
    when: str = "2026:03:14 09:30:00",
) -> bytes:
    image = upright(*size)
    if UNDO[orientation] is not None:
        image = image.transpose(UNDO[orientation])
    return encode(image, "JPEG", exif=exif_with(orientation, gps, when), quality=quality)


def mpo(orientation: int = 1) -> bytes:
    """A camera JPEG with a second image after the first (MPO/MPF, as Fujifilm's stereo
    cameras and phones' depth and gain maps write): the primary upright, the second a small
    grey map of another shape, so a derivative made from the wrong one is easy to tell."""
    image = upright()
    if UNDO[orientation] is not None:
        image = image.transpose(UNDO[orientation])
    second = Image.new("RGB", (150, 300), (128, 128, 128))
    out = io.BytesIO()
    image.save(
        out, "MPO", save_all=True, append_images=[second], exif=exif_with(orientation), quality=90
    )
    return out.getvalue()


def png() -> bytes:
    return encode(upright().convert("RGBA"), "PNG")


def webp() -> bytes:
    return encode(upright(), "WEBP", exif=exif_with(1), quality=85)


def heic() -> bytes:
    return encode(upright(), "HEIF", exif=exif_with(1), quality=80)


SAMPLES = {
    "photo.jpg": ("image/jpeg", jpeg),
    "photo.png": ("image/png", png),
    "photo.webp": ("image/webp", webp),
    "photo.heic": ("image/heic", heic),
}


def is_upright(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        w, h = image.size
        top_left = image.getpixel((w // 8, h // 8))
        bottom_right = image.getpixel((w * 7 // 8, h * 7 // 8))
        top_right = image.getpixel((w * 7 // 8, h // 8))
    return w > h and _near(top_left, RED) and _near(bottom_right, BLUE) and _near(top_right, BLUE)


def _near(a, b, tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def bomb_png(width: int = 9000, height: int = 9000) -> bytes:
    """A tiny PNG that claims 81 megapixels (the header says so; the data is a zlib bomb)."""
    image = Image.new("1", (width, height))
    return encode(image, "PNG", optimize=True)


@functools.cache
def big_blank(fmt: str, width: int = 7700, height: int = 7700) -> bytes:
    """59 megapixels (under the 60 MP limit) that compress to almost nothing: the 192 KB PNG
    that took a web worker from 240 to 445 MB when it was decoded there."""
    params = {"PNG": {"compress_level": 9}, "WEBP": {"lossless": True, "method": 0}}[fmt]
    return encode(Image.new("RGB", (width, height), (200, 180, 170)), fmt, **params)


def truncated_jpeg() -> bytes:
    data = jpeg(size=(1200, 800))
    return data[: len(data) // 2]


# --- reading what a JPEG carries -----------------------------------------------------------

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# Segments that describe pixels; anything else (APPn, COM) is metadata.
IMAGE_SEGMENTS = {0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, SOS}
BARE_JFIF = b"JFIF\x00"


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """Every marker segment of a JPEG's header, up to and including the first SOS:
    (marker byte, payload). Walks the lengths as a decoder does, so nothing hides."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF, f"no marker at {at}"
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        segments.append((marker, data[at + 4 : at + 2 + length]))
        if marker == SOS:
            return segments
        at += 2 + length
    raise AssertionError("no SOS segment")


def metadata_segments(data: bytes) -> list[str]:
    """The segments a derivative must not have: every APPn and COM, except one bare JFIF APP0
    (version and density only, no thumbnail)."""
    found = []
    for marker, payload in jpeg_segments(data):
        if marker in IMAGE_SEGMENTS:
            continue
        is_bare_jfif = marker == 0xE0 and payload[:5] == BARE_JFIF and len(payload) == 14
        if not is_bare_jfif:
            found.append(f"{'COM' if marker == 0xFE else f'APP{marker - 0xE0}'}:{payload[:12]!r}")
    return found


PRIVATE_COMMENT = b"Patient: Alice Smit, DOB 12-04-1980"
PHP_PAYLOAD = b"<?php system($_GET['c']); ?>"


def jpeg_with_everything() -> bytes:
    """A JPEG carrying every kind of metadata a camera or an attacker puts in: a comment with
    a patient's name, EXIF with GPS and serial, XMP, an ICC profile, and a PHP payload."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>Alice Smit</rdf:Description>'
    data = encode(
        upright(),
        "JPEG",
        exif=exif_with(1),
        comment=PRIVATE_COMMENT,
        icc_profile=icc,
        xmp=xmp + b"</x:xmpmeta>",
        quality=90,
    )
    # A second comment (the PHP payload) right after SOI, as the served file had.
    com = b"\xff\xfe" + (len(PHP_PAYLOAD) + 2).to_bytes(2, "big") + PHP_PAYLOAD
    return data[:2] + com + data[2:]


def noise_png() -> bytes:
    return encode(Image.effect_noise((1200, 800), 60).convert("RGB"), "PNG")


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def damaged_inside_png() -> bytes:
    """Whole, every chunk where it should be, but the compressed pixels in the middle zeroed:
    only decoding finds it."""
    data = bytearray(noise_png())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)
    return bytes(data)
