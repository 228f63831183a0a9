from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import task_prerun, worker_ready

from . import outbox

logger = logging.getLogger(__name__)

# A send must not hang or fail the request when the broker is down: one quick retry, then
# the work is logged as not sent (the outbox's messages wait for the next relay).
SEND_RETRY_POLICY = outbox.SEND_RETRY_POLICY


def task_send(task, *args, **kwargs) -> bool:
    """Sends `task`; False (logged, never raised) when the broker cannot be reached."""
    from kombu.exceptions import OperationalError as BrokerError

    try:
        task.apply_async(args, kwargs, retry=True, retry_policy=SEND_RETRY_POLICY)
    except BrokerError as error:
        logger.warning("%s not sent, the broker is unreachable: %s", task.name, error)
        return False
    return True


def task_send_on_commit(task, *args, **kwargs) -> None:
    """Promises `task` in the current transaction (the outbox); sent once it commits, so the
    worker sees the saved rows, and sent later if the broker is down then."""
    outbox.outbox_task(task, *args, **kwargs)


@shared_task(name="core.ping", acks_late=False)
def ping() -> str:
    """Answers the health page: proof that a worker is consuming the queue."""
    return "pong"


@shared_task(name="core.outbox_relay", ignore_result=True)
def outbox_relay() -> int:
    """Beat: relays the outbox messages that waited for the broker or for another try."""
    return outbox.relay_due()


@shared_task(name="core.outbox_send_email", ignore_result=True)
def outbox_send_email(message_id: int) -> bool:
    """Sends one outbox email; its row records the outcome and when to try again."""
    return outbox.email_send(message_id=message_id)


@shared_task(name="core.outbox_send_sms", ignore_result=True)
def outbox_send_sms(message_id: int) -> bool:
    """Sends one outbox text message; its row records the outcome and when to try again."""
    return outbox.sms_send(message_id=message_id)


@worker_ready.connect
def _relay_on_start(sender=None, **kwargs) -> None:
    """A worker that starts (after an outage, say) relays what waited, without waiting for the
    beat's next tick."""
    outbox_relay.apply_async(retry=True, retry_policy=SEND_RETRY_POLICY)


@task_prerun.connect
def _outbox_task_arrived(sender=None, task=None, **kwargs) -> None:
    """A task the outbox relayed counts as sent once a worker starts it, not when the broker
    took it: a broker that loses its queue leaves the message to be relayed again."""
    if task is not None:
        outbox.task_started(task.request)
