"""Application logs carry no patient names or email addresses."""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse

from audit.log_filters import REDACTED, RedactEmails


def test_the_filter_blanks_email_addresses():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "mail to %s failed", ("alice.smit@example.com",), None
    )
    assert RedactEmails().filter(record)
    assert record.getMessage() == f"mail to {REDACTED} failed"


@pytest.fixture
def console_output():
    """What the configured console handler writes (with its filters), for the test's duration."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "LOGGING configures a console handler"
    stream = io.StringIO()
    old = [handler.setStream(stream) for handler in handlers]
    yield stream
    for handler, previous in zip(handlers, old, strict=True):
        handler.setStream(previous)


def test_a_request_cycle_logs_no_patient_name_or_email(client, front_desk_user, console_output):
    client.force_login(front_desk_user)
    data = {
        "first_name": "Wilhelmina",
        "last_name": "Zonneveld",
        "date_of_birth": "1984-03-02",
        "email": "wilhelmina.zonneveld@example.com",
        "phone": "",
        "notes": "",
    }
    created = client.post(reverse("people:patient_create"), data)
    assert created.status_code == 302
    client.get(created.url)
    # A form sent back with errors (a 400, which Django logs) carrying the same details.
    assert (
        client.post(reverse("people:patient_create"), {**data, "date_of_birth": "x"}).status_code
        == 400
    )
    # A 404 whose URL holds the email address.
    client.get("/patients/wilhelmina.zonneveld@example.com/")
    client.get(reverse("people:patient_list"), {"q": "Zonneveld"})
    logging.getLogger("clinic.test").warning("sending to %s", "wilhelmina.zonneveld@example.com")
    output = console_output.getvalue()
    assert "Bad Request" in output and "Not Found" in output  # the log did capture the cycle
    assert "Wilhelmina" not in output and "Zonneveld" not in output
    assert "@example.com" not in output
    assert REDACTED in output
