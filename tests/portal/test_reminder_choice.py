"""The patient chooses how the clinic reminds them: always by email, and by text message to the
phone on file when they agree (Patient.sms_reminders, which the reminders read)."""

from __future__ import annotations

from django.urls import reverse

from audit.models import AuditEvent
from people.models import Patient

URL = reverse("portal:reminders")


def test_alice_agrees_to_text_reminders_and_takes_it_back(client, alice):
    client.force_login(alice.user)
    page = client.get(URL).content.decode()
    assert alice.email in page and alice.phone in page
    assert 'name="sms"' in page
    response = client.post(URL, {"sms": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.sms_reminders
    assert "by text message too" in client.get(URL).content.decode()
    event = AuditEvent.objects.filter(actor=alice.user, action="change").latest("pk")
    assert (event.patient_id, event.detail) == (alice.pk, "sms_reminders")
    assert client.post(URL, {}).status_code == 302
    alice.refresh_from_db()
    assert not alice.sms_reminders


def test_without_a_phone_on_file_the_page_says_whom_to_ask_and_refuses(client, alice, settings):
    Patient.objects.filter(pk=alice.pk).update(phone="")
    client.force_login(alice.user)
    page = client.get(URL).content.decode()
    assert "We have no phone number for you" in page and 'name="sms"' not in page
    response = client.post(URL, {"sms": "on"})
    assert response.status_code == 400
    assert "Give a phone number to send the text reminders to." in response.content.decode()
    alice.refresh_from_db()
    assert not alice.sms_reminders


def test_the_home_page_leads_there(client, alice):
    client.force_login(alice.user)
    assert f'href="{URL}"' in client.get(reverse("portal:home")).content.decode()


def test_text_reminders_can_be_turned_off_whatever_else_the_record_holds(client, alice):
    """An older record today's checks would refuse (a birth date before 1900): the patient can
    still stop the texts; only their choice is saved."""
    import datetime

    Patient.objects.filter(pk=alice.pk).update(
        sms_reminders=True, date_of_birth=datetime.date(1899, 12, 31)
    )
    client.force_login(alice.user)
    assert client.post(URL, {}).status_code == 302
    alice.refresh_from_db()
    assert not alice.sms_reminders
    assert alice.date_of_birth == datetime.date(1899, 12, 31)
