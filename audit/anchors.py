"""Anchors: the chain's head, signed and written outside the database.

The keyed hash (audit.models) stops anyone without AUDIT_CHAIN_KEY from re-hashing an edited
chain, but not from cutting it: removing the newest events, or all of them (TRUNCATE), and
setting the head back leaves a chain that verifies. So, at intervals (the beat task
`audit.anchor_head`, and after each verify_audit that passes), the head's event id and hash are
signed with the key and written to AUDIT_ANCHOR_STORAGE (Django's storage API) and to the log.
audit_verify checks the chain still holds the latest anchor's event with the same hash.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from .models import AuditChainHead, _canonical_json, chain_hmac

logger = logging.getLogger(__name__)

FOLDER = "audit-anchors"


@dataclass(frozen=True)
class Anchor:
    event_id: int
    hash: str
    written_at: str

    def signature(self) -> str:
        return chain_hmac(b"anchor:" + _canonical_json(asdict(self)).encode())


class ForgedAnchor(Exception):
    """An anchor whose signature does not match: written without the key."""


def _storage():
    return storages[settings.AUDIT_ANCHOR_STORAGE]


def anchor_write() -> Anchor | None:
    """Signs the chain's current head and writes it out; None while the log is empty."""
    head = AuditChainHead.objects.filter(pk=1, last_event_id__isnull=False).first()
    if head is None:
        return None
    now = timezone.now()
    anchor = Anchor(head.last_event_id, head.last_hash, now.isoformat(timespec="microseconds"))
    body = json.dumps({**asdict(anchor), "signature": anchor.signature()})
    # Names sort by time, so the latest anchor is the last name.
    name = f"{FOLDER}/{now:%Y%m%dT%H%M%S%fZ}-{anchor.event_id}.json"
    _storage().save(name, ContentFile(body.encode()))
    logger.info("audit anchor %s", body)
    return anchor


def anchor_latest() -> Anchor | None:
    """The newest anchor written, its signature checked (ForgedAnchor if it fails)."""
    storage = _storage()
    try:
        _, names = storage.listdir(FOLDER)
    except FileNotFoundError:
        return None
    names = sorted(name for name in names if name.endswith(".json"))
    if not names:
        return None
    with storage.open(f"{FOLDER}/{names[-1]}") as file:
        data = json.loads(file.read())
    signature = data.pop("signature", "")
    anchor = Anchor(**data)
    if anchor.signature() != signature:
        raise ForgedAnchor(f"the anchor {names[-1]} is not signed with the chain's key")
    return anchor
