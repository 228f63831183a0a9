"""What a report computes: a table of rows, the columns that say how to show each value, and
the chart drawn from it. The page, the chart and the CSV all read this one shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    MINUTES = "minutes"  # shown in hours on the page, given in minutes in the CSV
    PERCENT = "percent"  # a fraction from 0 to 1 (or more, for overbooked time); None: no base


# What a spreadsheet would read as the start of a formula in a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = Kind.COUNT

    @property
    def csv_header(self) -> str:
        return f"{self.label} (minutes)" if self.kind is Kind.MINUTES else self.label

    def shown(self, value) -> str:
        """The value as the page's table shows it."""
        if value is None:
            return "—"
        if self.kind is Kind.MINUTES:
            return f"{value / 60:,.1f} h"
        if self.kind is Kind.PERCENT:
            return f"{value * 100:.1f} %"
        if self.kind is Kind.COUNT:
            return f"{value:,}"
        return str(value)

    def written(self, value) -> str:
        """The value as the CSV gives it: plain numbers a spreadsheet reads."""
        if value is None:
            return ""
        if self.kind is Kind.TEXT and str(value).startswith(FORMULA_STARTS):
            return f"'{value}"  # a name like "=1+2" stays text in a spreadsheet
        if self.kind is Kind.PERCENT:
            return f"{value * 100:.1f}"
        if self.kind is Kind.MINUTES:
            return str(round(value))
        return str(value)


@dataclass(frozen=True)
class ChartSpec:
    """Which columns the chart draws. `columns`: a bar per row along the bottom, one block per
    series (stacked, or side by side); `bars`: a horizontal bar per row, one series."""

    style: str  # "columns" or "bars"
    label: str  # the column that names each row on the chart
    series: tuple[str, ...]
    stacked: bool = False
    title: str = ""


@dataclass
class Table:
    columns: list[Column]
    rows: list[dict]
    chart: ChartSpec | None = None
    # A last row summing up the others (totals, overall rates): in the table and the CSV,
    # never on the chart.
    total: dict | None = None
    notes: list[str] = field(default_factory=list)

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)

    def cells(self, row: dict) -> list[tuple[Column, str]]:
        return [(column, column.shown(row.get(column.key))) for column in self.columns]


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by (shown as a dash, not 0 %)."""
    return part / whole if whole else None
