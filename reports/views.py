"""The reports page and each report's CSV: aggregate figures, no patient's data, so no look is
audited (core.looks is for answers that show a patient)."""

from __future__ import annotations

import csv

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.decorators import role_required

from . import charts
from .period import (
    DEFAULT_IDLE_DAYS,
    IDLE_DAYS_RANGE,
    LONGEST_YEARS,
    default_period,
    presets,
)
from .period import period_from_query as read_period
from .registry import BY_SLUG, REPORTS


def _range_errors(error: ValidationError) -> dict[str, list[str]]:
    return {field: list(messages) for field, messages in error.message_dict.items()}


@role_required("reports.view_reports")
@require_GET
def report_index(request):
    context = {
        "query": request.GET,
        "idle_range": IDLE_DAYS_RANGE,
        "default_idle": DEFAULT_IDLE_DAYS,
        "longest_years": LONGEST_YEARS,
        "presets": presets(),
    }
    try:
        period = read_period(request.GET)
    except ValidationError as error:
        # The form comes back with what was typed and why it is refused; nothing is computed.
        context.update(errors=_range_errors(error), period=default_period())
        return render(request, "reports/index.html", context, status=400)
    sections = []
    for report in REPORTS:
        table = report.compute(period)
        sections.append(
            {
                "report": report,
                "table": table,
                "rows": [table.cells(row) for row in table.rows],
                "total": table.cells(table.total) if table.total else None,
                "chart": charts.draw(table),
            }
        )
    context.update(period=period, sections=sections, errors={})
    return render(request, "reports/index.html", context)


@role_required("reports.view_reports")
@require_GET
def report_csv(request, report: str):
    chosen = BY_SLUG.get(report)
    if chosen is None:
        raise Http404("No such report.")
    try:
        period = read_period(request.GET)
    except ValidationError as error:
        text = " ".join(m for messages in _range_errors(error).values() for m in messages)
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    table = chosen.compute(period)
    filename = f"{chosen.slug}_{period.first_day:%Y-%m-%d}_{period.last_day:%Y-%m-%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([column.csv_header for column in table.columns])
    for row in [*table.rows, *([table.total] if table.total else [])]:
        writer.writerow([column.written(row.get(column.key)) for column in table.columns])
    return response
