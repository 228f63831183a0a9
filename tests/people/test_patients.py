import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from people import services
from people.models import Patient
from tests.factories import PatientFactory
from tests.services import AUDIT_WRITES


def test_patient_create_strips_and_validates(db):
    patient = services.patient_create(
        first_name="  Emma ", last_name="de Boer", date_of_birth=datetime.date(1990, 1, 2)
    )
    assert (patient.first_name, patient.last_name) == ("Emma", "de Boer")
    with pytest.raises(ValidationError, match="cannot be in the future"):
        services.patient_create(
            first_name="Future", last_name="Kid", date_of_birth=datetime.date(2999, 1, 1)
        )
    assert Patient.objects.count() == 1


def test_search_matches_name_phone_and_birth_date(db):
    emma = PatientFactory(
        first_name="Emma",
        last_name="de Boer",
        phone="+31 6 1111 2222",
        date_of_birth=datetime.date(1990, 1, 2),
    )
    PatientFactory(first_name="Noah", last_name="Visser", phone="+31 6 9999 8888")
    assert list(Patient.objects.search("emma")) == [emma]
    assert list(Patient.objects.search("boer emm")) == [emma]
    assert list(Patient.objects.search("1111")) == [emma]
    assert list(Patient.objects.search("1990-01-02")) == [emma]
    assert list(Patient.objects.search("   ")) == []


def test_front_desk_adds_a_patient_through_the_page(client, front_desk_user):
    client.force_login(front_desk_user)
    response = client.post(
        reverse("people:patient_create"),
        {"first_name": "Emma", "last_name": "de Boer", "date_of_birth": "1990-01-02"},
    )
    patient = Patient.objects.get(last_name="de Boer")
    assert response.status_code == 302
    assert response.url == patient.get_absolute_url()


def test_a_bad_form_answers_400_with_the_reason_and_saves_nothing(client, front_desk_user):
    client.force_login(front_desk_user)
    response = client.post(
        reverse("people:patient_create"),
        {"first_name": "Emma", "last_name": "", "date_of_birth": "2099-01-01"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "The date of birth cannot be in the future." in body
    assert not Patient.objects.exists()


def test_search_as_you_type_returns_a_fragment(client, front_desk_user, django_assert_num_queries):
    PatientFactory.create_batch(30, last_name="Jansen")
    client.force_login(front_desk_user)
    # session, user, the user's own and their groups' permissions, the matching patients, and
    # the look at each patient shown audited (one append)
    with django_assert_num_queries(4 + AUDIT_WRITES):
        response = client.get(
            reverse("people:patient_list"), {"q": "jansen"}, headers={"HX-Request": "true"}
        )
    body = response.content.decode()
    assert "<html" not in body
    assert body.count("<li>") == 25  # the first 25 matches


def test_patients_cannot_open_staff_patient_pages(client, alice, bob):
    client.force_login(alice.user)
    assert client.get(reverse("people:patient_detail", args=[bob.pk])).status_code == 403
    assert client.get(reverse("people:patient_list"), {"q": "Bob"}).status_code == 403


def test_patient_api_for_staff_only(client, clinician_user, alice, bob):
    client.force_login(alice.user)
    assert client.get("/api/patients/").status_code == 403
    assert client.get(f"/api/patients/{bob.pk}/").status_code == 403
    client.force_login(clinician_user)
    response = client.get("/api/patients/", {"q": "Mulder"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [bob.pk]


def test_patient_api_rejects_bad_input_with_a_message(client, front_desk_user):
    client.force_login(front_desk_user)
    response = client.post(
        "/api/patients/",
        {"first_name": "A", "last_name": "B", "date_of_birth": "2099-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"date_of_birth": ["The date of birth cannot be in the future."]}


def test_creating_and_changing_a_patient_is_audited(front_desk_user):
    from audit.models import AuditEvent

    patient = services.patient_create(
        first_name="Emma",
        last_name="de Boer",
        date_of_birth=datetime.date(1990, 1, 2),
        by=front_desk_user,
    )
    services.patient_update(patient=patient, phone="+31 6 5555 0000", by=front_desk_user)
    events = list(
        AuditEvent.objects.order_by("id").values_list("action", "patient_id", "actor_role")
    )
    assert events == [
        ("create", patient.pk, "Front desk"),
        ("change", patient.pk, "Front desk"),
    ]
    assert "Emma" not in str(AuditEvent.objects.last().detail)


def test_a_change_records_only_the_fields_that_changed(front_desk_user, alice):
    from audit.models import AuditEvent

    services.patient_update(
        patient=alice,
        first_name=f" {alice.first_name} ",
        phone="+31 6 5555 0000",
        by=front_desk_user,
    )
    assert AuditEvent.objects.get(action="change").detail == "phone"
    alice.refresh_from_db()
    assert alice.phone == "+31 6 5555 0000"
    services.patient_update(patient=alice, phone="+31 6 5555 0000", by=front_desk_user)
    assert AuditEvent.objects.filter(action="change").count() == 1  # nothing new to record
    with pytest.raises(TypeError):
        services.patient_update(patient=alice, user=front_desk_user, by=front_desk_user)


def test_the_edit_form_keeps_the_date_of_birth_in_a_form_the_browser_accepts(
    client, front_desk_user
):
    # A date input shows nothing for "12/04/1988": the value must be ISO, or a save loses it.
    patient = PatientFactory(date_of_birth=datetime.date(1988, 4, 12))
    client.force_login(front_desk_user)
    html = client.get(reverse("people:patient_edit", args=[patient.pk])).content.decode()
    assert 'type="date" name="date_of_birth" value="1988-04-12"' in html
