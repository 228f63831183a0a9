"""The desk in a real Chromium: a new patient booked for a first consultation, and a course
proposed from a clinic template and booked in one go, then confirmed by a clinician."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from people.models import Patient
from tests.browser.test_login import sign_in
from tests.scheduling.factories import PractitionerFactory, RoomFactory
from treatments.models import CourseTemplate, Modality, Session, TreatmentPlan

pytestmark = pytest.mark.browser

MICRO = "Microdermabrasion, face: dull, dry skin"


@pytest.fixture
def clinic(transactional_db, clinician_user):
    """Carla gives consultations and microdermabrasion, Monday to Friday, in Room 1."""
    RoomFactory(name="Room 1")
    kinds = [Modality.Kind.CONSULTATION, Modality.Kind.MICRODERMABRASION]
    return PractitionerFactory(
        user=clinician_user, modalities=Modality.objects.filter(kind__in=kinds)
    )


def test_the_desk_books_a_new_patients_first_consultation(page, front_desk_user, clinic):
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.goto("/desk/book/")
    page.get_by_label("Patient: name, phone").press_sequentially("Visser", delay=30)
    page.get_by_role("link", name="New patient: book a consultation").click()

    page.wait_for_url("**/desk/consultation/")
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Visser")
    page.get_by_label("Date of birth").fill("1990-05-04")
    page.get_by_label("Email").fill("noor@example.org")
    page.get_by_label("Area the patient comes about").select_option(label="Face")
    page.get_by_role("button", name="Find a time").click()

    page.wait_for_url("**/slots/?first_day=*")
    expect(page.get_by_text("Choose a time for Noor Visser's consultation.")).to_be_visible()
    first_time = page.locator("#slots").get_by_role("button").first
    first_time.click()
    page.wait_for_url("**/desk/?date=*")
    expect(page.get_by_text("Noor Visser: session 1 booked for")).to_be_visible()

    noor = Patient.objects.get(first_name="Noor", last_name="Visser")
    session = Session.objects.select_related("plan__modality").get(patient=noor)
    assert session.status == Session.Status.BOOKED
    assert session.plan.modality.kind == Modality.Kind.CONSULTATION
    assert session.practitioner_id == clinic.user_id
    assert (session.ends_at - session.starts_at).total_seconds() == 30 * 60
    assert page.console_errors == []


def test_a_course_is_proposed_booked_and_then_confirmed(
    page, front_desk_user, clinician_user, clinic, alice
):
    sign_in(page, front_desk_user.username)
    page.wait_for_url("**/desk/")
    page.goto("/desk/book/")
    page.get_by_label("Patient: name, phone").press_sequentially("Smit", delay=30)
    expect(page.get_by_text("No course under way.")).to_be_visible()
    page.get_by_role("link", name="Propose a course").click()

    page.wait_for_url(f"**/desk/patients/{alice.pk}/course/")
    page.get_by_label("Course").select_option(label=MICRO)
    preview = page.locator("#course-preview")
    expect(preview.get_by_role("row")).to_have_count(7)  # a header and six sessions
    # One screen: the course is proposed and its six sessions booked at the first free times.
    page.get_by_role("button", name="Propose and book the first free times").click()
    page.wait_for_url("**/desk/?date=*")
    expect(page.get_by_text("Course proposed and 6 sessions booked for Alice Smit")).to_be_visible()

    plan = TreatmentPlan.objects.get(patient=alice)
    assert plan.status == TreatmentPlan.Status.PROPOSED
    assert plan.template == CourseTemplate.objects.get(name=MICRO)
    assert plan.sessions.filter(status=Session.Status.BOOKED).count() == 6

    # The clinician, at the patient's screening, confirms the course.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, clinician_user.username)
    page.wait_for_url("**/clinical/")
    first = plan.sessions.get(number=1)
    page.goto(f"/treatments/sessions/{first.pk}/")
    expect(page.get_by_role("heading", name="Proposed course, to be confirmed")).to_be_visible()
    page.get_by_role("button", name="Confirm the course").click()
    page.wait_for_url(f"**/treatments/sessions/{first.pk}/")
    expect(page.get_by_text("The course is confirmed.")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm the course")).to_have_count(0)
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE
    assert plan.confirmed_by == clinician_user
    assert page.console_errors == []
