"""The transactional outbox: background tasks and emails that a committed change cannot lose.

A change writes its message (`outbox_task`, or any email through the default mailer, which is
`OutboxEmailBackend`) in its own transaction. After the commit the message is relayed at once,
so nothing waits when the broker is up; when the broker is down the row stays and is relayed
by the beat's tick (`core.outbox_relay`) or by a worker as it starts, once the broker is back.

- A task message is done when a worker starts the task (`task_started`): a broker that
  loses its queue (Redis killed without persistence) only delays it until the relay's lease
  runs out. The task keeps its own retries and records its own failures, as the photo work
  does.
- An email message is sent by the worker (`core.outbox_send_email`) through the "delivery"
  mailer and marked sent; a failed send is tried again with a growing pause, and after
  OUTBOX_MAX_ATTEMPTS it is marked failed, for the desk to see and send again.
- A text message (`outbox_sms`) goes the same way through the SMS backend (core/sms.py,
  `core.outbox_send_sms`); one the provider refuses for good (a wrong number) is marked failed
  at once.

At least once for emails: a worker that dies between sending an email and marking it sent
sends it again. At most once for text messages: one whose worker died while sending is marked
failed for the desk to check and send again, never resent on its own. Every other failure of
either is retried.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import sms
from .models import OutboxMessage

logger = logging.getLogger(__name__)

Status = OutboxMessage.Status
Kind = OutboxMessage.Kind

# The header that names a relayed task's outbox message, for the worker to mark it sent.
OUTBOX_HEADER = "outbox_message_id"
# The mailer that really sends (SMTP in production); the default mailer only queues.
DELIVERY_MAILER = "delivery"
# One quick retry, then the message waits for the next relay: a request never hangs on it.
SEND_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


SMS_STALLED = (
    "The worker stopped while sending this text message, so it may or may not have gone out: "
    "check with the patient or the provider before sending it again."
)


def backoff(attempts: int) -> dt.timedelta:
    """The pause after the `attempts`-th failed send: 30 s, 1, 2, 4 ... minutes, at most 1 h."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 60 * 60))


# --- writing ---------------------------------------------------------------------------


def outbox_task(task, *args, **kwargs) -> OutboxMessage:
    """Promises `task(*args, **kwargs)` in the caller's transaction; sent once it commits."""
    return _enqueue(
        kind=Kind.TASK,
        summary=task.name,
        payload={"task": task.name, "args": list(args), "kwargs": kwargs},
    )


def outbox_email(message: EmailMessage) -> OutboxMessage:
    """Promises `message` in the caller's transaction; the worker sends it once it commits."""
    recipients = ", ".join(message.recipients())
    return _enqueue(
        kind=Kind.EMAIL,
        summary=f"{message.subject} (to {recipients})"[:300],
        payload=_email_to_payload(message),
    )


def outbox_sms(message: sms.SmsMessage) -> OutboxMessage:
    """Promises the text message in the caller's transaction; the worker sends it once it
    commits. The summary shows the number's last digits only."""
    return _enqueue(
        kind=Kind.SMS,
        summary=f"Text message to ...{message.to[-4:]}: {message.body}"[:300],
        payload={"to": message.to, "body": message.body},
    )


def _enqueue(*, kind: str, summary: str, payload: dict) -> OutboxMessage:
    message = OutboxMessage.objects.create(kind=kind, summary=summary, payload=payload)
    transaction.on_commit(lambda: relay(message.pk))
    return message


class OutboxEmailBackend(BaseEmailBackend):
    """The default mailer: each email joins the outbox in the sender's transaction, so an email
    is sent if and only if the change it tells of is saved, whatever the broker is doing."""

    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            outbox_email(message)
        return len(email_messages)


# --- relaying --------------------------------------------------------------------------


class BrokerDown(Exception):
    pass


# After a failed relay this process leaves its messages to the beat and the workers for a
# while: a request that writes several messages pays for an unreachable broker once.
BROKER_PAUSE_SECONDS = 10
_broker_paused_until = 0.0


