"""The desk's pages for a first consultation and a course proposed from a template, and the
clinician's confirmation on the screening page: what each page shows and what it stores."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from people.models import Patient
from tests.scheduling.conftest import at
from treatments.models import CourseTemplate, Modality, Session, TreatmentPlan

MICRO = "Microdermabrasion, face: dull, dry skin"


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


@pytest.fixture
def consultations(clinic):
    """Carla gives consultations too (30 minutes, from the seeded catalogue)."""
    consultation = Modality.objects.get(kind=Modality.Kind.CONSULTATION)
    clinic.carla.modalities.add(consultation)
    return consultation


NEW_PATIENT = {
    "patient-first_name": "Noor",
    "patient-last_name": "Visser",
    "patient-date_of_birth": "1990-05-04",
    "patient-email": "noor@example.org",
    "patient-phone": "+31 6 1111 2222",
}


def test_a_patient_without_a_course_is_offered_the_next_steps(desk, clinic, bob):
    results = desk.get("/desk/book/patients/", {"q": "Mulder"}, HTTP_HX_REQUEST="true")
    html = results.content.decode()
    assert "No active course" not in html
    assert f"/desk/consultation/?patient={bob.pk}" in html and "Book a consultation" in html
    assert f"/desk/patients/{bob.pk}/course/" in html and "Propose a course" in html
    nobody = desk.get("/desk/book/patients/", {"q": "Nobody"}, HTTP_HX_REQUEST="true")
    assert "New patient: book a consultation" in nobody.content.decode()


def test_a_calendar_slot_is_carried_to_the_consultation(desk, clinic, bob):
    results = desk.get(
        "/desk/book/patients/",
        {"q": "Mulder", "start": "2026-03-02T11:00", "practitioner": clinic.carla.user_id},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert (
        f"/desk/consultation/?patient={bob.pk}&amp;start=2026-03-02T11:00"
        f"&amp;practitioner={clinic.carla.user_id}"
    ) in results


def test_the_desk_books_a_new_patients_consultation(desk, clinic, consultations):
    page = desk.get("/desk/consultation/")
    assert page.status_code == 200 and "New patient" in page.content.decode()

    response = desk.post(
        "/desk/consultation/",
        {**NEW_PATIENT, "body_area": clinic.plan.body_area_id, "first_day": "2026-03-02"},
    )

    noor = Patient.objects.get(last_name="Visser")
    session = Session.objects.get(patient=noor)
    assert session.plan.modality == consultations
    assert response.status_code == 302
    assert response["Location"] == (
        f"/desk/sessions/{session.pk}/slots/?first_day=2026-03-02&days=14"
    )
    slots = desk.get(response["Location"]).content.decode()
    assert "Mon 2 Mar, 09:00" in slots
    booked = desk.post(
        f"/desk/sessions/{session.pk}/book/",
        {"starts_at": "2026-03-02T09:00", "practitioner": clinic.carla.user_id},
    )
    assert booked.status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.BOOKED
    # Its own length from the catalogue: 30 minutes, no depth level.
    assert session.ends_at - session.starts_at == at(2, 9, 30) - at(2, 9)


def test_a_consultation_from_a_calendar_slot_is_booked_there(desk, clinic, consultations, bob):
    response = desk.post(
        f"/desk/consultation/?patient={bob.pk}&start=2026-03-02T11:00"
        f"&practitioner={clinic.carla.user_id}",
        {
            "body_area": clinic.plan.body_area_id,
            "first_day": "2026-03-02",
            "practitioner": clinic.carla.user_id,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/desk/?date=2026-03-02"
    session = Session.objects.get(patient=bob)
    assert session.status == Session.Status.BOOKED and session.starts_at == at(2, 11)


def test_a_wrong_consultation_form_says_what_and_creates_nothing(desk, clinic, consultations):
    response = desk.post(
        "/desk/consultation/",
        {**NEW_PATIENT, "patient-last_name": "", "first_day": "2026-02-30"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and "Enter a valid date." in html
    assert not Patient.objects.filter(first_name="Noor").exists()
    # What was typed stays in the form.
    assert 'value="noor@example.org"' in html


def test_the_desk_proposes_a_course_and_books_it_tentatively(desk, clinic, bob):
    template = CourseTemplate.objects.get(name=MICRO)
    preview = desk.get(
        f"/desk/patients/{bob.pk}/course/",
        {"template": template.pk, "first_date": "2026-03-02"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Mon 2 Mar 2026" in preview and "Mon 16 Mar 2026" in preview and "Level" in preview

    response = desk.post(
        f"/desk/patients/{bob.pk}/course/", {"template": template.pk, "first_date": "2026-03-02"}
    )
    plan = TreatmentPlan.objects.get(patient=bob)
    assert plan.status == TreatmentPlan.Status.PROPOSED
    assert response.status_code == 302
    assert response["Location"] == f"/desk/plans/{plan.pk}/book/?from=2026-03-02"
    course = desk.get(response["Location"]).content.decode()
    assert "these bookings are tentative until a clinician confirms" in course
    assert "Book these sessions" in course


def test_the_desk_proposes_and_books_a_course_in_one_step(desk, clinic, bob):
    template = CourseTemplate.objects.get(name=MICRO)
    response = desk.post(
        f"/desk/patients/{bob.pk}/course/",
        {"template": template.pk, "first_date": "2026-03-02", "then": "book"},
    )
    plan = TreatmentPlan.objects.get(patient=bob)
    assert plan.status == TreatmentPlan.Status.PROPOSED
    booked = list(plan.sessions.filter(status=Session.Status.BOOKED).order_by("number"))
    assert len(booked) == template.session_count
    first_day = timezone.localtime(booked[0].starts_at).date()
    assert first_day >= dt.date(2026, 3, 2)
    assert response.status_code == 302
    assert response["Location"] == f"/desk/?date={first_day:%Y-%m-%d}"
    page = desk.get(response["Location"]).content.decode()
    assert f"Course proposed and {len(booked)} sessions booked for Bob" in page


def test_a_course_that_cannot_be_booked_in_one_step_is_not_proposed_either(
    desk, clinic, bob, monkeypatch
):
    """Booking at once is all or nothing with the proposal: a refusal leaves no course."""
    from django.core.exceptions import ValidationError

    from scheduling import services

    def refuse(**kwargs):
        raise ValidationError("That time was just taken by another booking.")

    monkeypatch.setattr(services, "course_book", refuse)
    template = CourseTemplate.objects.get(name=MICRO)
    response = desk.post(
        f"/desk/patients/{bob.pk}/course/",
        {"template": template.pk, "first_date": "2026-03-02", "then": "book"},
    )
    assert response.status_code == 400
    assert "just taken by another booking" in response.content.decode()
    assert not TreatmentPlan.objects.filter(patient=bob).exists()


def test_a_course_proposal_with_bad_input_is_refused_in_words(desk, clinic, bob):
    response = desk.post(
        f"/desk/patients/{bob.pk}/course/", {"template": "999999", "first_date": "2026-03-01"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice" in html and "cannot be in the past" in html
    assert not TreatmentPlan.objects.filter(patient=bob).exists()


def test_the_clinician_confirms_on_the_screening_page(
    client, clinic, bob, front_desk_user, clinician_user
):
    from treatments import services

    plan = services.plan_propose(
        patient=bob,
        template=CourseTemplate.objects.get(name=MICRO),
        first_date=at(2, 9).date(),
        by=front_desk_user,
    )
    first = plan.sessions.get(number=1)
    client.force_login(front_desk_user)
    seen_by_desk = client.get(f"/treatments/sessions/{first.pk}/").content.decode()
    assert "Proposed course, to be confirmed" in seen_by_desk
    assert "Confirm the course" not in seen_by_desk
    assert client.post(f"/treatments/plans/{plan.pk}/confirm/").status_code == 403

    client.force_login(clinician_user)
    page = client.get(f"/treatments/sessions/{first.pk}/").content.decode()
    assert "Confirm the course" in page
    response = client.post(f"/treatments/plans/{plan.pk}/confirm/", {"session": first.pk})
    assert (
        response.status_code == 302 and response["Location"] == f"/treatments/sessions/{first.pk}/"
    )
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE and plan.confirmed_by == clinician_user
    after = client.get(f"/treatments/sessions/{first.pk}/").content.decode()
    assert "The course is confirmed." in after and "Confirm the course" not in after


def test_the_booking_search_costs_the_same_queries_for_ten_times_the_patients(
    desk, clinic, front_desk_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import PatientFactory
    from tests.scheduling.factories import PlanFactory

    def search() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = desk.get("/desk/book/patients/", {"q": "Jansen"}, HTTP_HX_REQUEST="true")
        assert page.status_code == 200
        return len(queries)

    PlanFactory(patient=PatientFactory(last_name="Jansen"), modality=clinic.micro)
    one = search()
    for _ in range(9):
        PlanFactory(patient=PatientFactory(last_name="Jansen"), modality=clinic.micro)
    assert search() == one


def test_the_patient_page_offers_the_desk_a_consultation_and_a_course(client, persona, bob):
    client.force_login(persona("front_desk"))
    html = client.get(f"/patients/{bob.pk}/").content.decode()
    assert f"/desk/consultation/?patient={bob.pk}" in html
    assert f"/desk/patients/{bob.pk}/course/" in html
    client.force_login(persona("clinician"))
    assert "/desk/consultation/" not in client.get(f"/patients/{bob.pk}/").content.decode()
