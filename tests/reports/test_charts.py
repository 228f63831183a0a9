"""The charts' geometry: round axes, bars in proportion, and text for those who cannot see."""

from __future__ import annotations

import datetime as dt

import pytest

from reports.charts import draw, value_axis
from reports.tables import ChartSpec, Column, Kind, Table


def test_the_value_axis_is_round_whole_numbers_for_counts_and_whole_percentages():
    assert value_axis(9, percent=False) == [0, 5, 10]
    assert value_axis(3, percent=False) == [0, 1, 2, 3]
    assert value_axis(0, percent=False) == [0, 1]
    assert [round(v, 2) for v in value_axis(0.25, percent=True)] == [0, 0.1, 0.2, 0.3]
    assert value_axis(0.005, percent=True, at_least=1)[-1] == 1


def months_table(values: list[tuple[int, int]]) -> Table:
    months = [dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1)]
    rows = [
        {"month": f"{m:%b %Y}", "month_start": m, "done": a, "missed": b}
        for m, (a, b) in zip(months, values, strict=True)
    ]
    return Table(
        columns=[
            Column("month", "Month", Kind.TEXT),
            Column("done", "Done"),
            Column("missed", "Missed"),
        ],
        rows=rows,
        chart=ChartSpec(
            "columns", label="month", series=("done", "missed"), stacked=True, title="T"
        ),
    )


def test_stacked_blocks_are_in_proportion_and_each_says_what_it_is():
    chart = draw(months_table([(4, 1), (0, 0), (8, 2)]))
    heights = {block.title: block.height for block in chart.blocks}
    assert heights["Jan 2026 · Done: 8"] == 2 * heights["Nov 2025 · Done: 4"]
    assert heights["Jan 2026 · Missed: 2"] == 2 * heights["Nov 2025 · Missed: 1"]
    assert not any(title.startswith("Dec 2025") for title in heights)  # nothing to draw
    jan_done = next(b for b in chart.blocks if b.title == "Jan 2026 · Done: 8")
    jan_missed = next(b for b in chart.blocks if b.title == "Jan 2026 · Missed: 2")
    assert jan_missed.y + jan_missed.height == jan_done.y  # stacked on top
    assert chart.description.startswith("Nov 2025: Done 4, Missed 1; Dec 2025: Done 0")
    # Months are named short, with the year under the first and under January.
    assert [(t.text, t.below) for t in chart.labels] == [
        ("Nov", "2025"),
        ("Dec", ""),
        ("Jan", "2026"),
    ]


def test_an_empty_period_draws_no_bars_and_says_so():
    chart = draw(months_table([(0, 0), (0, 0), (0, 0)]))
    assert chart.empty and chart.blocks == []


def test_utilisation_over_a_hundred_percent_marks_the_hundred():
    table = Table(
        columns=[Column("label", "Name", Kind.TEXT), Column("u", "Utilisation", Kind.PERCENT)],
        rows=[{"label": "Room 1", "u": 1.3}, {"label": "Room 2", "u": 0.65}],
        chart=ChartSpec("bars", label="label", series=("u",)),
    )
    chart = draw(table)
    room_1, room_2 = chart.blocks
    assert room_1.width == pytest.approx(2 * room_2.width, abs=0.2)
    assert room_1.text == "130.0 %"
    assert chart.reference is not None and chart.reference < room_1.x + room_1.width