def relay(message_id: int) -> bool:
    """Hands one due message to the broker after its commit; False when it is not due,
    another relay has it, or the broker cannot be reached (it then waits for the next
    relay). Raises only for a programming error, as a direct send would."""
    global _broker_paused_until
    if time.monotonic() < _broker_paused_until:
        return False
    try:
        return _relay(message_id)
    except BrokerDown:
        _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        return False


def relay_due(limit: int = 500) -> int:
    """Relays every due message, oldest first, and stops early if the broker goes away.
    Run by the beat's tick and by a worker as it starts; answers how many were relayed."""
    now = timezone.now()
    # A worker that died while sending leaves its claim: after the lease the email waits again.
    # A text message is not sent again blindly (the provider may have taken it before the
    # worker died, and a patient texted twice notices): the desk sees it failed, and checks.
    stalled = OutboxMessage.objects.filter(status=Status.SENDING, due_at__lte=now)
    stalled.filter(kind=Kind.SMS).update(status=Status.FAILED, last_error=SMS_STALLED)
    stalled.update(status=Status.PENDING)
    due = OutboxMessage.objects.filter(status=Status.PENDING, due_at__lte=now)
    relayed = 0
    for message_id in due.order_by("due_at").values_list("pk", flat=True)[:limit]:
        try:
            relayed += _relay(message_id)
        except BrokerDown:
            break
        except Exception as error:  # a task renamed or removed: no later relay will do better
            logger.exception("outbox message %s cannot be relayed", message_id)
            OutboxMessage.objects.filter(pk=message_id).update(
                status=Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
            )
    keep = dt.timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS)
    OutboxMessage.objects.filter(status=Status.SENT, sent_at__lt=now - keep).delete()
    return relayed


def _relay(message_id: int) -> bool:
    from kombu.exceptions import OperationalError as BrokerError

    now = timezone.now()
    message = OutboxMessage.objects.filter(
        pk=message_id, status=Status.PENDING, due_at__lte=now
    ).first()
    if message is None:
        return False
    lease = now + dt.timedelta(seconds=settings.OUTBOX_RELAY_LEASE_SECONDS)
    # The claim: of several relays (after commit, beat, start-up) one publishes the message.
    claimed = OutboxMessage.objects.filter(
        pk=message.pk, status=Status.PENDING, due_at=message.due_at
    ).update(due_at=lease)
    if not claimed:
        return False
    try:
        _publish(message)
    except BrokerError as error:
        logger.warning("outbox message %s waits: the broker is unreachable: %s", message.pk, error)
        OutboxMessage.objects.filter(pk=message.pk, status=Status.PENDING, due_at=lease).update(
            due_at=now, last_error=f"The broker could not be reached: {error}"
        )
        raise BrokerDown from error
    return True


def _publish(message: OutboxMessage) -> None:
    from celery import current_app

    from .tasks import outbox_send_email, outbox_send_sms

    if message.kind == Kind.EMAIL:  # the sending task claims and marks the row itself
        task, args, kwargs, headers = outbox_send_email, [message.pk], {}, {}
    elif message.kind == Kind.SMS:
        task, args, kwargs, headers = outbox_send_sms, [message.pk], {}, {}
    else:
        payload = message.payload
        task = current_app.tasks[payload["task"]]
        args, kwargs = payload["args"], payload["kwargs"]
        headers = {OUTBOX_HEADER: message.pk}
    task.apply_async(args, kwargs, headers=headers, retry=True, retry_policy=SEND_RETRY_POLICY)


def task_started(request) -> None:
    """A worker starts a task: if the outbox relayed it, the message has arrived."""
    message_id = (request.headers or {}).get(OUTBOX_HEADER) or getattr(request, OUTBOX_HEADER, None)
    if message_id is not None:
        OutboxMessage.objects.filter(
            pk=message_id, kind=Kind.TASK, status__in=OutboxMessage.UNSENT
        ).update(status=Status.SENT, sent_at=timezone.now(), last_error="")


