"""Alice downloads everything the clinic holds about her, on her phone, and opens it."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.browser.test_login import sign_in
from tests.resilience.conftest import alice_file  # noqa: F401 - her course with released photos

pytestmark = pytest.mark.browser


def test_alice_downloads_her_data_and_opens_it(phone_page, alice_file):  # noqa: F811
    page = phone_page
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.get_by_role("link", name="My data").click()
    page.wait_for_url("**/portal/my-data/")
    assert page.get_by_role("heading", name="What you can download").is_visible()

    # The worker runs in-process here (eager Celery), so the export is ready on the way back.
    page.get_by_role("button", name="Prepare my data").click()
    page.get_by_text("We are preparing your data").wait_for()
    download_link = page.get_by_role("link", name="Download my data")
    download_link.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert download.suggested_filename.startswith("my-data-")
    with zipfile.ZipFile(download.path()) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
    assert data["You"]["First name"] == "Alice" and data["You"]["Last name"] == "Smit"
    assert data["Records"]["Sessions"] and data["Records"]["Treatment plans"]
    assert len([name for name in names if name.startswith("photos/")]) == 2
