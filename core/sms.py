"""Text messages, sent the way Django sends email: an `SmsMessage` and a backend that the
SMS_BACKEND setting names by its dotted path.

- `ConsoleBackend` (the default) writes each message to standard output, as the console email
  backend does: a laptop sends nothing.
- `LocmemBackend` keeps them in `core.sms.outbox`, for tests (as `mail.outbox`).
- `MessageBirdBackend` posts them to a MessageBird-style REST API (SMS_PROVIDER_URL,
  SMS_API_KEY; `POST /messages`, `Authorization: AccessKey <key>`, a JSON body with the
  originator, recipients, body and our reference).

A backend raises `SmsError` when a message is not sent, `permanent` when sending it again
cannot help (a number the provider refuses, a wrong key). Reminders never call a backend
themselves: they join the outbox (`core.outbox.outbox_sms`), whose worker sends through the
backend and tries again later after a passing failure.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# What LocmemBackend sent, oldest first: tests read and empty it.
outbox: list[SmsMessage] = []


@dataclass(frozen=True)
class SmsMessage:
    to: str  # an E.164 number: +31612345678
    body: str
    # Ours, the same on every try of one message (the outbox message's id): the provider's
    # delivery reports and the desk can tell a retry from a second message.
    reference: str = ""


class SmsError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class BaseBackend:
    def send_messages(self, messages: list[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_messages(self, messages: list[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {message.to} ({message.reference}):\n{message.body}\n")
                self.stream.write("-" * 79 + "\n")
            self.stream.flush()
        return len(messages)


class LocmemBackend(BaseBackend):
    def send_messages(self, messages: list[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


# Answers worth another try later: the provider is busy, slow or down.
RETRY_STATUSES = {408, 425, 429}


class MessageBirdBackend(BaseBackend):
    """MessageBird's REST API for messages (https://developers.messagebird.com/api/sms-messaging/),
    one request per message."""

    def __init__(self, *, url: str = "", api_key: str = "", sender: str = "") -> None:
        self.url = (url or settings.SMS_PROVIDER_URL).rstrip("/") + "/messages"
        self.api_key = api_key or settings.SMS_API_KEY
        self.sender = sender or settings.SMS_SENDER

    def send_messages(self, messages: list[SmsMessage]) -> int:
        for message in messages:
            self._send(message)
        return len(messages)

    def _send(self, message: SmsMessage) -> str:
        """Posts one message; answers the provider's id for it."""
        body = {
            "originator": self.sender,
            "recipients": [message.to.lstrip("+")],
            "body": message.body,
            "reference": message.reference,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"AccessKey {self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - the URL is a setting, https in production
                request, timeout=settings.SMS_TIMEOUT_SECONDS
            ) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise SmsError(
                f"The SMS provider answered {error.code}: {_described(error)}",
                permanent=400 <= error.code < 500 and error.code not in RETRY_STATUSES,
            ) from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SmsError(f"The SMS provider could not be reached: {error}") from error
        except ValueError as error:  # a 2xx that is not JSON: sent, as far as we can tell
            logger.warning("The SMS provider's answer was not JSON: %s", error)
            return ""
        return str(answer.get("id", ""))


def _described(error: urllib.error.HTTPError) -> str:
    """The provider's own words for a refusal ({"errors": [{"description": ...}]})."""
    try:
        answer = json.loads(error.read() or b"{}")
        return "; ".join(str(e.get("description", e)) for e in answer.get("errors", [])) or "-"
    except (ValueError, AttributeError):
        return error.reason or "-"


def get_backend(path: str | None = None) -> BaseBackend:
    return import_string(path or settings.SMS_BACKEND)()
