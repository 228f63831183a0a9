"""Alice follows her course on a 375-pixel phone; Bob, signed in beside her, sees none of it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.browser.test_login import sign_in
from tests.portal.conftest import add_comparison, make_course, make_practitioner
from treatments.models import Session

pytestmark = pytest.mark.browser


@pytest.fixture
def alices_course(alice, clinician_user):
    """Three sessions done, session 4 in five hours (too late to cancel), session 5 in ten days."""
    now = timezone.now()
    carla = make_practitioner(clinician_user)
    plan = make_course(alice, practitioner=carla, first=now - dt.timedelta(days=42), booked=2)
    late, later = plan.sessions.get(number=4), plan.sessions.get(number=5)
    for session, starts in (
        (late, now + dt.timedelta(hours=5)),
        (later, now + dt.timedelta(days=10)),
    ):
        Session.objects.filter(pk=session.pk).update(
            starts_at=starts, ends_at=starts + dt.timedelta(minutes=45)
        )
    comparison = add_comparison(plan, by=carla)
    return {"plan": plan, "late": late, "later": later, "comparison": comparison}


def watch_console(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    return errors


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 375


def test_alice_follows_her_course_on_her_phone(phone_page, alices_course):
    page = phone_page
    errors = watch_console(page)
    sign_in(page, "alice")
    page.wait_for_url("**/portal/")

    # The plan, its progress and the chart.
    assert page.get_by_role("heading", name="Microdermabrasion, face").is_visible()
    assert page.get_by_text("3 of 6 sessions done", exact=True).is_visible()
    chart = page.get_by_role("img", name="Progress: 3 of 6 sessions done")
    assert chart.is_visible()
    assert page.get_by_role("link", name="session 4 of 6").is_visible()
    assert fits_the_screen(page)

    # The comparison: thumbnails on the home page, side by side and a slider on its page.
    page.locator("a.comparison-link").click()
    page.wait_for_url("**/portal/photos/*/")
    before = page.get_by_role("img", name="Before,")
    before.wait_for()
    # Each image is its own audited request; on SQLite they are served one at a time. Wait
    # until every one has finished loading, then require that none is broken.
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].every(i => i.naturalWidth > 0)")
    page.get_by_label("Slide left for after, right for before").fill("20")
    clip = page.evaluate("getComputedStyle(document.getElementById('compare-top')).clipPath")
    assert "80%" in clip
    assert fits_the_screen(page)

    # The comparison sheet downloads as a PDF.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the sheet (PDF)").click()
    with open(download.value.path(), "rb") as sheet:
        assert sheet.read(4) == b"%PDF"

    # Session 5, ten days ahead: cancelled from the phone, with the keyboard.
    later = alices_course["later"]
    page.goto(f"/portal/sessions/{later.pk}/")
    assert page.get_by_role("heading", name="Before this session").is_visible()
    summary = page.locator("summary", has_text="Cancel this session")
    summary.focus()
    page.keyboard.press("Enter")
    page.get_by_label("Why can you not come? (optional)").fill("Away that week")
    page.get_by_role("button", name="Cancel this session").click()
    page.wait_for_url("**/portal/")
    assert page.get_by_role("status").get_by_text("is cancelled").is_visible()
    later.refresh_from_db()
    assert later.status == Session.Status.CANCELLED
    assert later.booking.cancel_reason == "Away that week"

    # Session 4 starts in five hours: no cancel button, the page says to call.
    late = alices_course["late"]
    page.goto(f"/portal/sessions/{late.pk}/")
    assert page.get_by_text("please call us on").is_visible()
    assert page.get_by_role("button", name="Cancel this session").count() == 0
    assert page.get_by_role("link", name="020 123 4567").get_attribute("href") == "tel:0201234567"
    late.refresh_from_db()
    assert late.status == Session.Status.BOOKED
    assert errors == []  # a CSP violation would show here


def test_bob_sees_nothing_of_alices(phone_page, alices_course, bob):
    page = phone_page
    errors = watch_console(page)
    sign_in(page, "bob")
    page.wait_for_url("**/portal/")
    assert page.get_by_text("You have no treatment course with us yet.").is_visible()
    assert page.get_by_text("Microdermabrasion").count() == 0
    assert page.locator("img").count() == 0
    comparison = alices_course["comparison"]
    for url in (
        f"/portal/sessions/{alices_course['later'].pk}/",
        f"/portal/sessions/{alices_course['later'].pk}/calendar.ics",
        f"/portal/photos/{comparison.pk}/",
        f"/photos/comparisons/{comparison.pk}/sheet.pdf",
        f"/photos/{comparison.before_id}/grid/",
    ):
        response = page.goto(url)
        assert response.status == 404, url
        assert "Alice" not in page.content()
    assert [e for e in errors if "404" not in e] == []
