"""Malformed and hostile files through the real upload paths (page and API), and a property
test over the validator: every case is a 4xx with a message, or stored and processed; never a
500, never a stray file in storage, never a hang."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photos import imaging
from photos.models import Comparison, Derivative, Photo
from tests.photos import images
from tests.photos.conftest import create_plan

TIME_LIMIT = 10  # seconds for one upload, derivatives included


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny file that claims 1.6 gigapixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + (png_chunk(b"IEND", b""))
    )


def corrupt_exif() -> bytes:
    """A JPEG whose EXIF segment is garbage with lying offsets."""
    data = images.jpeg()
    garbage = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(range(256)) * 4
    segment = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    return data[:2] + segment + data[2:]


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# name, content type, bytes: every one must be refused with a message, or stored and processed.
CORPUS = {
    "zero bytes": ("empty.jpg", "image/jpeg", lambda: b""),
    "truncated jpeg": ("cut.jpg", "image/jpeg", lambda: images.jpeg()[:1500]),
    "truncated png": ("cut.png", "image/png", lambda: images.png()[:300]),
    "corrupt exif": ("exif.jpg", "image/jpeg", corrupt_exif),
    "decompression bomb": ("bomb.png", "image/png", png_bomb),
    "jpeg + html polyglot": (
        "poly.jpg",
        "image/jpeg",
        lambda: images.jpeg() + b"<html><script>alert(1)</script></html>",
    ),
    "gif/js polyglot": ("poly.gif", "image/gif", lambda: b"GIF89a/*\x00\x00*/=alert(1)//;"),
    "svg with script": ("drawing.svg", "image/svg+xml", svg),
    "svg named jpg": ("drawing.jpg", "image/jpeg", svg),
    "png named jpg": ("really-png.jpg", "image/jpeg", images.png),
    "pdf": ("scan.pdf", "application/pdf", lambda: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n"),
    "path separators": ("../../../etc/passwd.jpg", "image/jpeg", images.jpeg),
    "windows separators": ("..\\..\\boot.jpg", "image/jpeg", images.jpeg),
    "very long name": ("a" * 300 + ".jpg", "image/jpeg", images.jpeg),
    "random bytes": ("noise.jpg", "image/jpeg", lambda: bytes(range(256)) * 64),
}


def rejection(name: str, content_type: str, data: bytes) -> str:
    """The validator's reason for refusing this file, "" when it accepts it."""
    try:
        imaging.inspect_upload(io.BytesIO(data), claimed_type=content_type, name=name)
    except imaging.ImageRejected as error:
        return str(error)
    return ""


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def known_keys() -> set[str]:
    keys = set(Photo.objects.values_list("storage_key", flat=True))
    keys |= set(Derivative.objects.exclude(storage_key="").values_list("storage_key", flat=True))
    for pdf, jpg in Comparison.objects.values_list("sheet_pdf_key", "sheet_jpeg_key"):
        keys |= {k for k in (pdf, jpg) if k}
    return keys


@pytest.fixture
def session(alice):
    return create_plan(alice, sessions=1).sessions.get()


@pytest.mark.parametrize("route", ["page", "api"])
@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_file_is_refused_or_stored_and_processed(
    case,
    route,
    session,
    clinician_user,
    client,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    name, content_type, make = CORPUS[case]
    upload = SimpleUploadedFile(name, make(), content_type=content_type)
    client.force_login(clinician_user)
    fields = {"body_area": session.plan.body_area_id, "view": "frontal", "phase": "before"}
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        if route == "page":
            response = client.post(
                f"/photos/sessions/{session.pk}/",
                {**fields, "purposes": ["clinical"], "files": [upload]},
            )
        else:
            response = client.post(
                "/api/photos/", {**fields, "session": session.pk, "file": upload}
            )
    assert time.monotonic() - started < TIME_LIMIT, "the upload hung"
    assert response.status_code < 500
    photos = list(Photo.objects.filter(session=session))
    if response.status_code >= 400:
        assert response.status_code == 400, response.status_code
        assert not photos, "a refused file left a photo"
        # The person sees the validator's reason for this very file.
        reason = rejection(name, content_type, make())
        assert reason, "refused, though the validator accepts the file"
        if route == "page":
            shown = [str(m) for m in get_messages(response.wsgi_request)]
            assert shown == [f"{Path(name.replace(chr(92), '/')).name}: {reason}"], shown
        else:
            assert response.json() == {"file": [reason]}
    else:
        assert len(photos) == 1
        statuses = set(photos[0].derivatives.values_list("status", flat=True))
        assert statuses == {"ready"}, statuses
    # Nothing outside the media folder, nothing in it that no row names.
    media = Path(settings.MEDIA_ROOT)
    assert stored_files(media) == known_keys() if media.exists() else not known_keys()
    outside = {p for p in tmp_path.rglob("*") if p.is_file() and media not in p.parents}
    assert not outside, outside


# --- the validator, by property ----------------------------------------------------------

VALID = [images.jpeg(), images.png(), images.webp()]


@st.composite
def mangled(draw) -> bytes:
    """A valid image with bytes flipped, cut short, or spliced with noise; or plain noise."""
    kind = draw(st.sampled_from(["flip", "truncate", "splice", "noise"]))
    if kind == "noise":
        return draw(st.binary(max_size=4096))
    data = bytearray(draw(st.sampled_from(VALID)))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "splice":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(max_size=512)) + bytes(data[at:])
    for _ in range(draw(st.integers(1, 20))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@given(
    data=mangled(),
    claimed=st.sampled_from([None, "image/jpeg", "image/png", "image/webp", "text/html"]),
    name=st.sampled_from([None, "a.jpg", "a.png", "../a.webp", "a", "a.svg"]),
)
@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
def test_validator_accepts_or_rejects_with_a_message(data, claimed, name):
    started = time.monotonic()
    try:
        info = imaging.inspect_upload(io.BytesIO(data), claimed_type=claimed, name=name)
    except imaging.ImageRejected as error:
        assert str(error), "a rejection without a message"
    else:
        assert info.width > 0 and info.height > 0
        assert info.width * info.height <= imaging.DEFAULT_MAX_PIXELS
        # What the validator accepts (it reads headers only), the derivative step processes,
        # or refuses with an error the worker turns into failed derivatives with the reason
        # (photo_derivatives_make catches these): never anything that crashes the worker.
        with contextlib.suppress(OSError, ValueError, SyntaxError):
            assert imaging.make_derivatives(io.BytesIO(data)) is not None
    assert time.monotonic() - started < 5, "the validator hung"
