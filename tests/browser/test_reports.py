"""The reports in a real Chromium: the desk lead opens them from the desk, reads a chart,
changes the range and downloads a report as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import re

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.factories import StaffFactory
from tests.reports.conftest import Placer, at
from tests.scheduling.factories import (
    DeviceFactory,
    ModalityFactory,
    PractitionerFactory,
    RoomFactory,
)
from treatments.models import Session

pytestmark = pytest.mark.browser

S = Session.Status


@pytest.fixture
def month(transactional_db):
    """The month before last: 9 sessions done and 3 no-shows in it."""
    first = timezone.localdate().replace(day=1) - relativedelta(months=2)
    practitioner = PractitionerFactory(modalities=[ModalityFactory(kind="microdermabrasion")])
    placer = Placer(practitioner, RoomFactory(name="Room 1"), DeviceFactory(name="Laser"))
    for day in range(2, 14):
        status = S.NO_SHOW if day > 10 else S.COMPLETED
        placer.put(at(first.year, first.month, day), status)
    return first


def test_the_desk_lead_reads_a_chart_changes_the_range_and_downloads_a_csv(page, month):
    lead = StaffFactory(username="dora", role="Desk lead")
    sign_in(page, lead.username)
    page.wait_for_url("**/desk/")
    page.get_by_role("navigation", name="Calendar").get_by_role("link", name="Reports").click()
    page.wait_for_url("**/manage/reports/")

    chart = page.get_by_role("img", name=re.compile(r"^No-show and late-cancellation rates"))
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() >= 1
    expect(page.get_by_role("img", name=re.compile(r"^Sessions per month"))).to_be_visible()

    last_day = month + relativedelta(months=1) - dt.timedelta(days=1)
    page.get_by_label("From", exact=True).fill(f"{month:%Y-%m-%d}")
    page.get_by_label("To", exact=True).fill(f"{last_day:%Y-%m-%d}")
    page.get_by_role("button", name="Show reports").click()
    page.wait_for_url(f"**/manage/reports/?from={month:%Y-%m-%d}&to={last_day:%Y-%m-%d}*")
    attendance = page.locator("#report-attendance")
    rows = attendance.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{month:%b %Y}")
    expect(rows.first).to_contain_text("25.0 %")

    with page.expect_download() as download:
        attendance.get_by_role("link", name=re.compile("Download CSV")).click()
    assert download.value.suggested_filename == (
        f"attendance_{month:%Y-%m-%d}_{last_day:%Y-%m-%d}.csv"
    )
    with open(download.value.path(), encoding="utf-8") as file:
        lines = list(csv.reader(file))
    assert lines[1][:4] == [f"{month:%b %Y}", "12", "9", "3"]
    assert lines[1][6] == "25.0"
    assert page.console_errors == []  # a CSP violation would show here

    # A range the reports refuse says why, and keeps what was typed.
    page.get_by_label("To", exact=True).fill(f"{month - dt.timedelta(days=1):%Y-%m-%d}")
    page.get_by_role("button", name="Show reports").click()
    expect(page.get_by_text("“To” is before “From”")).to_be_visible()
    expect(page.get_by_label("From", exact=True)).to_have_value(f"{month:%Y-%m-%d}")
