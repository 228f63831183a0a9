from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

logger = logging.getLogger(__name__)

# A send after commit must not hang or fail the request when the broker is down: one quick
# retry, then the work is logged as not sent (photo work is re-sent by its sweep).
SEND_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}


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
    """Sends `task` once the current transaction commits, so the worker sees the saved rows."""
    transaction.on_commit(lambda: task_send(task, *args, **kwargs))


@shared_task(name="core.ping", acks_late=False)
def ping() -> str:
    """Answers the health page: proof that a worker is consuming the queue."""
    return "pong"
