"""Writing the audit log. Services and file-serving views call audit_log(); nothing else writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone

from accounts.backends import group_names

from .ip import client_ip
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

Action = AuditEvent.Action


def _role_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return ", ".join(group_names(user)) or ("superuser" if user.is_superuser else "no role")


def _client_ip(request) -> str | None:
    return client_ip(request)


_HEAD = AuditChainHead._meta.db_table

# SQLite: the head is locked by the transaction (every one is IMMEDIATE, see settings), created
# on first use by the upsert; the event is then inserted and the head moved to it.
_LOCK_HEAD_SQL = (
    f"INSERT INTO {_HEAD} (id, last_event_id, last_hash, prev_hash) VALUES (1, NULL, %s, %s) "
    f"ON CONFLICT (id) DO UPDATE SET last_hash = {_HEAD}.last_hash RETURNING last_hash"
)

# Filled in by PostgreSQL under the chain's lock; the other fields come from Python.
_CHAINED = ("occurred_at", "prev_hash", "hash")
# The arguments of the PostgreSQL function `audit_append` (migration audit/0005), in order,
# after the canonical form's two pieces and the time.
APPEND_FIELDS = [
    field
    for field in AuditEvent._meta.concrete_fields
    if not field.primary_key and field.name not in _CHAINED
]
# PostgreSQL: the whole append in one call of a server-side function, whose plans are kept for
# the connection. Under the head's row lock (waiting for a concurrent append to commit) it
# takes the event's id and time and hashes the canonical form with the last hash. Outside a
# transaction it commits on its own: one round trip per append.
_APPEND_SQL = f"SELECT * FROM audit_append(%s, %s, %s, {', '.join(['%s'] * len(APPEND_FIELDS))})"
# A look that changes nothing, appended on its own, need not wait for the disk: sent in the same
# query string, SET LOCAL applies to the implicit transaction of the two statements only.
# PostgreSQL still writes the commit to disk within 3 x wal_writer_delay (0.6 s by default), in
# order: a crash can lose at most the looks of that last moment, never a link of the chain
# (a later change's commit flushes every earlier event with it), never a change's own event.
_WITHOUT_WAITING_FOR_DISK = "SET LOCAL synchronous_commit TO OFF; "
READS = frozenset({Action.VIEW, Action.DOWNLOAD})


def _may_skip_disk_wait(event: AuditEvent, db) -> bool:
    """Whether this append commits without waiting for the disk: an allowed read, outside any
    transaction of the caller's, unless settings.AUDIT_READS_WAIT_FOR_DISK."""
    return (
        event.action in READS
        and event.allowed
        and not db.in_atomic_block
        and not settings.AUDIT_READS_WAIT_FOR_DISK
    )


def _append_in_one_statement(event: AuditEvent, db) -> None:
    """PostgreSQL: chains and writes the event in one call (see _APPEND_SQL)."""
    before, between = event.canonical_around_chain()
    values = [field.get_db_prep_save(getattr(event, field.attname), db) for field in APPEND_FIELDS]
    sql = _WITHOUT_WAITING_FOR_DISK + _APPEND_SQL if _may_skip_disk_wait(event, db) else _APPEND_SQL
    with db.cursor() as cursor:
        cursor.execute(sql, [before, between, timezone.now(), *values])
        event.pk, event.occurred_at, event.prev_hash, event.hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = db.alias


def _lock_chain_head() -> str:
    """SQLite: the newest event's hash, with the head created on first use. Every transaction
    is IMMEDIATE (see settings), which serialises writers."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HEAD_SQL, [GENESIS_HASH, GENESIS_HASH])
        return cursor.fetchone()[0]


def audit_log(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    patient=None,
    allowed: bool = True,
    request=None,
    detail: str = "",
) -> AuditEvent:
    """Records who did what to which patient's object, from where, and whether it was allowed.

    `patient` may be a Patient or its id; when omitted it is taken from `obj.patient_id` or,
    for a Patient, the object itself. `detail` must never hold names, emails or image bytes.
    The event joins the hash chain inside the caller's transaction, so it is written if and
    only if the caller's change is.
    """
    if patient is None and obj is not None:
        patient = (
            obj.pk if obj._meta.label == "people.Patient" else getattr(obj, "patient_id", None)
        )
    patient_id = getattr(patient, "pk", patient)
    actor = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        actor=actor,
        actor_role=_role_of(actor)[:60],
        action=action,
        allowed=allowed,
        patient_id=patient_id,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=_client_ip(request),
        detail=detail[:300],
    )
    # The connection itself, once: `connection` is a proxy that looks it up on every use.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        # Inside the caller's transaction if there is one (written if and only if the
        # caller's change is), else committed on its own.
        _append_in_one_statement(event, db)
        return event
    # No savepoint: if this fails, the caller's whole change must fail with it.
    with transaction.atomic(savepoint=False):
        prev_hash = _lock_chain_head()
        # Taken under the lock, so the chain's timestamps never go backwards.
        event.occurred_at = timezone.now()
        event.prev_hash = prev_hash
        event.hash = event.compute_hash()
        event.save()
        AuditChainHead.objects.filter(pk=1).update(
            last_event_id=event.pk,
            last_hash=event.hash,
            prev_hash=event.prev_hash,
            last_occurred_at=event.occurred_at,
        )
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    verified: int
    broken_at: int | None = None
    problem: str = ""


def audit_verify(*, chunk_size: int = 2000) -> ChainReport:
    """Walks the chain from the first event; reports the first break, or how many events hold."""
    expected_prev = GENESIS_HASH
    verified = 0
    last_id = None
    events = AuditEvent.objects.order_by("id")
    for event in events.iterator(chunk_size=chunk_size):
        if event.prev_hash != expected_prev:
            return ChainReport(
                False,
                verified,
                event.pk,
                f"event {event.pk} does not follow "
                + (f"event {last_id}" if last_id else "the start of the log")
                + ": an event before it was removed or reordered",
            )
        if event.compute_hash() != event.hash:
            return ChainReport(
                False,
                verified,
                event.pk,
                f"event {event.pk} was changed after it was written: its contents do not match "
                "its hash",
            )
        expected_prev = event.hash
        last_id = event.pk
        verified += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    head_id, head_hash = (head.last_event_id, head.last_hash) if head else (None, GENESIS_HASH)
    if head_id != last_id or head_hash != expected_prev:
        return ChainReport(
            False,
            verified,
            head_id,
            f"the log ends at event {last_id} but its last recorded event is {head_id}: "
            "events were removed from the end",
        )
    return ChainReport(True, verified)
