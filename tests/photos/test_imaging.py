"""The pure image functions: what is accepted, what is refused, and what derivatives look like."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image, ImageCms

from photos import imaging
from tests.photos import images


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_each_accepted_format_is_inspected(name):
    content_type, make = images.SAMPLES[name]
    data = make()
    info = imaging.inspect_upload(io.BytesIO(data), claimed_type=content_type, name=name)
    assert (info.width, info.height) == (600, 400)
    assert info.size == len(data)
    assert len(info.sha256) == 64
    assert info.content_type == imaging.ACCEPTED_FORMATS[info.format]


def test_capture_time_comes_from_exif():
    info = imaging.inspect_upload(
        io.BytesIO(images.jpeg()), name="a.jpg", tz=dt.timezone(dt.timedelta(hours=1))
    )
    assert info.captured_at == dt.datetime(
        2026, 3, 14, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(orientation):
    data = images.jpeg(orientation=orientation, size=(600, 400))
    for derivative in imaging.make_derivatives(data, sizes=(2048, 1024, 320)):
        assert images.is_upright(derivative.data), (orientation, derivative.size)


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_no_metadata_survives_in_any_derivative(name):
    data = images.SAMPLES[name][1]()
    for derivative in imaging.make_derivatives(data):
        with Image.open(io.BytesIO(derivative.data)) as image:
            assert image.format == "JPEG"
            assert not image.getexif()
            assert not image.getexif().get_ifd(0x8825)  # no GPS
            assert "exif" not in image.info and "icc_profile" not in image.info
        assert b"SERIAL-123456" not in derivative.data and b"TestCam" not in derivative.data


def png_with_text() -> bytes:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", images.PRIVATE_COMMENT.decode())
    text.add_itxt("XML:com.adobe.xmp", images.PHP_PAYLOAD.decode())
    return images.encode(images.upright(), "PNG", pnginfo=text, exif=images.exif_with(1))


def webp_with_everything() -> bytes:
    return images.encode(
        images.upright(), "WEBP", exif=images.exif_with(1), xmp=images.PRIVATE_COMMENT
    )


CARRIERS = {
    "a JPEG with a comment, EXIF, XMP, ICC and PHP": images.jpeg_with_everything,
    "a PNG with text chunks and EXIF": png_with_text,
    "a WebP with EXIF and XMP": webp_with_everything,
    "a HEIC with EXIF": images.heic,
}


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_derivatives_carry_no_metadata_segment_of_any_kind(carrier):
    for derivative in imaging.make_derivatives(CARRIERS[carrier]()):
        assert images.metadata_segments(derivative.data) == [], derivative.size
        assert images.PRIVATE_COMMENT not in derivative.data
        assert images.PHP_PAYLOAD not in derivative.data


def test_a_sheet_carries_no_metadata_segment():
    large = imaging.make_derivatives(images.jpeg_with_everything(), sizes=(2048,))[0].data
    jpeg, _ = imaging.render_sheet(
        [imaging.Panel(large, ["Before"]), imaging.Panel(large, ["After"])],
        title="Face · Frontal",
        clinic_name="Test Clinic",
    )
    assert images.metadata_segments(jpeg) == []


def test_a_camera_jpeg_with_a_second_image_is_accepted_by_its_primary_image():
    data = images.mpo(orientation=6)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "MPO" and image.n_frames == 2  # what the cameras send
    info = imaging.inspect_upload(io.BytesIO(data), claimed_type="image/jpeg", name="DSCF0001.JPG")
    assert (info.format, info.content_type, info.extension) == ("JPEG", "image/jpeg", "jpg")
    assert (info.width, info.height, info.orientation) == (400, 600, 6)
    for derivative in imaging.make_derivatives(data):
        assert images.is_upright(derivative.data), derivative.size
        assert images.metadata_segments(derivative.data) == []


def test_sizes_from_one_reduced_decode_of_a_big_jpeg():
    data = images.jpeg(size=(6000, 4000), quality=70, gps=False)
    made = {d.size: (d.width, d.height) for d in imaging.make_derivatives(data)}
    assert made == {2048: (2048, 1365), 1024: (1024, 682), 320: (320, 213)}


def test_a_wide_gamut_photo_is_converted_to_srgb():
    display_p3_like = ImageCms.createProfile("LAB")  # any non-sRGB profile changes the pixels
    lab = Image.new("LAB", (64, 64), (60, 40, 20))
    profile = ImageCms.ImageCmsProfile(display_p3_like).tobytes()
    rgb = ImageCms.profileToProfile(
        lab, display_p3_like, ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    adobe = images.encode(rgb, "JPEG", icc_profile=profile)
    [small] = imaging.make_derivatives(adobe, sizes=(320,))
    with Image.open(io.BytesIO(small.data)) as image:
        assert "icc_profile" not in image.info
        assert image.mode == "RGB"


BAD_FILES = {
    "a text file": (b"hello, this is not an image", "notes.jpg", "image/jpeg", "not a JPEG"),
    "a GIF": (images.encode(images.upright(), "GIF"), "a.gif", "image/gif", "not accepted"),
    "a GIF renamed to .jpg": (
        images.encode(images.upright(), "GIF"),
        "a.jpg",
        "image/jpeg",
        "not a JPEG",
    ),
    "a PNG claiming to be JPEG": (images.png(), "a.jpg", "image/jpeg", "contents are PNG"),
    "a name and a type that disagree": (images.jpeg(), "a.png", "image/jpeg", "disagree"),
    "a truncated JPEG": (images.truncated_jpeg(), "a.jpg", "image/jpeg", "truncated"),
    "a truncated PNG": (images.truncated(images.noise_png()), "a.png", "image/png", "truncated"),
    "a truncated WebP": (images.truncated(images.webp()), "a.webp", "image/webp", "damaged"),
    "a truncated HEIC": (images.truncated(images.heic()), "a.heic", "image/heic", "truncated"),
    "an empty file": (b"", "a.jpg", "image/jpeg", "empty"),
    "a PDF": (b"%PDF-1.4\n%...", "a.pdf", "application/pdf", "not accepted"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_are_refused_with_a_reason(kind):
    data, name, content_type, message = BAD_FILES[kind]
    with pytest.raises(imaging.ImageRejected, match=message):
        imaging.inspect_upload(io.BytesIO(data), claimed_type=content_type, name=name)


def test_a_whole_file_damaged_inside_is_found_by_decoding_it_in_the_worker():
    data = images.damaged_inside_png()
    info = imaging.inspect_upload(io.BytesIO(data), name="a.png")  # no decoding here
    assert info.width == 1200
    with pytest.raises(OSError):
        imaging.make_derivatives(data)


@pytest.mark.parametrize("name", sorted(images.SAMPLES))
def test_a_whole_file_with_a_trailer_is_accepted(name):
    """Cameras and phones append data after the image (MPO images, maker trailers)."""
    content_type, make = images.SAMPLES[name]
    data = make() + b"\0" * 7 + b"trailer" * 100
    assert imaging.inspect_upload(io.BytesIO(data), claimed_type=content_type, name=name)


def test_millions_of_empty_chunks_or_boxes_do_not_keep_the_web_process_busy():
    """Walking a crafted 40 MB file structure by structure took 4-5 s of the web process."""
    import struct
    import time
    import zlib

    png = images.png()
    empty = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    end = png.rindex(b"IEND") - 4
    chunky_png = png[:end] + empty * 3_000_000 + png[end:]
    heic = images.heic()
    boxy_heic = heic + b"\x00\x00\x00\x08free" * 4_500_000
    started = time.monotonic()
    assert imaging.inspect_upload(io.BytesIO(chunky_png), name="a.png").width == 600
    with pytest.raises(imaging.ImageRejected, match="malformed"):
        imaging.inspect_upload(io.BytesIO(boxy_heic), name="a.heic")
    assert time.monotonic() - started < 2.5


def test_a_file_too_large_in_bytes_is_refused():
    with pytest.raises(imaging.ImageRejected, match="larger than 2 KB"):
        imaging.inspect_upload(io.BytesIO(images.jpeg()), name="a.jpg", max_bytes=2048)


def test_a_decompression_bomb_is_refused():
    with pytest.raises(imaging.ImageRejected, match="decompression bomb"):
        imaging.inspect_upload(io.BytesIO(images.bomb_png()), name="a.png")


# Peak memory from VmHWM: ru_maxrss would start at the forking pytest's own size.
MEASURE_INSPECTION = """
import io, re, sys
from photos import imaging

