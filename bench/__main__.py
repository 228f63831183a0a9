"""`make bench` / `python -m bench`: runs every benchmark in this folder."""

from __future__ import annotations

from bench import thumbnails

BENCHMARKS = [thumbnails]


def main() -> None:
    for module in BENCHMARKS:
        module.main()


if __name__ == "__main__":
    main()
