"""Alice, on her phone, signs the clinic's updated consent form with her finger, downloads the
signed PDF, then withdraws her marketing consent."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.browser.test_login import sign_in
from treatments import consents
from treatments.models import ConsentSignature, Modality

pytestmark = pytest.mark.browser


def draw_with_a_finger(page, selector: str) -> None:
    """A stroke across the canvas from touch events, as a phone's screen sends them."""
    box = page.locator(selector).bounding_box()
    cdp = page.context.new_cdp_session(page)
    points = [(0.1, 0.7), (0.25, 0.2), (0.4, 0.8), (0.6, 0.3), (0.9, 0.5)]

    def at(fx, fy):
        return [{"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
    for point in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": at(*point)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_alice_signs_downloads_and_withdraws_marketing_on_her_phone(phone_page, alice):
    page = phone_page
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    microdermabrasion = Modality.objects.get(kind="microdermabrasion")
    signed_before = consents.current_version(microdermabrasion)
    consents.consent_publish(
        modality=microdermabrasion,
        title=signed_before.title,
        text=signed_before.text + "\n\nLevel III leaves pinpoint bleeding for a day.",
    )

    sign_in(page, "alice")
    page.wait_for_url("**/portal/")
    page.get_by_role("link", name="My consents").click()
    page.wait_for_url("**/portal/consents/")
    page.get_by_role("link", name="read and sign the new version").click()

    assert page.get_by_role("heading", name="Consent to microdermabrasion").is_visible()
    assert page.get_by_text("Level III leaves pinpoint bleeding for a day.").is_visible()
    page.get_by_label("Shown in the portal").check()
    page.get_by_label("Marketing").check()
    page.get_by_label("I have read this consent form").check()
    page.get_by_label("Your full name").fill("Alice Smit")
    page.locator("#signature-pad").scroll_into_view_if_needed()
    draw_with_a_finger(page, "#signature-pad")
    assert page.locator("#id_signature").input_value().startswith("data:image/png;base64,")
    page.get_by_role("button", name="Sign the consent form").click()
    page.wait_for_url("**/portal/consents/")
    assert page.get_by_text("your microdermabrasion consent is signed").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    signed = ConsentSignature.objects.filter(patient=alice, place="portal").get()
    assert signed.version.number == 2 and signed.signed_name == "Alice Smit"
    assert signed.photo_consent.purposes == ["clinical", "portal", "marketing"]

    with page.expect_download() as download:
        page.locator("li", has_text="Microdermabrasion").get_by_role(
            "link", name="Download the signed form (PDF)"
        ).click()
    with open(download.value.path(), "rb") as pdf:
        text = " ".join(sheet.extract_text() for sheet in PdfReader(io.BytesIO(pdf.read())).pages)
    assert "Name: Alice Smit" in text and "Level III leaves pinpoint bleeding" in text

    page.get_by_label("Marketing").uncheck()
    page.get_by_role("button", name="Save my photo consent").click()
    page.wait_for_url("**/portal/consents/")
    assert page.get_by_text("Your photo consent is saved.").is_visible()
    assert not page.get_by_label("Marketing").is_checked()
    assert page.get_by_label("Shown in the portal").is_checked()
    assert consents.standing_purposes(alice) == ["clinical", "portal"]
    assert errors == []
