"""Derivatives per photo: ours (photos.imaging) against the pyvips chain.

    python -m bench.thumbnails [--runs 5]

Makes 12 MP and 24 MP camera JPEGs of real photographs (a mosaic of scikit-image's photos at
their own resolution; EXIF with orientation, GPS and serial number, an embedded sRGB profile),
then times, for each, the full set of derivatives (2048, 1024, 320 long side, encoded as JPEG):

- ours:  photos.imaging.make_derivatives (one decode for all sizes: libjpeg-turbo decodes the
         JPEG into its Y, Cb, Cr planes at the smallest n/8 DCT scale that covers 2048 px,
         e.g. 5/8 for 12 MP; Lanczos from there, the chroma at half size; EXIF rotation;
         the planes encoded as they are, metadata-free, each size in a thread while the next
         is resized);
- pyvips: Image.thumbnail(path, 2048).copy_memory(), then thumbnail_image(1024) and (320),
          each written as JPEG with metadata stripped.

Each (image, method) runs in a fresh process so its peak RSS (VmHWM) is its own; "added" is
the peak minus the idle process with its library imported. The methods alternate over rounds,
each in its own process, so a busy machine hurts both alike; the times are the medians over
all rounds' runs, wall clock and CPU (all threads of the process: the figure a loaded machine
disturbs least). Prints the edge energy of ours and
of pyvips at each size over a Lanczos reference (a Lanczos resize of the full decode; goal:
within 5 %), the median time per photo, the peak RSS of the process and what the work added
over the idle process, and the ratios ours / pyvips; writes bench/results.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import queue as queue_module
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import record

SIZES = {"12MP": (4000, 3000), "24MP": (6000, 4000)}


def make_camera_jpeg(
    path: Path, size: tuple[int, int], seed: int = 7, scene: str = "synthetic"
) -> None:
    """A camera-like JPEG with rich EXIF. Its scene: "synthetic", soft gradients and shapes
    with per-pixel sensor noise; or "real", a mosaic of real photographs at their own
    resolution (tests/photos/real_photos.py), whose fine detail is a photograph's."""
    from PIL import Image, ImageDraw, ImageFilter

    if scene == "real":
        from tests.photos.real_photos import mosaic

        _save_camera_jpeg(path, mosaic(size))
        return
    rng = random.Random(seed)
    width, height = size
    small = Image.new("RGB", (width // 8, height // 8))
    draw = ImageDraw.Draw(small)
    for y in range(small.height):
        shade = int(120 + 80 * y / small.height)
        draw.line((0, y, small.width, y), fill=(shade, int(shade * 0.85), int(shade * 0.7)))
    for _ in range(60):
        x, y = rng.randrange(small.width), rng.randrange(small.height)
        r = rng.randint(5, small.width // 6)
        colour = tuple(rng.randint(40, 230) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    scene = small.filter(ImageFilter.GaussianBlur(2)).resize(size, Image.Resampling.BICUBIC)
    noise = Image.merge("RGB", [Image.effect_noise(size, 24) for _ in range(3)])
    _save_camera_jpeg(path, Image.blend(scene, noise, 0.3))


def _save_camera_jpeg(path: Path, image) -> None:
    from PIL import Image, ImageCms

    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = "BC-24"
    exif[0x0112] = 6  # rotated: the phone was held upright
    exif[0x0132] = "2026:03:14 09:30:00"
    exif.get_ifd(0x8769)[0x9003] = "2026:03:14 09:30:00"
    exif.get_ifd(0x8769)[0xA431] = "SN-0042-1337"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 22.0, 5.0), "E", (4.0, 53.0, 10.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(path, "JPEG", quality=92, exif=exif, icc_profile=icc, subsampling=2)


def _ours(path: str) -> int:
    from photos.imaging import make_derivatives

    with open(path, "rb") as handle:
        return sum(len(d.data) for d in make_derivatives(handle))


def _pyvips(path: str) -> int:
    import pyvips

    large = pyvips.Image.thumbnail(path, 2048).copy_memory()
    total = len(large.write_to_buffer(".jpg[Q=85,strip]"))
    screen = large.thumbnail_image(1024)
    total += len(screen.write_to_buffer(".jpg[Q=85,strip]"))
    grid = screen.thumbnail_image(320)
    total += len(grid.write_to_buffer(".jpg[Q=85,strip]"))
    return total


def _ours_grid_only(path: str) -> int:
    from photos.imaging import make_derivatives

    with open(path, "rb") as handle:
        return sum(len(d.data) for d in make_derivatives(handle, sizes=(320,)))


def _bare_decode(path: str) -> int:
    """The floor for a 320 thumbnail: the reduced JPEG decode alone (no colour, no turn, no
    resize, no encode)."""
    from PIL import Image

    from photos.imaging import _fit

    with Image.open(path) as image:
        image.draft("RGB", _fit(image.width, image.height, 320))
        image.load()
        return image.width * image.height


METHODS = {"ours": _ours, "pyvips chain": _pyvips}
# One 320 thumbnail against the bare draft() + load() decode it starts from.
GRID_METHODS = {"ours, 320 only": _ours_grid_only, "bare draft()+load()": _bare_decode}
ALL_METHODS = {**METHODS, **GRID_METHODS}


def _rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(method: str, path: str, runs: int, queue) -> None:
    function = ALL_METHODS[method]
    # Import the library first so the idle baseline includes it.
    if function is _pyvips:
        import pyvips  # noqa: F401
    else:
        import photos.imaging  # noqa: F401
    idle = _rss_mb()
    function(path)  # warm-up (and caches), not timed
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        function(path)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    peak = _rss_mb()
    queue.put({"ms": times, "cpu_ms": cpu, "peak_rss_mb": peak, "idle_rss_mb": idle})


def measure(method: str, path: Path, runs: int) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(method, str(path), runs, queue))
    process.start()
    # Poll, so a child that died (pyvips without libvips42, say) stops the run with its reason
    # instead of leaving it waiting.
    deadline = time.monotonic() + 600
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except queue_module.Empty:
            if not process.is_alive() or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"The {method} measurement ended without a result (exit code "
                    f"{process.exitcode}); its traceback is above. pyvips needs Debian's libvips42."
                ) from None
    process.join()
    return result


def summary(method: str, rounds: list[dict]) -> dict:
    """One method's rounds together: medians over every timed run, the highest peak."""
    ms = [value for result in rounds for value in result["ms"]]
    cpu = [value for result in rounds for value in result["cpu_ms"]]
    worst = max(rounds, key=lambda result: result["peak_rss_mb"])
    return {
        "method": method,
        "ms_median": round(statistics.median(ms), 1),
        "ms_min": round(min(ms), 1),
        "cpu_ms_median": round(statistics.median(cpu), 1),
        "peak_rss_mb": round(worst["peak_rss_mb"], 1),
        "added_mb": round(worst["peak_rss_mb"] - worst["idle_rss_mb"], 1),
    }


def _edge_energy(data: bytes) -> float:
    """Mean squared central-difference gradient of the luminance: the fine detail a softer
    resize loses."""
    import io

    import numpy as np
    from PIL import Image

    gray = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32)
    gx = gray[1:-1, 2:] - gray[1:-1, :-2]
    gy = gray[2:, 1:-1] - gray[:-2, 1:-1]
    return float(np.mean(gx * gx + gy * gy))


def edge_energy(path: Path) -> dict[int, dict[str, float]]:
    """Per size: the edge energy of ours and of the pyvips chain over that of a reference, a
    Lanczos resize of the full decode straight to the size, upright, encoded as ours are (so
    JPEG's own loss is on both sides)."""
    import pyvips
    from PIL import Image, ImageOps

    from photos.imaging import _encode_jpeg, _fit, make_derivatives

    with open(path, "rb") as handle:
        ours = {d.size: d.data for d in make_derivatives(handle)}
    large = pyvips.Image.thumbnail(str(path), 2048).copy_memory()
    screen = large.thumbnail_image(1024)
    vips = {
        2048: large.write_to_buffer(".jpg[Q=85,strip]"),
        1024: screen.write_to_buffer(".jpg[Q=85,strip]"),
        320: screen.thumbnail_image(320).write_to_buffer(".jpg[Q=85,strip]"),
    }
    with Image.open(path) as original:
        full = ImageOps.exif_transpose(original.convert("RGB"))
    ratios = {}
    for size in sorted(ours, reverse=True):
        reference = full.resize(_fit(full.width, full.height, size), Image.Resampling.LANCZOS)
        energy = _edge_energy(_encode_jpeg(reference))
        ratios[size] = {
            "ours": round(_edge_energy(ours[size]) / energy, 3),
            "pyvips": round(_edge_energy(vips[size]) / energy, 3),
        }
    return ratios


def pyvips_problem() -> str | None:
    """None when pyvips and its libvips load; else what to install."""
    try:
        import pyvips  # noqa: F401
    except ModuleNotFoundError:
        return "pyvips is not installed: pip install '.[bench]' (it needs Debian's libvips42 too)"
    except (ImportError, OSError) as error:
        return f"pyvips cannot load libvips ({error}): apt-get install libvips42"
    return None


def _our_decoder() -> str:
    from photos.imaging import libturbojpeg

    if libturbojpeg() is None:
        return "Pillow in RGB (no libturbojpeg: apt-get install libturbojpeg0)"
    return "libturbojpeg, into Y/Cb/Cr planes"


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per method")
    args = parser.parse_args(argv)
    problem = pyvips_problem()
    if problem:
        print(f"Thumbnails: skipped ({problem}).")
        return None
    report: dict = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "rounds": args.rounds,
        "load_average_before": os.getloadavg()[0],
        "ours_decodes_with": _our_decoder(),
        "images": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for label, size in SIZES.items():
            path = Path(folder) / f"camera-{label}.jpg"
            make_camera_jpeg(path, size, scene="real")
            sharpness = edge_energy(path)
            # Alternate the methods over a few rounds so a busy machine hurts both alike.
            rounds: dict[str, list[dict]] = {method: [] for method in ALL_METHODS}
            for group in (METHODS, GRID_METHODS):
                for round_number in range(args.rounds):
                    order = list(group) if round_number % 2 == 0 else list(reversed(group))
                    for method in order:
                        rounds[method].append(measure(method, path, args.runs))
            rows = [summary(method, rounds[method]) for method in ALL_METHODS]
            ours, vips, grid, bare = rows
            report["images"][label] = {
                "pixels": f"{size[0]}x{size[1]}",
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "results": rows,
                "time_ratio_ours_to_pyvips": round(ours["ms_median"] / vips["ms_median"], 2),
                "cpu_ratio_ours_to_pyvips": round(ours["cpu_ms_median"] / vips["cpu_ms_median"], 2),
                "peak_ratio_ours_to_pyvips": round(ours["peak_rss_mb"] / vips["peak_rss_mb"], 2),
                "time_ratio_320_to_bare_decode": round(grid["ms_median"] / bare["ms_median"], 2),
                "edge_energy_ratio_to_lanczos": sharpness,
            }
    report["load_average_after"] = os.getloadavg()[0]
    print(
        f"Derivatives 2048/1024/320 per photo (median of {args.rounds} x {args.runs} runs, "
        f"methods interleaved; peak RSS per process; load average "
        f"{report['load_average_before']:.1f} before, {report['load_average_after']:.1f} after "
        f"on {report['cpus']} CPUs); ours decodes with {report['ours_decodes_with']}"
    )
    print(f"{'image':<6} {'method':<20} {'ms':>8} {'CPU ms':>8} {'peak MB':>8} {'added MB':>9}")
    for label, entry in report["images"].items():
        for row in entry["results"]:
            print(
                f"{label:<6} {row['method']:<20} {row['ms_median']:>8.1f} "
                f"{row['cpu_ms_median']:>8.1f} {row['peak_rss_mb']:>8.1f} {row['added_mb']:>9.1f}"
            )
        print(
            f"{label:<6} ratio ours/pyvips (goal <= 0.8): "
            f"time {entry['time_ratio_ours_to_pyvips']:.2f}, "
            f"CPU {entry['cpu_ratio_ours_to_pyvips']:.2f}, "
            f"peak memory {entry['peak_ratio_ours_to_pyvips']:.2f} "
            f"({entry['pixels']}, {entry['file_mb']} MB file)"
        )
        energy = entry["edge_energy_ratio_to_lanczos"]
        print(
            f"{label:<6} edge energy / Lanczos reference (goal 0.95 to 1.05): "
            + ", ".join(
                f"{size}: ours {r['ours']:.3f}, pyvips {r['pyvips']:.3f}"
                for size, r in energy.items()
            )
        )
        print(
            f"{label:<6} ratio one 320 thumbnail / bare draft()+load(): "
            f"{entry['time_ratio_320_to_bare_decode']:.2f} (goal <= 1.1)"
        )
    record("thumbnails", report)
    return report


if __name__ == "__main__":
    main()
