"""`make bench` / `python -m bench`: runs every benchmark in this folder.

    python -m bench [thumbnails sheets pages upload contention outage reports photo_science]
    (default: all, in order)

Each prints its table and merges its report into bench/results.json (git-ignored).
"""

from __future__ import annotations

import sys

from bench import contention, outage, pages, photo_science, reports, sheets, thumbnails, upload

BENCHMARKS = {
    "thumbnails": thumbnails,
    "sheets": sheets,
    "pages": pages,
    "upload": upload,
    "contention": contention,
    "outage": outage,
    "reports": reports,
    "photo_science": photo_science,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"Unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in chosen:
        BENCHMARKS[name].main([])


if __name__ == "__main__":
    main()
