"""The geometry of a report's chart, worked out here and drawn as SVG by
reports/jinja2/reports/_chart.jinja, like the portal's progress chart: no script, no library,
readable by a screen reader through its title, its description and the table beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.formats import date_format

from .tables import Kind, Table

WIDTH = 720
COLUMNS_HEIGHT = 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 14, 44
BAR_ROW = 26
BAR_LABEL_WIDTH = 220
MOST_AXIS_LABELS = 12
MOST_BAR_WIDTH = 56


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
    below: str = ""  # a second line under a category (the year under a month)


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


def nice_step(value: float, *, whole: bool) -> float:
    """A round step at or above `value` (1, 2, 2.5 or 5 x 10^n); a whole number when `whole`."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * power
        if value <= candidate and not (whole and candidate != int(candidate)):
            return max(candidate, 1) if whole else candidate
    return 10 * power


def value_axis(highest: float, *, percent: bool, at_least: float = 0) -> list[float]:
    """Round values from 0 to at or above `highest` (and `at_least`), about four steps apart:
    whole numbers for counts, whole percentages for rates."""
    highest = max(highest, at_least)
    if percent:
        step = nice_step(highest * 100 / 4, whole=True) / 100
    else:
        step = nice_step(highest / 4, whole=True)
    steps = max(1, math.ceil(highest / step - 1e-9))
    return [step * n for n in range(steps + 1)]


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
    axis = value_axis(highest, percent=percent)
    scale = (bottom - top) / axis[-1]
    chart = Chart("columns", "", "", WIDTH, COLUMNS_HEIGHT, plot=(left, top, right, bottom))
    chart.ticks = [
        Tick(round(bottom - value * scale, 1), _value_text(value, percent)) for value in axis
    ]
    band = (right - left) / max(len(rows), 1)
    every = math.ceil(len(rows) / MOST_AXIS_LABELS) or 1
    for index, (row, row_values) in enumerate(zip(rows, values, strict=True)):
        x = left + index * band
        name = row[spec.label]
        if index % every == 0:
            chart.labels.append(_category_label(x + band / 2, row, spec.label, index == 0))
        if stacked:
            width = min(band * 0.7, MOST_BAR_WIDTH)
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
            width = min(band * 0.8 / max(len(series), 1), MOST_BAR_WIDTH)
            first_x = x + (band - width * len(series)) / 2
            for number, (column, value) in enumerate(zip(series, row_values, strict=True)):
                height = value * scale
                if value:
                    chart.blocks.append(
                        Block(
                            round(first_x + number * width, 1),
                            round(bottom - height, 1),
                            round(width, 1),
                            round(height, 1),
                            number,
                            f"{name} · {column.label}: {column.shown(row.get(column.key))}",
                        )
                    )
    return chart


def _category_label(position: float, row: dict, key: str, first: bool) -> Tick:
    """A month is named short ("Mar"), with its year under the first month and every January."""
    month = row.get("month_start")
    if key == "month" and month is not None:
        year = str(month.year) if first or month.month == 1 else ""
        return Tick(position, date_format(month, "M"), year)
    return Tick(position, str(row[key]))


def _bars(table: Table, column, percent: bool) -> Chart:
    spec = table.chart
    rows = table.rows
    height = PAD_TOP + max(len(rows), 1) * BAR_ROW + 28
    left, top = BAR_LABEL_WIDTH, PAD_TOP
    right, bottom = WIDTH - 70, height - 28
    highest = max((row.get(column.key) or 0 for row in rows), default=0)
    # Percentages run to 100 % at least, so a quiet month does not look like a full one.
    axis = value_axis(highest, percent=percent, at_least=1 if percent else 0)
    scale = (right - left) / axis[-1]
    chart = Chart("bars", "", "", WIDTH, height, plot=(left, top, right, bottom))
    chart.ticks = [
        Tick(round(left + value * scale, 1), _value_text(value, percent)) for value in axis
    ]
    if percent and axis[-1] > 1:
        chart.reference = left + scale  # 100 %: booked beyond the hours available
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
