"""The geometry of a report's chart, worked out here and drawn as SVG by
reports/jinja2/reports/_chart.jinja, like the portal's progress chart: no script, no library,
readable by a screen reader through its title, its description and the table beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .tables import Kind, Table

WIDTH = 720
COLUMNS_HEIGHT = 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 14, 44
BAR_ROW = 26
BAR_LABEL_WIDTH = 220
MOST_AXIS_LABELS = 12


@dataclass(frozen=True)
class Block:
    x: float
    y: float
    width: float
    height: float
    series: int
    title: str
    text: str = ""  # the value written beside a horizontal bar


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass
class Chart:
    style: str
    title: str
    description: str
    width: int
    height: int
    blocks: list[Block] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)  # the value axis
    labels: list[Tick] = field(default_factory=list)  # the categories
    legend: list[tuple[int, str]] = field(default_factory=list)
    plot: tuple[float, float, float, float] = (0, 0, 0, 0)  # left, top, right, bottom
    reference: float | None = None  # where 100 % falls on a percentage chart's value axis
    empty: bool = False


def nice_ceiling(value: float) -> float:
    """A round number at or above `value` for the top of the value axis (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _value_text(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f} %"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def draw(table: Table) -> Chart | None:
    spec = table.chart
    if spec is None:
        return None
    series = [table.column(key) for key in spec.series]
    percent = all(column.kind is Kind.PERCENT for column in series)
    legend = [(index, column.label) for index, column in enumerate(series)]
    description = "; ".join(
        f"{row[spec.label]}: "
        + ", ".join(f"{column.label} {column.shown(row.get(column.key))}" for column in series)
        for row in table.rows
    )
    if spec.style == "bars":
        chart = _bars(table, series[0], percent)
    else:
        chart = _columns(table, series, percent, spec.stacked)
    chart.title = spec.title
    chart.description = description or "No data in this period."
    chart.legend = legend
    chart.empty = not any((row.get(column.key) or 0) > 0 for row in table.rows for column in series)
    return chart


def _columns(table: Table, series, percent: bool, stacked: bool) -> Chart:
    spec = table.chart
    rows = table.rows
    left, top = PAD_LEFT, PAD_TOP
    right, bottom = WIDTH - PAD_RIGHT, COLUMNS_HEIGHT - PAD_BOTTOM
    values = [[row.get(column.key) or 0 for column in series] for row in rows]
    highest = max((sum(v) if stacked else max(v, default=0) for v in values), default=0)
    top_value = nice_ceiling(highest)
    scale = (bottom - top) / top_value
    chart = Chart("columns", "", "", WIDTH, COLUMNS_HEIGHT, plot=(left, top, right, bottom))
    chart.ticks = [
        Tick(bottom - top_value * share * scale, _value_text(top_value * share, percent))
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    band = (right - left) / max(len(rows), 1)
    every = math.ceil(len(rows) / MOST_AXIS_LABELS) or 1
    for index, (row, row_values) in enumerate(zip(rows, values, strict=True)):
        x = left + index * band
        name = row[spec.label]
        if index % every == 0:
            chart.labels.append(Tick(x + band / 2, str(name)))
        if stacked:
            width = band * 0.7
            y = bottom
            for number, (column, value) in enumerate(zip(series, row_values, strict=True)):
                height = value * scale
                y -= height
                if value:
                    chart.blocks.append(
                        Block(
                            round(x + (band - width) / 2, 1),
                            round(y, 1),
                            round(width, 1),
                            round(height, 1),
                            number,
                            f"{name} · {column.label}: {column.shown(row.get(column.key))}",
                        )
                    )
        else:
            width = band * 0.8 / max(len(series), 1)
            for number, (column, value) in enumerate(zip(series, row_values, strict=True)):
                height = value * scale
                if value:
                    chart.blocks.append(
                        Block(
                            round(x + band * 0.1 + number * width, 1),
                            round(bottom - height, 1),
                            round(width, 1),
                            round(height, 1),
                            number,
                            f"{name} · {column.label}: {column.shown(row.get(column.key))}",
                        )
                    )
    return chart


def _bars(table: Table, column, percent: bool) -> Chart:
    spec = table.chart
    rows = table.rows
    height = PAD_TOP + max(len(rows), 1) * BAR_ROW + 28
    left, top = BAR_LABEL_WIDTH, PAD_TOP
    right, bottom = WIDTH - 70, height - 28
    highest = max((row.get(column.key) or 0 for row in rows), default=0)
    # Percentages run to 100 % at least, so a quiet month does not look like a full one.
    top_value = max(1.0, nice_ceiling(highest)) if percent else nice_ceiling(highest)
    scale = (right - left) / top_value
    chart = Chart("bars", "", "", WIDTH, height, plot=(left, top, right, bottom))
    chart.ticks = [
        Tick(left + top_value * share * scale, _value_text(top_value * share, percent))
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    if percent and top_value > 1:
        chart.reference = left + scale
    for index, row in enumerate(rows):
        y = top + index * BAR_ROW
        value = row.get(column.key) or 0
        chart.labels.append(Tick(y + BAR_ROW / 2, str(row[spec.label])))
        chart.blocks.append(
            Block(
                left,
                y + 4,
                round(value * scale, 1),
                BAR_ROW - 8,
                0,
                f"{row[spec.label]}: {column.shown(row.get(column.key))}",
                column.shown(row.get(column.key)),
            )
        )
    return chart