def peak_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))

data = open(sys.argv[1], "rb").read()
before = peak_kb()
imaging.inspect_upload(io.BytesIO(data), name=sys.argv[1])
print((peak_kb() - before) // 1024)
"""


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_inspecting_a_59_megapixel_upload_costs_almost_no_memory(fmt, tmp_path):
    """Measured in a process of its own: peak memory only grows, so the test process's history
    would hide it."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / f"big.{fmt.lower()}"
    path.write_bytes(images.big_blank(fmt))
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", MEASURE_INSPECTION, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    grown = int(run.stdout)
    assert grown < 20, f"{grown} MB"  # decoding it cost 225 MB (PNG) and 904 MB (WebP)


def test_a_sheet_is_drawn_as_jpeg_and_pdf():
    large = imaging.make_derivatives(images.jpeg(), sizes=(2048,))[0].data
    panels = [imaging.Panel(large, ["Before · 1 Mar 2026", "Session 1"]) for _ in range(3)]
    jpeg, pdf = imaging.render_sheet(panels, title="Face · Frontal", clinic_name="Test Clinic")
    assert jpeg[:3] == b"\xff\xd8\xff"
    assert pdf.startswith(b"%PDF")
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.width > image.height


def test_resizing_in_bands_gives_the_same_pixels_as_one_resize():
    from PIL import ImageChops, ImageStat

    source = Image.merge("RGB", [Image.effect_noise((2400, 1800), 60) for _ in range(3)])
    banded = imaging._resize_in_strips(source, (1500, 1125))
    whole = source.resize((1500, 1125), imaging.RESAMPLE)
    difference = ImageStat.Stat(ImageChops.difference(banded, whole))
    assert max(difference.extrema[band][1] for band in range(3)) <= 2  # rounding at band edges


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_decoded_at_a_reduced_dct_scale_comes_out_upright(orientation):
    # 1400 px to 1024: 1/2 would be short of it, so libjpeg-turbo decodes at 6/8 (1050 px).
    data = images.jpeg(orientation=orientation, size=(1400, 1000))
    [screen] = imaging.make_derivatives(data, sizes=(1024,))
    assert (screen.width, screen.height) == (1024, 731)
    assert images.is_upright(screen.data), orientation
    assert images.metadata_segments(screen.data) == []


def test_a_12_megapixel_photo_is_decoded_into_planes_at_five_eighths_not_whole():
    """4000x3000 to 2048 px: 1/2 gives 2000 px, too few, so Pillow's draft() decoded all 12 MP;
    libjpeg-turbo's 5/8 gives 2500x1875, as the JPEG holds it: luma, and chroma at half."""
    data = images.jpeg(size=(4000, 3000), quality=70, gps=False)
    planes = imaging._jpeg_planes(io.BytesIO(data), (4000, 3000), (2048, 1536))
    assert planes is not None and planes.size == planes.luma.size == (2500, 1875)
    assert [plane.size for plane in planes.chroma] == [(1250, 938), (1250, 938)]
    made = {d.size: (d.width, d.height) for d in imaging.make_derivatives(data)}
    assert made == {2048: (2048, 1536), 1024: (1024, 768), 320: (320, 240)}


def _mean_difference(data: bytes, reference: Image.Image):
    import numpy as np

    with Image.open(io.BytesIO(data)) as made:
        assert made.size == reference.size
        pixels = np.asarray(made.convert("RGB"), dtype=np.int16)
    return np.abs(pixels - np.asarray(reference, dtype=np.int16)).mean(axis=(0, 1))


@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["4:4:4", "4:2:2", "4:2:0"])
@pytest.mark.parametrize("size", [(4000, 3000), (3001, 2001), (999, 667)])
def test_derivatives_from_the_planes_have_the_colours_of_a_lanczos_from_the_whole_photo(
    size, subsampling
):
    """However the camera subsampled its chroma, at whatever DCT scale and with odd sizes, each
    derivative's pixels are those of a Lanczos resize of the whole decode (red stays red: a
    swapped or misplaced chroma plane is tens of levels off)."""
    from tests.photos import real_photos

    photo = real_photos.mosaic(size)
    photo.paste((200, 30, 40), (0, 0, size[0] // 5, size[1] // 5))
    data = images.encode(photo, "JPEG", quality=92, subsampling=subsampling)
    assert imaging._jpeg_planes(io.BytesIO(data), size, imaging._fit(*size, 2048)) is not None
    with Image.open(io.BytesIO(data)) as opened:
        whole = opened.convert("RGB")
    for derivative in imaging.make_derivatives(data):
        reference = whole.resize((derivative.width, derivative.height), imaging.RESAMPLE)
        assert max(_mean_difference(derivative.data, reference)) < 4.5, derivative.size
        with Image.open(io.BytesIO(derivative.data)) as made:
            red = made.convert("RGB").getpixel((made.width // 10, made.height // 10))
        assert images._near(red, (200, 30, 40), tolerance=12), (derivative.size, red)
        assert images.metadata_segments(derivative.data) == []


def test_without_libturbojpeg_pillow_makes_the_same_derivatives(monkeypatch):
    """A machine without the system's libturbojpeg still makes every size, upright and with
    the same pixels give or take JPEG's loss: Pillow decodes (at 1/2^k only) and resizes."""
    from tests.photos import real_photos

    data = images.encode(
        real_photos.mosaic((3000, 2000)), "JPEG", quality=92, exif=images.exif_with(6)
    )
    planar = {d.size: d for d in imaging.make_derivatives(data)}
    monkeypatch.setattr(imaging, "libturbojpeg", lambda: None)
    assert imaging._jpeg_planes(io.BytesIO(data), (3000, 2000), (1365, 2048)) is None
    for derivative in imaging.make_derivatives(data):
        twin = planar[derivative.size]
        assert (derivative.width, derivative.height) == (twin.width, twin.height)
        assert derivative.height > derivative.width  # turned upright (EXIF 6)
        with Image.open(io.BytesIO(twin.data)) as from_planes:
            reference = from_planes.convert("RGB")
        assert max(_mean_difference(derivative.data, reference)) < 3, derivative.size


def _edge_energy(image: Image.Image) -> float:
    import numpy as np

    grey = np.asarray(image.convert("L"), dtype=np.float32)
    gx = grey[1:-1, 2:] - grey[1:-1, :-2]
    gy = grey[2:, 1:-1] - grey[:-2, 1:-1]
    return float(np.mean(gx * gx + gy * gy))


def test_a_reduced_decode_is_as_sharp_as_a_lanczos_from_the_whole_photo():
    """On real photographs (a mosaic of scikit-image's): the derivative from the 5/8 decode
    keeps the edge energy of a Lanczos resize of the full decode within 5 %, and its pixels."""
    import numpy as np

    from tests.photos import real_photos

    data = images.encode(real_photos.mosaic((2000, 1500)), "JPEG", quality=92)
    [screen] = imaging.make_derivatives(data, sizes=(1024,))
    with Image.open(io.BytesIO(data)) as whole:
        reference = whole.convert("RGB").resize((1024, 768), Image.Resampling.LANCZOS)
    with Image.open(io.BytesIO(screen.data)) as made:
        ratio = _edge_energy(made) / _edge_energy(reference)
        difference = np.abs(
            np.asarray(made, dtype=np.int16) - np.asarray(reference, dtype=np.int16)
        )
    assert 0.95 <= ratio <= 1.05, ratio
    assert difference.mean() < 3, difference.mean()  # JPEG's own loss at quality 85


def test_a_jpeg_that_libjpeg_turbo_finds_odd_is_still_decoded_by_pillow():
    """A corrupt byte inside the scan: libjpeg-turbo (strict) refuses it, and Pillow decodes
    what it can as it always did, rather than the photo failing."""
    data = bytearray(images.jpeg(size=(2400, 1600), quality=90))
    scan = data.index(b"\xff\xda") + 600
    data[scan : scan + 40] = bytes(40)
    made = imaging.make_derivatives(bytes(data), sizes=(1024, 320))
    assert [(d.width, d.height) for d in made] == [(1024, 683), (320, 213)]


def test_a_reduced_decode_that_lands_on_the_size_needs_no_resize():
    # 1600x1200 at 5/8 is 1000x750: exactly the size asked for.
    [made] = imaging.make_derivatives(images.jpeg(size=(1600, 1200)), sizes=(1000,))
    assert (made.width, made.height) == (1000, 750)
    assert images.is_upright(made.data)


def test_the_system_check_says_when_libturbojpeg_is_missing(monkeypatch):
    from django.core import checks

    def photo_checks():
        return checks.run_checks(tags=["photos"], include_deployment_checks=True)

    assert photo_checks() == []  # CI installs libturbojpeg0
    monkeypatch.setattr(imaging, "libturbojpeg", lambda: None)
    [warning] = photo_checks()
    assert warning.id == "photos.W001"
    assert "libturbojpeg0" in warning.hint


def test_a_sheet_panel_is_decoded_at_the_dct_scale_that_fills_it(monkeypatch):
    """A 2048 px derivative for a three-panel sheet's 768 px box: libjpeg-turbo's 3/8 scale is
    exactly that, so no resize follows; Pillow alone (1/2^k) decodes 1024 px and resizes. Both
    draw the same sheet."""
    large = imaging.make_derivatives(images.jpeg(size=(4000, 3000)), sizes=(2048,))[0].data
    assert imaging.decoded_at_least(large, 768).size == (768, 576)
    assert imaging.decoded_at_least(large, 1024).size == (1024, 768)
    assert imaging.decoded_at_least(large, 4096).size == (2048, 1536)  # never enlarged
    panels = [imaging.Panel(large, ["Before"]) for _ in range(3)]
    jpeg, _ = imaging.render_sheet(panels, title="Face", clinic_name="Test Clinic")
    monkeypatch.setattr(imaging, "libturbojpeg", lambda: None)
    assert imaging.decoded_at_least(large, 768).size == (1024, 768)
    pillow_jpeg, _ = imaging.render_sheet(panels, title="Face", clinic_name="Test Clinic")
    with Image.open(io.BytesIO(jpeg)) as turbo, Image.open(io.BytesIO(pillow_jpeg)) as pillow:
        assert max(_mean_difference(jpeg, pillow.convert("RGB"))) < 2
        assert turbo.size == pillow.size


def test_a_corrupt_derivative_is_still_drawn_by_pillow():
    data = bytearray(images.jpeg(size=(2048, 1536), quality=90))
    scan = data.index(b"\xff\xda") + 600
    data[scan : scan + 40] = bytes(40)
    assert imaging.decoded_at_least(bytes(data), 768).size == (1024, 768)