# --- sending emails (in the worker) ----------------------------------------------------


def email_send(*, message_id: int) -> bool:
    """Sends one outbox email through the delivery mailer and marks it sent; on failure records
    why and when to try again, or marks it failed after the last attempt. True when sent."""
    return _deliver(
        message_id,
        Kind.EMAIL,
        lambda message: mailers[DELIVERY_MAILER].send_messages(
            [_email_from_payload(message.payload)]
        ),
    )


def sms_send(*, message_id: int) -> bool:
    """Sends one outbox text message through SMS_BACKEND, as email_send sends an email."""
    return _deliver(
        message_id,
        Kind.SMS,
        lambda message: sms.get_backend().send_messages(
            [
                sms.SmsMessage(
                    to=message.payload["to"],
                    body=message.payload["body"],
                    reference=f"outbox-{message.pk}",
                )
            ]
        ),
    )


def _deliver(message_id: int, kind: str, send) -> bool:
    now = timezone.now()
    lease = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 30)
    # The claim: a message relayed twice is sent by whichever worker takes it first.
    claimed = OutboxMessage.objects.filter(pk=message_id, kind=kind, status=Status.PENDING).update(
        status=Status.SENDING, due_at=now + lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        send(message)
    except Exception as error:  # noqa: BLE001 - every failure is recorded and retried
        _record_failure(message, error)
        return False
    OutboxMessage.objects.filter(pk=message_id).update(
        status=Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _record_failure(message: OutboxMessage, error: Exception) -> None:
    reason = f"{type(error).__name__}: {error}"[:2000]
    if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS or getattr(error, "permanent", False):
        logger.error("outbox %s %s failed for good: %s", message.kind, message.pk, reason)
        changes = {"status": Status.FAILED}
    else:
        logger.warning(
            "outbox %s %s not sent, will try again: %s", message.kind, message.pk, reason
        )
        changes = {"status": Status.PENDING, "due_at": timezone.now() + backoff(message.attempts)}
    OutboxMessage.objects.filter(pk=message.pk).update(last_error=reason, **changes)


def troubled_emails():
    """Emails and text messages the desk should know of: failed for good, or waiting after a
    failed send."""
    return OutboxMessage.objects.defer("payload").filter(
        Q(status=Status.FAILED) | Q(status__in=OutboxMessage.UNSENT, attempts__gt=0),
        kind__in=(Kind.EMAIL, Kind.SMS),
    )


def message_retry(*, message: OutboxMessage) -> None:
    """The desk sends a failed message again: it waits as new, with its attempts counted anew."""
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, due_at=timezone.now()
        )
        if updated:
            transaction.on_commit(lambda: relay(message.pk))


# --- emails as JSON ----------------------------------------------------------------------


def _email_to_payload(message: EmailMessage) -> dict:
    attachments = []
    for attachment in message.attachments:
        filename, content, mimetype = attachment
        data = content.encode() if isinstance(content, str) else bytes(content)
        attachments.append(
            {
                "filename": filename,
                "content": base64.b64encode(data).decode("ascii"),
                "mimetype": mimetype,
            }
        )
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [
            {"content": str(content), "mimetype": mimetype}
            for content, mimetype in getattr(message, "alternatives", [])
        ],
        "attachments": attachments,
    }


def _email_from_payload(payload: dict) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        cc=payload["cc"],
        bcc=payload["bcc"],
        reply_to=payload["reply_to"],
        headers=payload["headers"],
    )
    message.content_subtype = payload["content_subtype"]
    for alternative in payload["alternatives"]:
        message.attach_alternative(alternative["content"], alternative["mimetype"])
    for attachment in payload["attachments"]:
        message.attach(
            attachment["filename"],
            base64.b64decode(attachment["content"]),
            attachment["mimetype"],
        )
    return message
