from __future__ import annotations

from celery import shared_task


@shared_task(name="core.ping", acks_late=False)
def ping() -> str:
    """Answers the health page: proof that a worker is consuming the queue."""
    return "pong"
