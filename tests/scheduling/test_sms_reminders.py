"""Reminders by text message: to patients with a phone who agreed, short, with a confirm link,
through the outbox (a provider outage delays them, never loses or doubles them)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError

from core.models import OutboxMessage
from core.sms import SmsError
from scheduling import reminders, tasks
from scheduling.models import Booking
from tests.scheduling.conftest import at, book
from treatments.models import Session

LINK = re.compile(r"https?://[^/\s]+(?P<path>/r/[^/\s]+/)")


class DownProvider:
    """An SMS backend whose provider is down."""

    def send_messages(self, messages):
        raise SmsError("The SMS provider could not be reached: connection refused")


@pytest.fixture
def texting(alice):
    alice.sms_reminders = True
    alice.save()
    return alice


@pytest.fixture
def due(clinic, front_desk_user, frozen, texting):
    """Alice's session at 15:00 today: inside the reminder's lead time."""
    return book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)


def test_a_patient_who_agreed_gets_a_short_text_with_a_confirm_link(
    due, client, committed, sms_outbox, mailoutbox
):
    with committed():
        assert tasks.send_due_reminders() == 1
    [text] = sms_outbox
    assert text.to == due.patient.phone_e164 and text.to.startswith("+316")
    assert "Mon 2 Mar at 15:00" in text.body
    assert len(text.body) <= 2 * 153  # two text-message parts at most
    assert len(mailoutbox) == 1  # the email goes too
    # The text's link confirms, as the patient's own answer by text.
    path = LINK.search(text.body).group("path")
    assert client.post(path).status_code == 200
    assert Booking.objects.get(session=due).confirmed_via == "sms link"


def test_a_reminder_is_texted_once_however_often_the_task_runs(due, committed, sms_outbox):
    for _ in range(3):
        with committed():
            tasks.send_due_reminders()
    assert len(sms_outbox) == 1
    assert OutboxMessage.objects.filter(kind="sms").count() == 1


def test_no_text_without_the_patients_agreement_or_a_phone(
    clinic, front_desk_user, frozen, alice, committed, sms_outbox, mailoutbox
):
    book(clinic, clinic.sessions[0], at(2, 15), front_desk_user)
    with committed():
        assert tasks.send_due_reminders() == 1
    assert sms_outbox == [] and len(mailoutbox) == 1
    alice.sms_reminders, alice.phone = True, ""
    with pytest.raises(ValidationError) as refused:
        alice.full_clean()
    assert "phone number" in str(refused.value.message_dict["sms_reminders"])


def test_a_flagged_session_texts_call_us_without_a_link(due, committed, sms_outbox, settings):
    Session.objects.filter(pk=due.pk).update(flag=Session.Flag.BLOCKED)
    with committed():
        tasks.send_due_reminders()
    [text] = sms_outbox
    assert settings.CLINIC_PHONE in text.body and "/r/" not in text.body


def test_a_provider_outage_delays_the_text_and_never_doubles_it(
    due, committed, sms_outbox, settings, frozen
):
    settings.SMS_BACKEND = f"{__name__}.DownProvider"
    with committed():
        assert tasks.send_due_reminders() == 1  # claimed, the text waits in the outbox
    waiting = OutboxMessage.objects.get(kind="sms")
    assert waiting.status == OutboxMessage.Status.PENDING and waiting.attempts == 1
    with committed():
        assert tasks.send_due_reminders() == 0  # the next run does not write it again
    settings.SMS_BACKEND = "core.sms.LocmemBackend"  # the provider is back
    frozen.shift(dt.timedelta(minutes=1))
    from core import outbox

    with committed():
        outbox.relay_due()
    waiting.refresh_from_db()
    assert waiting.status == OutboxMessage.Status.SENT
    assert len(sms_outbox) == 1


def test_the_text_link_is_for_confirming_only(due):
    text = reminders.sms_text(due)
    token = LINK.search(text).group("path").split("/")[2]
    link = reminders.link_read(token)
    assert link.usable and link.action == reminders.CONFIRM and link.channel == reminders.SMS
