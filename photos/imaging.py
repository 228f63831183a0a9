"""Pure image functions: checking an upload, making derivatives, rendering comparison sheets.

Nothing here touches the database or the storage; callers pass bytes or file objects in and
get bytes out. Images are only ever opened with an explicit list of formats.

Speed: a derivative set comes from one decode. A camera JPEG is decoded by libjpeg-turbo into
its Y, Cb and Cr planes at the smallest DCT scale (n/8: 5/8 for a 12-megapixel photo, 3/8 for 24)
that still gives the largest size asked for, so no camera photo is decoded at full size to make
a 2048-pixel image, and no pixel goes through RGB: the planes are resized and encoded as they
are. The smaller sizes are resized from the previous one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import math
import os
import struct
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO

from PIL import Image, ImageCms, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

register_heif_opener()

# Pillow's format name -> the content type we store and serve.
ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
}
OPEN_FORMATS: tuple[str, ...] = tuple(ACCEPTED_FORMATS)
# A JPEG followed by more images (MPO/MPF: stereo cameras, phones' depth and gain maps) opens
# as Pillow's "MPO", positioned on its primary image: it is a JPEG, taken by that image.
SAME_FORMAT: dict[str, str] = {"MPO": "JPEG"}
# What a browser or client may claim, by content type and by file extension.
CLAIMED_TYPES: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/heic-sequence": "HEIF",
    "image/heif-sequence": "HEIF",
}
CLAIMED_EXTENSIONS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".hif": "HEIF",
}
ACCEPTED_DESCRIPTION = "JPEG, PNG, WebP or HEIC/HEIF"

DEFAULT_MAX_BYTES = 40 * 1024 * 1024
DEFAULT_MAX_PIXELS = 60_000_000  # a 50-megapixel camera still fits; a decompression bomb does not
DERIVATIVE_SIZES: tuple[int, ...] = (2048, 1024, 320)
JPEG_QUALITY = 85
# Every reduction is Lanczos (3 lobes), libvips' default: bilinear made the 2048 px derivative
# carry 25-34 % less edge energy than a Lanczos reference (bench/thumbnails.py measures it).
# The JPEG decoder's DCT scaling does part of the reduction (as sharp as Lanczos at n/8 >= 3/8:
# bench/thumbnails.py); Lanczos does the rest.
RESAMPLE = Image.Resampling.LANCZOS

EXIF_ORIENTATION = 0x0112
EXIF_DATETIME = 0x0132
EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_OFFSET_TIME_ORIGINAL = 0x9011

_SRGB = ImageCms.createProfile("sRGB")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


class ImageRejected(ValueError):
    """An upload that is not an image we accept; the message is for the person who sent it."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str
    captured_at: dt.datetime | None
    orientation: int


@dataclass
class Derivative:
    size: int
    width: int
    height: int
    data: bytes = field(repr=False)


def _claimed_format(claimed_type: str | None, name: str | None) -> str | None:
    """The format the sender says this is (content type first, then extension), or None."""
    claimed_type = (claimed_type or "").split(";")[0].strip().lower()
    extension = Path(name or "").suffix.lower()
    by_type = CLAIMED_TYPES.get(claimed_type)
    by_extension = CLAIMED_EXTENSIONS.get(extension)
    if claimed_type and claimed_type not in ("application/octet-stream", "") and not by_type:
        raise ImageRejected(
            f"Files of type {claimed_type[:60]} are not accepted; send {ACCEPTED_DESCRIPTION}."
        )
    if extension and not by_extension:
        raise ImageRejected(
            f"Files ending in {extension[:20]} are not accepted; send {ACCEPTED_DESCRIPTION}."
        )
    if by_type and by_extension and by_type != by_extension:
        raise ImageRejected("The file's name and its declared type disagree.")
    return by_type or by_extension


