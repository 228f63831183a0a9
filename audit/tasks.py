from __future__ import annotations

import logging

from celery import shared_task

from .anchors import anchor_write
from .services import audit_verify

logger = logging.getLogger(__name__)


@shared_task(name="audit.verify_chain")
def verify_chain() -> dict:
    """Nightly (CELERY_BEAT_SCHEDULE): checks the hash chain and logs an error on a break."""
    report = audit_verify()
    if not report.ok:
        logger.error(
            "Audit log hash chain broken at event %s: %s", report.broken_at, report.problem
        )
    else:
        anchor_write()
    return {"ok": report.ok, "verified": report.verified, "broken_at": report.broken_at}


@shared_task(name="audit.anchor_head")
def anchor_head() -> dict | None:
    """Hourly (CELERY_BEAT_SCHEDULE): the chain's head, signed, written outside the database."""
    anchor = anchor_write()
    return {"event_id": anchor.event_id, "hash": anchor.hash} if anchor else None
