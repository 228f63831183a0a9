"""A new patient on a 375-pixel phone: signs up, confirms the emailed link, signs in, fills in
the health questionnaire (one wrong date on the way), signs the consent form for the treatment
she has in mind and books her first consultation."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_consent import draw_with_a_finger
from tests.portal.conftest import make_practitioner
from tests.scheduling.factories import RoomFactory
from treatments.models import BodyArea, ConsentSignature, HistoryEntry, Intake, Modality, Session

pytestmark = pytest.mark.browser

PASSWORD = "violet-stapler-harbour"


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 375


def question(page, text: str):
    return page.get_by_role("group", name=text, exact=True)


def test_a_new_patient_signs_up_fills_in_the_questionnaire_signs_consent_and_books(
    phone_page, mailoutbox, clinician_user
):
    # Carla gives consultations, in a room of the clinic.
    make_practitioner(clinician_user).practitioner.modalities.add(
        Modality.objects.get(kind="consultation")
    )
    RoomFactory(name="Room 1")
    page = phone_page
    errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign up for the patient portal").click()
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Bakker")
    page.get_by_label("Date of birth").fill("1991-05-17")
    page.get_by_label("Email address").fill("noor@example.com")
    page.get_by_label("Mobile phone").fill("06 1234 5678")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    assert fits_the_screen(page)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    (message,) = [m for m in mailoutbox if m.to == ["noor@example.com"]]
    link = re.search(r"https?://[^/\s]+(/portal/signup/verify/\S+/)", message.body).group(1)
    page.goto(link)
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_role("heading", name="Your email address is confirmed").wait_for()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("noor@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The first step after the first sign-in: the questionnaire.
    page.wait_for_url("**/portal/intake/")
    for text in (
        "Do you tend to get raised (keloid) scars?",
        "Are you pregnant, or could you be?",
        "Do you take blood thinners (anticoagulants)?",
        "Do you use retinoids (e.g. tretinoin) or exfoliating acids on your skin?",
        "Have you had a chemical peel elsewhere?",
        "Have you had waxing (hot or cold resins) recently?",
        "Have you sunbathed, used a sunbed or got a deep tan recently?",
    ):
        question(page, text).get_by_label("No", exact=True).check()
    isotretinoin = question(
        page,
        "Do you take, or did you take in the last year, isotretinoin (e.g. Roaccutane) for acne?",
    )
    isotretinoin.get_by_label("Yes", exact=True).check()
    isotretinoin.get_by_label("Started (if you know)").fill("2026-05-01")
    isotretinoin.get_by_label("Stopped (empty if you still take it)").fill("2026-04-01")
    laser = question(page, "Have you had a laser or IPL treatment elsewhere?")
    laser.get_by_label("Yes", exact=True).check()
    laser.get_by_label("When was the last one?").fill("2025-06-20")
    page.get_by_label("Type III: sometimes burns, tans gradually (medium)").check()
    page.get_by_label("Acne scars").check()
    page.get_by_label("Face").check()
    page.get_by_label("Anything else you would like us to know? (optional)").fill("cheeks")
    assert fits_the_screen(page)
    page.get_by_role("button", name="Send my answers").click()

    # An end before its start: said by the question, everything typed still there.
    alert = isotretinoin.get_by_role("alert")
    alert.wait_for()
    assert "The end date cannot be before the start date." in alert.inner_text()
    assert laser.get_by_label("When was the last one?").input_value() == "2025-06-20"
    assert (
        page.get_by_label("Anything else you would like us to know? (optional)").input_value()
        == "cheeks"
    )
    isotretinoin.get_by_label("Stopped (empty if you still take it)").fill("2026-08-31")
    page.get_by_role("button", name="Send my answers").click()

    page.wait_for_url("**/portal/")
    assert page.get_by_text("your health questionnaire is sent").is_visible()
    assert page.get_by_role("heading", name="Your health questionnaire").is_visible()
    assert page.get_by_text("Sent on").is_visible()
    assert fits_the_screen(page)
    # The refused form answered 400 (Chromium logs that); nothing else went wrong (no CSP).
    assert [e for e in errors if "status of 400" not in e] == []

    intake = Intake.objects.get()
    assert (intake.patient.first_name, intake.skin_type) == ("Noor", "III")
    reported = HistoryEntry.objects.filter(patient=intake.patient, source="patient")
    assert sorted(reported.values_list("factor__slug", flat=True)) == ["isotretinoin", "laser-ipl"]

    # The consent form for the treatment she has in mind, signed with her finger.
    page.get_by_role("link", name="My consents").click()
    page.wait_for_url("**/portal/consents/")
    page.locator("li", has_text="Microneedling").get_by_role("link", name="Read and sign").click()
    page.get_by_label("I have read this consent form").check()
    page.get_by_label("Your full name").fill("Noor Bakker")
    page.locator("#signature-pad").scroll_into_view_if_needed()
    draw_with_a_finger(page, "#signature-pad")
    page.get_by_role("button", name="Sign the consent form").click()
    page.wait_for_url("**/portal/consents/")
    assert page.get_by_text("your microneedling consent is signed").is_visible()
    signed = ConsentSignature.objects.get(patient=intake.patient)
    assert (signed.signed_name, signed.place) == ("Noor Bakker", "portal")

    # Her first consultation, at a free time the engine offers.
    page.get_by_role("link", name="← My treatment").click()
    page.get_by_role("link", name="Book a consultation").first.click()
    page.wait_for_url("**/portal/book/")
    page.locator(".time-list a").first.click()
    page.wait_for_url("**/portal/book/consultation/?*")
    page.get_by_label("Which area would you like to talk about?").select_option(
        label=BodyArea.objects.get(slug="face").name
    )
    page.get_by_role("button", name="Book this time").click()
    page.wait_for_url("**/portal/sessions/*/")
    assert page.get_by_text("Your consultation is booked for").is_visible()
    assert fits_the_screen(page)
    consultation = Session.objects.get(patient=intake.patient)
    assert consultation.status == Session.Status.BOOKED
    assert consultation.plan.modality.kind == "consultation"