def _hash_and_size(fileobj: IO[bytes], max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    fileobj.seek(0)
    while chunk := fileobj.read(1024 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ImageRejected(f"The file is larger than {_human(max_bytes)}; nothing was stored.")
        digest.update(chunk)
    fileobj.seek(0)
    if size == 0:
        raise ImageRejected("The file is empty.")
    return digest.hexdigest(), size


def exif_capture_time(exif: Image.Exif, tz: dt.tzinfo) -> dt.datetime | None:
    """DateTimeOriginal (with its offset when recorded), else DateTime; None when absent/bad."""
    ifd = exif.get_ifd(EXIF_IFD)
    raw = ifd.get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = ifd.get(EXIF_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:
            return dt.datetime.strptime(
                moment.strftime("%Y-%m-%dT%H:%M:%S") + offset.strip("\x00 "), "%Y-%m-%dT%H:%M:%S%z"
            )
        except ValueError:
            pass
    return moment.replace(tzinfo=tz)


def inspect_upload(
    fileobj: IO[bytes],
    *,
    claimed_type: str | None = None,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    tz: dt.tzinfo = dt.UTC,
) -> ImageInfo:
    """Checks an upload from its header alone (type, bytes, pixel count, EXIF) or raises
    ImageRejected. No pixel is decoded here: this runs in the web process, where decoding a
    192 KB PNG of 59 megapixels cost 200 MB. A cut-off file is still refused (its structure
    ends early); the worker decodes (make_derivatives), and damage inside a whole file ends
    there as failed derivatives with the reason."""
    claimed = _claimed_format(claimed_type, name)
    sha256, size = _hash_and_size(fileobj, max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(fileobj, formats=OPEN_FORMATS)
        except (UnidentifiedImageError, Image.DecompressionBombError) as error:
            if isinstance(error, Image.DecompressionBombError):
                raise ImageRejected(_too_many_pixels(max_pixels)) from None
            raise ImageRejected(
                f"This file is not a {ACCEPTED_DESCRIPTION} image (or it is damaged)."
            ) from None
        except (Image.DecompressionBombWarning, OSError, ValueError, SyntaxError, struct.error):
            raise ImageRejected("The image could not be read; the file is damaged.") from None
        with image:
            fmt = SAME_FORMAT.get(image.format, image.format)
            if fmt not in ACCEPTED_FORMATS:  # pragma: no cover - open() was told the formats
                raise ImageRejected(f"Only {ACCEPTED_DESCRIPTION} images are accepted.")
            if claimed and claimed != fmt:
                raise ImageRejected(
                    f"The file claims to be {claimed} but its contents are {fmt}; "
                    "nothing was stored."
                )
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise ImageRejected(_too_many_pixels(max_pixels))
            if not _has_its_end(fileobj, fmt, size):
                raise ImageRejected(
                    "The image is truncated or malformed (its end is missing); nothing was stored."
                )
            try:
                exif = _header_exif(image)
                orientation = int(exif.get(EXIF_ORIENTATION) or 1)
                captured_at = exif_capture_time(exif, tz)
            except (OSError, ValueError, SyntaxError, TypeError, struct.error):
                raise ImageRejected(
                    "The image's header is damaged and could not be read; nothing was stored."
                ) from None
    fileobj.seek(0)
    return ImageInfo(
        format=fmt,
        content_type=ACCEPTED_FORMATS[fmt],
        extension={"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[fmt],
        width=width,
        height=height,
        size=size,
        sha256=sha256,
        captured_at=captured_at,
        orientation=orientation if 1 <= orientation <= 8 else 1,
    )


def _has_its_end(fileobj: IO[bytes], fmt: str, size: int) -> bool:
    """Whether the file reaches the end its own structure announces: a cut-off upload is
    refused here, by reading lengths and markers, without decoding a pixel. (Damage inside a
    whole file is the worker's to find when it decodes.)"""
    fileobj.seek(0)
    try:
        return _ENDS[fmt](fileobj, size)
    finally:
        fileobj.seek(0)


def _jpeg_has_end(fileobj: IO[bytes], size: int) -> bool:
    fileobj.seek(2)  # SOI
    while True:  # the header's segments, by their lengths (EXIF's thumbnail has an EOI too)
        head = fileobj.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return False
        if head[1] == 0xFF:  # a fill byte
            fileobj.seek(-3, os.SEEK_CUR)
            continue
        length = int.from_bytes(head[2:], "big")
        if length < 2:
            return False
        fileobj.seek(length - 2, os.SEEK_CUR)
        if head[1] == 0xDA:  # SOS: the entropy-coded data follows
            break
    # In entropy-coded data 0xFF is followed only by 0x00 or a restart marker, so the first
    # FF D9 is the primary image's EOI (after a progressive file's last scan; an MPO's further
    # images and any trailer come after it).
    return _found_ahead(fileobj, b"\xff\xd9")


# The last chunk of every PNG is the same 12 bytes: length 0, "IEND", and its CRC.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png_has_end(fileobj: IO[bytes], size: int) -> bool:
    # Searched for rather than walked chunk by chunk: a file of millions of empty chunks
    # would keep the web process busy for seconds.
    fileobj.seek(8)
    return _found_ahead(fileobj, PNG_END)


def _found_ahead(fileobj: IO[bytes], needle: bytes) -> bool:
    """Whether `needle` occurs from the current position on, read a megabyte at a time."""
    tail = b""
    while chunk := fileobj.read(1024 * 1024):
        if needle in tail + chunk:
            return True
        tail = chunk[-(len(needle) - 1) :]
    return False


def _webp_has_end(fileobj: IO[bytes], size: int) -> bool:
    head = fileobj.read(8)  # "RIFF" and the length of what follows
    return len(head) == 8 and 8 + int.from_bytes(head[4:], "little") <= size


# A HEIF file has a handful of top-level boxes (ftyp, meta, mdat, perhaps free or idat);
# millions of tiny ones would keep the web process busy for seconds.
HEIF_MAX_TOP_BOXES = 64


def _heif_has_end(fileobj: IO[bytes], size: int) -> bool:
    at = 0  # top-level boxes: size (32 bits, or 1 and then 64 bits, or 0: to the end), type
    for _ in range(HEIF_MAX_TOP_BOXES):
        if at + 8 > size:
            break
        fileobj.seek(at)
        box = int.from_bytes(fileobj.read(4), "big")
        if box == 0:
            return True
        if box == 1:
            fileobj.seek(at + 8)
            box = int.from_bytes(fileobj.read(8), "big")
        if box < 8:
            return False
        at += box
    else:
        return False
    return at <= size


_ENDS = {"JPEG": _jpeg_has_end, "PNG": _png_has_end, "WEBP": _webp_has_end, "HEIF": _heif_has_end}


def _header_exif(image: Image.Image) -> Image.Exif:
    """The EXIF that Image.open already read with the header. PNG's getexif() decodes the whole
    image to look for an eXIf chunk after the pixels, so such a late chunk is left to the worker
    (which reads it again for the orientation when it decodes)."""
    if image.format == "PNG" and "exif" not in image.info:
        return Image.Exif()
    return image.getexif()


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{size / 1024:.0f} KB"


def _too_many_pixels(max_pixels: int) -> str:
    return (
        f"The image has more than {max_pixels / 1_000_000:.0f} megapixels; "
        "it may be a decompression bomb and was refused."
    )


def _fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB: the embedded ICC profile (if any) converted, alpha flattened on white."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    if icc and not _is_srgb(icc):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if image.mode not in ("RGB", "CMYK", "L"):
                image = image.convert("RGB")
            image = ImageCms.profileToProfile(
                image, source, _SRGB, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            image = image.convert("RGB")  # a broken profile: keep the pixels as they are
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


@functools.lru_cache(maxsize=32)
def _is_srgb(icc: bytes) -> bool:
    """Cameras mostly embed an sRGB profile already: then there is nothing to convert."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    description = (ImageCms.getProfileDescription(profile) or "").strip().lower()
    return description.startswith(("srgb", "s rgb")) or description == "iec 61966-2.1"


def _encode_jpeg(image: Image.Image) -> bytes:
    """The pixels alone, as a baseline JPEG whose only APPn is a bare JFIF APP0.

    Pillow writes the source's comment (image.info["comment"], carried through every resize,
    convert and transpose) unless told otherwise, so info is emptied first: a derivative is
    patient-facing and carries nothing but pixels. No EXIF, XMP or COM, and no ICC profile
    either: the pixels were converted to sRGB, which an untagged JPEG is taken to be.
    """
    image.info = {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return out.getvalue()


# Pillow lets go of the GIL while it resamples, so the bands of the first reduction can run
# side by side, as libvips runs its own threads: half the time on two cores.
RESIZE_THREADS = max(1, min(4, os.cpu_count() or 1))
BANDED_FROM_PIXELS = 3_000_000  # the 2048 px image itself, for the 1024 px step
_resize_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Made on first use, so each worker process (forked by Celery) gets its own threads."""
    global _resize_pool
    if _resize_pool is None:
        _resize_pool = ThreadPoolExecutor(RESIZE_THREADS, thread_name_prefix="resize")
    return _resize_pool


def _resize_in_strips(image: Image.Image, size: tuple[int, int], strips: int = 16) -> Image.Image:
    """A big reduction in horizontal bands: the same pixels as one resize() (the filter reads
    past each band's edges), a fraction of its intermediate buffer, and cache-friendlier.
    Sixteen bands rather than eight: with two threads, eight raised the peak memory by ~20 MB
    (each thread's allocator kept its larger bands), sixteen keeps the serial peak."""
    width, height = size
    if height < strips * 8 or image.width * image.height < BANDED_FROM_PIXELS:
        # Small: bands and threads would cost more than they save.
        return image.resize(size, RESAMPLE)
    out = Image.new(image.mode, size)
    scale = image.height / height

    def band(index: int) -> tuple[int, Image.Image]:
        top, bottom = height * index // strips, height * (index + 1) // strips
        box = (0, top * scale, image.width, bottom * scale)
        return top, image.resize((width, bottom - top), RESAMPLE, box=box)

    bands = _pool().map(band, range(strips)) if RESIZE_THREADS > 1 else map(band, range(strips))
    for top, resized in bands:
        out.paste(resized, (0, top))
    return out


def make_derivatives(
    source: IO[bytes] | bytes, sizes: Sequence[int] = DERIVATIVE_SIZES
) -> list[Derivative]:
    """Upright, sRGB, metadata-free JPEGs for each long-side size, from one (reduced) decode."""
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    sizes = sorted(sizes, reverse=True)
    with Image.open(source, formats=OPEN_FORMATS) as image:
        exif = image.getexif()
        orientation = int(exif.get(EXIF_ORIENTATION) or 1)
        icc = image.info.get("icc_profile")
        width, height = image.size
        target = _fit(width, height, sizes[0])
        is_jpeg = SAME_FORMAT.get(image.format, image.format) == "JPEG"
        if is_jpeg and image.mode == "RGB" and (not icc or _is_srgb(icc)):
            planes = _jpeg_planes(source, image.size, target)
            if planes is not None:
                return _derivatives_from_planes(planes, sizes, orientation)
        if is_jpeg:
            # The smallest of draft()'s 1/2^k scales that still covers the largest size.
            image.draft("RGB", target)
        image.load()
        current: Image.Image = image
        if current.mode in ("P", "LA", "PA") or "transparency" in current.info:
            current = current.convert("RGBA")
        elif current.mode not in ("RGB", "RGBA", "L", "CMYK"):
            current = current.convert("RGB")
        if target != current.size:
            current = _resize_in_strips(current, target)
        if current is image:
            current = image.copy()  # already at its size; the file closes with the block
        # Colour and orientation once, on the largest derivative; smaller ones inherit.
        current = _to_srgb(current, icc)
        if orientation in range(2, 9):
            current = current.transpose(_TRANSPOSE[orientation])
    # Each size is encoded in a thread of its own (Pillow lets go of the GIL while it encodes)
    # while the next size is resized from it.
    encoded: list[tuple[int, Image.Image, Future[bytes]]] = []
    for size in sizes:
        w, h = _fit(current.width, current.height, size)
        if (w, h) != current.size:
            # From the previous size (2:1, then 3.2:1): Lanczos all the way keeps each
            # within a percent of a Lanczos from the full image, at a fraction of its cost.
            current = _resize_in_strips(current, (w, h))
        if encoded and encoded[-1][1] is current:  # a small photo: one size serves several
            job = encoded[-1][2]
        else:
            job = _pool().submit(_encode_jpeg, current)
        encoded.append((size, current, job))
    return [Derivative(size, im.width, im.height, job.result()) for size, im, job in encoded]


def _dct_eighths(size: tuple[int, int], target: tuple[int, int]) -> int:
    """The smallest n for which libjpeg-turbo's n/8 scale still covers target."""
    for eighths in range(1, 8):
        if all(
            math.ceil(side * eighths / 8) >= want for side, want in zip(size, target, strict=True)
        ):
            return eighths
    return 8


@dataclass
class _Planes:
    """A photo as its JPEG holds it: luma (Y) at full resolution, the two chroma planes (Cb,
    Cr) as subsampled as the file had them. Each plane may be padded past the picture: `size`
    is the picture's in luma pixels, `chroma_box` what of a chroma plane covers it."""

    luma: Image.Image
    chroma: tuple[Image.Image, Image.Image]
    size: tuple[int, int]
    chroma_box: tuple[float, float, float, float]


@functools.cache
def libturbojpeg():
    """TurboJPEG over the system's libturbojpeg (Debian: libturbojpeg0), or None without it:
    then JPEGs are decoded by Pillow, in RGB and at 1/2^k scales only (slower, same result)."""
    try:
        from turbojpeg import TurboJPEG  # here: it brings NumPy, which the web never needs

        return TurboJPEG()
    except (ImportError, OSError, RuntimeError):
        return None


def _strictly(call, *args, **kwargs):
    """A libturbojpeg call's result, or None where it fails or warns (a corrupt scan, say:
    PyTurboJPEG reports libjpeg-turbo's warnings as Python warnings), to leave the file to
    Pillow, which decodes what it can as it always did."""
    with warnings.catch_warnings(record=True) as complaints:
        warnings.simplefilter("always")
        try:
            result = call(*args, **kwargs)
        except (OSError, ValueError):
            return None
    return None if complaints else result


def decoded_at_least(data: bytes, long_side: int) -> Image.Image:
    """A stored derivative (JPEG) in RGB, decoded at the smallest of libjpeg-turbo's n/8
    scales whose long side still reaches `long_side` (3/8 of 2048 px is 768: a sheet's panel
    needs no resize after it); Pillow's draft(), 1/2^k only, without libturbojpeg."""
    with Image.open(io.BytesIO(data), formats=("JPEG",)) as photo:
        fit = min(1, long_side / max(photo.size))
        target = (max(1, int(photo.width * fit)), max(1, int(photo.height * fit)))
        turbo = libturbojpeg()
        if turbo is not None and photo.mode == "RGB":
            import turbojpeg as tj

            scale = Fraction(_dct_eighths(photo.size, target), 8)
            pixels = _strictly(
                turbo.decode,
                data,
                pixel_format=tj.TJPF_RGB,
                scaling_factor=(scale.numerator, scale.denominator),
                flags=tj.TJFLAG_STOPONWARNING,
            )
            if pixels is not None:
                return Image.fromarray(pixels)
        # Draft to the contained size, not (box, box): a landscape 2048x1536 never reaches
        # 1000 in height, so (1000, 1000) decoded it in full (bench/sheets.py, pair).
        photo.draft("RGB", target)
        return photo.convert("RGB")


def _jpeg_planes(
    source: IO[bytes], size: tuple[int, int], target: tuple[int, int]
) -> _Planes | None:
    """A YCbCr JPEG decoded by libjpeg-turbo straight into its planes, at the smallest of its
    n/8 DCT scales that covers `target` (5/8 for 12 MP to 2048 px; Pillow's draft() knows only
    1/2^k, and 1/2 of 4000 px is short of 2048). No colour conversion and no chroma
    upsampling: the derivatives are JPEGs with half-resolution chroma too, so the chroma is
    resized at half size and encoded as it is, and the work is the luma's (about a third of
    an RGB resize). None leaves the photo to Pillow: no libturbojpeg, another colour space,
    or anything the strict decoder finds odd (Pillow decodes it as it always did)."""
    turbo = libturbojpeg()
    if turbo is None:
        return None
    import turbojpeg as tj

    # Luma pixels per chroma pixel, across and down, for each subsampling we resize.
    chroma_steps = {
        tj.TJSAMP_444: (1, 1),
        tj.TJSAMP_422: (2, 1),
        tj.TJSAMP_420: (2, 2),
        tj.TJSAMP_440: (1, 2),
        tj.TJSAMP_411: (4, 1),
    }
    scale = Fraction(_dct_eighths(size, target), 8)
    source.seek(0)
    data = source.read()
    header = _strictly(turbo.decode_header, data)
    if header is None or header[3] != tj.TJCS_YCbCr or header[2] not in chroma_steps:
        return None
    across, down = chroma_steps[header[2]]
    planes = _strictly(
        turbo.decode_to_yuv_planes,
        data,
        scaling_factor=(scale.numerator, scale.denominator),
        flags=tj.TJFLAG_STOPONWARNING,
    )
    if planes is None:
        return None
    luma, cb, cr = planes
    width, height = (math.ceil(side * scale) for side in size)
    return _Planes(
        luma=Image.fromarray(luma[:height, :width]),
        chroma=(Image.fromarray(cb), Image.fromarray(cr)),
        size=(width, height),
        chroma_box=(0, 0, width / across, height / down),
    )


def _derivatives_from_planes(
    planes: _Planes, sizes: Sequence[int], orientation: int
) -> list[Derivative]:
    """Each size as a 4:2:0 JPEG straight from planes: the luma resized (in bands, on both
    cores) while the chroma planes are resized to half the size beside it; each encoded in a
    thread while the next size is resized from it. sRGB already: the caller saw to that."""
    import numpy as np
    import simplejpeg

    pool = _pool()
    encoded: list[tuple[int, tuple[int, int], Future[bytes]]] = []
    luma, chroma, chroma_box = planes.luma, planes.chroma, planes.chroma_box
    width, height = planes.size
    for size in sizes:
        w, h = _fit(width, height, size)
        if encoded and (w, h) == encoded[-1][1]:  # a small photo: one size serves several
            encoded.append((size, (w, h), encoded[-1][2]))
            continue
        half = (math.ceil(w / 2), math.ceil(h / 2))
        resizing = [pool.submit(plane.resize, half, RESAMPLE, chroma_box) for plane in chroma]
        if (w, h) != luma.size:
            luma = _resize_in_strips(luma, (w, h))
        chroma = tuple(job.result() for job in resizing)
        if not encoded and orientation in range(2, 9):
            # Once, on the largest: the smaller sizes are resized from it.
            turn = _TRANSPOSE[orientation]
            luma, chroma = luma.transpose(turn), tuple(plane.transpose(turn) for plane in chroma)
            w, h = luma.size
        width, height, chroma_box = w, h, (0, 0, w / 2, h / 2)
        y, cb, cr = (np.asarray(plane) for plane in (luma, *chroma))
        job = pool.submit(simplejpeg.encode_jpeg_yuv_planes, y, cb, cr, quality=JPEG_QUALITY)
        encoded.append((size, (w, h), job))
    return [Derivative(size, w, h, job.result()) for size, (w, h), job in encoded]


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# --- comparison sheets -----------------------------------------------------------------


@dataclass
class Panel:
    image: bytes = field(repr=False)  # a stored large derivative (JPEG, sRGB, upright)
    caption: list[str] = field(default_factory=list)
    # Drawn aligned when set: the 2x3 similarity (a, b, c, d, e, f), row by row, taking this
    # photo's normalised coordinates (pixel / long side) onto those of the reference photo,
    # whose size (any scale, for its aspect) is reference_size.
    onto: list[float] | None = None
    reference_size: tuple[int, int] | None = None

    def drawn(self, box: int) -> Image.Image:
        """The photo contained in a box x box square; aligned, in the reference's frame."""
        photo = decoded_at_least(self.image, box)
        if self.onto is None or self.reference_size is None:
            return ImageOps.contain(photo, (box, box), Image.Resampling.LANCZOS)
        width, height = self.reference_size
        scale = box / max(width, height)  # as contain(): up or down to the box
        return align_onto(photo, self.onto, (round(width * scale), round(height * scale)))


def align_onto(photo: Image.Image, onto: Sequence[float], size: tuple[int, int]) -> Image.Image:
    """`photo` moved into the reference's frame, drawn at `size` (the reference's aspect);
    what the photo does not cover is left panel grey."""
    a, b, c, d, e, f = onto
    determinant = a * e - b * d
    if not determinant:
        raise ValueError("The alignment is degenerate.")
    # Output pixel (x, y) -> reference normalised (x, y) / Lr -> this photo's normalised
    # inv(A) ((x, y) / Lr - t) -> its pixels, times Lm. Pillow asks for that inverse map.
    inverse = (e / determinant, -b / determinant, -d / determinant, a / determinant)
    to_photo = max(photo.size) / max(size)
    long_side = max(photo.size)
    data = (
        inverse[0] * to_photo,
        inverse[1] * to_photo,
        -long_side * (inverse[0] * c + inverse[1] * f),
        inverse[2] * to_photo,
        inverse[3] * to_photo,
        -long_side * (inverse[2] * c + inverse[3] * f),
    )
    return photo.transform(
        size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC, fillcolor=PANEL_GREY
    )


PANEL_GREY = (238, 240, 243)


def _font(size: int, bold: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:  # pragma: no cover - fonts-dejavu-core is a system dependency
        return ImageFont.load_default(size)


SHEET_FOOTER = "Confidential clinical record. Not for publication without the patient's consent."


def sheet_box(panels: int) -> int:
    """A panel's square in a sheet, in pixels: what a 2048 px derivative decodes to at a DCT
    scale (1/2 for two panels, 3/8 for more), so an unaligned panel needs no resize at all."""
    return 1024 if panels <= 2 else 768


def render_sheet(
    panels: Iterable[Panel],
    *,
    title: str,
    subtitle: str = "",
    clinic_name: str,
    paper: str = "A4",
) -> tuple[bytes, bytes]:
    """Panels side by side with captions under each and a header; returns (JPEG, PDF) bytes.
    The PDF is a landscape A4 or Letter page whose text is text (photos.pages)."""
    from . import pages  # reportlab: only the worker draws sheets

    panels = list(panels)
    if not panels:
        raise ValueError("A sheet needs at least one photo.")
    box = sheet_box(len(panels))
    margin, gap, header, caption_height = 40, 24, 130, 160
    width = margin * 2 + box * len(panels) + gap * (len(panels) - 1)
    height = header + box + caption_height + margin + 40
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((margin, 28), clinic_name, font=_font(30, bold=True), fill=(20, 30, 45))
    draw.text((margin, 72), title, font=_font(26), fill=(20, 30, 45))
    if subtitle:
        draw.text((margin, 104), subtitle, font=_font(20), fill=(90, 100, 115))
    drawn = []
    for index, panel in enumerate(panels):
        left = margin + index * (box + gap)
        photo = panel.drawn(box)
        drawn.append((photo, panel.caption))
        draw.rectangle((left, header, left + box - 1, header + box - 1), fill=PANEL_GREY)
        offset = (left + (box - photo.width) // 2, header + (box - photo.height) // 2)
        sheet.paste(photo, offset)
        y = header + box + 12
        for number, line in enumerate(panel.caption):
            draw.text(
                (left, y), line, font=_font(24 if number == 0 else 20, bold=number == 0), fill=0
            )
            y += 32 if number == 0 else 27
    draw.text((margin, height - 40), SHEET_FOOTER, font=_font(16), fill=(90, 100, 115))
    jpeg = io.BytesIO()
    sheet.save(jpeg, "JPEG", quality=88)
    page = pages.pair_page(
        drawn,
        title=title,
        subtitle=subtitle,
        clinic_name=clinic_name,
        paper=paper,
        footer=SHEET_FOOTER,
    )
    return jpeg.getvalue(), pages.paint_pdf(page)
