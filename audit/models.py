"""The audit log: append-only, and tamper-evident through a keyed hash chain.

Each event stores the hash of the event before it (`prev_hash`) and its own `hash`, an
HMAC-SHA256 with AUDIT_CHAIN_KEY (a setting, never in the database) over a canonical
serialisation of its fields and `prev_hash`, so whoever can write the database cannot re-hash
an edited chain. Changing, removing or reordering
any event breaks the chain from that point; `manage.py verify_audit` finds the first break.
`AuditChainHead` holds the last event's id and hash, so removing events from the end shows too,
and its row is the lock that serialises appends.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    """The audit log is append-only: its events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def bulk_create(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are written one at a time by audit_log().")

    def filtered(
        self,
        *,
        patient_id: int | None = None,
        actor_id: int | None = None,
        action: str = "",
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
    ) -> AuditEventQuerySet:
        events = self
        if patient_id is not None:
            events = events.filter(patient_id=patient_id)
        if actor_id is not None:
            events = events.filter(actor_id=actor_id)
        if action:
            events = events.filter(action=action)
        if since is not None:
            events = events.filter(occurred_at__gte=since)
        if until is not None:
            events = events.filter(occurred_at__lt=until)
        return events


class AuditEvent(models.Model):
    """One thing someone did, or tried to do, to a patient's data. Append-only."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        DOWNLOAD = "download", "Downloaded"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        INVITE = "invite", "Invited"

    # Set explicitly by audit_log() in UTC and included in the hash.
    occurred_at = models.DateTimeField(db_index=True)
    # Not indexed on its own: the (actor, -occurred_at) index below leads with it. Every page
    # view appends a row, so each index the table carries is paid on every look.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_role = models.CharField(max_length=60, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    allowed = models.BooleanField(default=True)
    # Ids, not foreign keys: the record outlives whatever it describes.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    # Unique by a constraint, not unique=True, which on PostgreSQL adds a second index for
    # LIKE queries that nothing makes.
    hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "-occurred_at"]),
        ]
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_event_hash_unique")]

    def __str__(self) -> str:
        outcome = "" if self.allowed else " (refused)"
        target = f"{self.object_type} {self.object_id}".strip()
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {target}{outcome}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def _canonical_fields(self, occurred_at: str, prev_hash: str) -> dict:
        return {
            "occurred_at": occurred_at,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "action": self.action,
            "allowed": bool(self.allowed),
            "patient_id": self.patient_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "ip_address": self.ip_address,
            "detail": self.detail,
            "prev_hash": prev_hash,
        }

    def canonical(self) -> bytes:
        """The bytes the hash covers: every field a reader relies on, and the previous hash."""
        occurred_at = self.occurred_at.astimezone(datetime.UTC)
        fields = self._canonical_fields(
            occurred_at.isoformat(timespec="microseconds"), self.prev_hash
        )
        return _canonical_json(fields).encode()

    def compute_hash(self) -> str:
        return chain_hmac(self.canonical())


def chain_hmac(message: bytes) -> str:
    """The chain's keyed hash: HMAC-SHA256 with AUDIT_CHAIN_KEY."""
    return hmac.new(settings.AUDIT_CHAIN_KEY.encode(), message, hashlib.sha256).hexdigest()


def _canonical_json(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


class AuditChainHead(models.Model):
    """One row: the newest event of the chain. Appends lock it, so they happen one at a time."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    # The last event's previous hash and time, so the head alone describes the chain's end.
    prev_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    last_occurred_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit chain head at event {self.last_event_id}"
