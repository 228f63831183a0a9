"""What the audit middleware and the services record: the client's address on every event,
one event per patient a list shows, refusals, token issue, changed fields only, durability."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AuditEvent
from people import services as people_services
from tests.scheduling.conftest import at, book, clinic, frozen  # noqa: F401 - fixtures for the feed

CLIENT = "203.0.113.7"
ROOT = Path(__file__).resolve().parents[2]


def test_an_event_written_by_a_service_carries_the_client_address(client, front_desk_user, alice):
    """patient_update takes no request; the address still reaches its event."""
    client.force_login(front_desk_user)
    form = {
        "first_name": alice.first_name,
        "last_name": alice.last_name,
        "date_of_birth": alice.date_of_birth.isoformat(),
        "email": alice.email,
        "phone": "+31 6 99999999",
        "notes": alice.notes,
    }
    response = client.post(
        reverse("people:patient_edit", args=[alice.pk]), form, REMOTE_ADDR=CLIENT
    )
    assert response.status_code == 302
    change = AuditEvent.objects.get(action="change", patient_id=alice.pk)
    assert change.ip_address == CLIENT
    assert change.detail == "phone"


def test_outside_a_request_an_event_has_no_address(front_desk_user, alice):
    people_services.patient_update(patient=alice, phone="+31 6 12345678", by=front_desk_user)
    assert AuditEvent.objects.get(action="change").ip_address is None


def test_only_the_fields_that_changed_are_recorded(front_desk_user, alice):
    people_services.patient_update(
        patient=alice,
        first_name=f"  {alice.first_name} ",  # the same once trimmed
        last_name=alice.last_name,
        date_of_birth=alice.date_of_birth,
        email=alice.email,
        phone="+31 6 22222222",
        notes=alice.notes,
        by=front_desk_user,
    )
    assert list(AuditEvent.objects.values_list("detail", flat=True)) == ["phone"]
    people_services.patient_update(patient=alice, phone="+31 6 22222222", by=front_desk_user)
    assert AuditEvent.objects.count() == 1  # nothing changed, nothing recorded


def test_a_list_records_each_patient_it_showed(client, front_desk_user, alice, bob):
    client.force_login(front_desk_user)
    response = client.get("/api/patients/", REMOTE_ADDR=CLIENT)
    assert response.status_code == 200
    looks = AuditEvent.objects.filter(action="view", allowed=True)
    assert sorted(looks.values_list("patient_id", flat=True)) == sorted([alice.pk, bob.pk])
    assert {(e.actor_id, e.actor_role, e.ip_address) for e in looks} == {
        (front_desk_user.pk, "Front desk", CLIENT)
    }


def test_a_refusal_is_recorded_with_the_url_and_the_id_asked_for(client, bob, alice):
    client.force_login(bob.user)
    response = client.get(reverse("people:patient_detail", args=[alice.pk]), REMOTE_ADDR=CLIENT)
    assert response.status_code == 403
    refused = AuditEvent.objects.get(allowed=False)
    assert (refused.actor_id, refused.actor_role, refused.ip_address) == (
        bob.user.pk,
        "Patient",
        CLIENT,
    )
    assert (refused.object_type, refused.object_id, refused.patient_id) == (
        "people:patient_detail",
        str(alice.pk),
        alice.pk,
    )


def test_an_anonymous_api_refusal_is_recorded(client, alice):
    assert client.get(f"/api/patients/{alice.pk}/", REMOTE_ADDR=CLIENT).status_code == 401
    refused = AuditEvent.objects.get(allowed=False)
    assert (refused.actor_id, refused.actor_role, refused.ip_address) == (
        None,
        "anonymous",
        CLIENT,
    )


def test_issuing_an_api_token_is_recorded(client, clinician_user):
    response = client.post(
        reverse("api_token"),
        {"username": clinician_user.username, "password": "correct-horse-battery"},
        REMOTE_ADDR=CLIENT,
    )
    assert response.status_code == 200
    issued = AuditEvent.objects.get(action="login", allowed=True)
    assert (issued.actor_id, issued.ip_address) == (clinician_user.pk, CLIENT)
    assert "token" in issued.detail


def test_no_code_turns_off_waiting_for_the_disk():
    """Every audit write waits for the disk: nothing sets synchronous_commit off."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.glob("[!.]*/**/*.py")
        if not path.is_relative_to(ROOT / "tests")
        and "synchronous_commit" in path.read_text(errors="replace").lower()
    ]
    assert offenders == []


@pytest.mark.postgres
def test_an_audit_append_commits_synchronously(postgres, front_desk_user, alice):
    people_services.patient_update(patient=alice, phone="+31 6 33333333", by=front_desk_user)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] in ("on", "remote_write", "remote_apply")


def test_the_practitioner_feed_records_each_patient_it_shows(request, client, front_desk_user):
    the_clinic = request.getfixturevalue("clinic")
    session = book(the_clinic, the_clinic.sessions[0], at(2, 10), front_desk_user)
    response = client.get(f"/calendar/{the_clinic.carla.calendar_token}.ics", REMOTE_ADDR=CLIENT)
    assert response.status_code == 200
    look = AuditEvent.objects.get(action="view", patient_id=session.patient_id)
    assert (look.actor_id, look.detail, look.ip_address) == (
        the_clinic.carla.user_id,
        "calendar feed",
        CLIENT,
    )
