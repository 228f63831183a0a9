"""Writing the audit log. Services and file-serving views call audit_log(); nothing else writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.auth import group_names

from .ip import client_ip
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

Action = AuditEvent.Action


def _role_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    roles = ", ".join(group_names(user))
    return roles or ("superuser" if user.is_superuser else "no role")


def _client_ip(request) -> str | None:
    return client_ip(request)


_HEAD = AuditChainHead._meta.db_table

# Creates the head on first use and locks its row (PostgreSQL: a row lock held to the end of the
# transaction; SQLite: every transaction is IMMEDIATE, see settings), so appends are serialised
# and each event follows the one before it.
_LOCK_HEAD_SQL = (
    f"INSERT INTO {_HEAD} (id, last_event_id, last_hash, prev_hash) VALUES (1, NULL, %s, %s) "
    f"ON CONFLICT (id) DO UPDATE SET last_hash = {_HEAD}.last_hash "
    "RETURNING last_hash, last_occurred_at"
)


def _lock_chain_head() -> tuple[str, dt.datetime | None]:
    """The newest event's hash and time, with the chain's head locked until the transaction
    ends."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HEAD_SQL, [GENESIS_HASH, GENESIS_HASH])
        last_hash, last_at = cursor.fetchone()
    if isinstance(last_at, str):  # SQLite hands back the stored value as it is, in UTC
        last_at = parse_datetime(last_at)
    if last_at is not None and timezone.is_naive(last_at):
        last_at = last_at.replace(tzinfo=dt.UTC)
    return last_hash, last_at


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
    only if the caller's change is. Inside a `recorded()` block it joins as that block's last
    statement (and is saved only then).
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
        occurred_at=timezone.now(),
    )
    pending = _pending.get()
    if pending is not None:
        # Kept for the end of the recorded block. The marker is a no-op commit callback: Django
        # discards it when a savepoint around this call rolls back, and then the event goes too.
        def marker() -> None:
            pass

        transaction.on_commit(marker)
        pending.append((event, marker))
        return event
    # No savepoint: if this fails, the caller's whole change must fail with it.
    with transaction.atomic(savepoint=False):
        _append(event)
    return event


def _append(event: AuditEvent) -> None:
    """Chains and saves one event, with the chain's head locked until the transaction ends."""
    prev_hash, last_at = _lock_chain_head()
    # Never before the last event, so the chain's times never go backwards even when the clock
    # does, or when an event noted earlier joins after others (recorded()).
    event.occurred_at = max(event.occurred_at, last_at) if last_at else event.occurred_at
    event.prev_hash = prev_hash
    event.hash = event.compute_hash()
    event.save()
    AuditChainHead.objects.filter(pk=1).update(
        last_event_id=event.pk,
        last_hash=event.hash,
        prev_hash=event.prev_hash,
        last_occurred_at=event.occurred_at,
    )


# The events noted inside the outermost recorded() block of this thread, with their markers;
# None outside one.
_pending: ContextVar[list[tuple[AuditEvent, object]] | None] = ContextVar(
    "audit_pending", default=None
)


@contextmanager
def recorded() -> Iterator[None]:
    """`transaction.atomic()` for a service that writes audit events: they join the chain as
    the block's last statements, so its transaction holds the chain's head only while it
    commits.

    The head is one row that every event locks until its transaction ends. Locked at the first
    audit_log() of a booking, it made every look at a chart (which appends an event too) wait
    for the whole booking. Still written if and only if the change is: in the same
    transaction, and dropped with any savepoint rolled back around them. Nested blocks leave
    the writing to the outermost.
    """
    if _pending.get() is not None:
        with transaction.atomic():
            yield
        return
    pending: list[tuple[AuditEvent, object]] = []
    token = _pending.set(pending)
    try:
        with transaction.atomic():
            yield
            _pending.reset(token)
            token = None
            # Django's own bookkeeping of commit callbacks tells which events' savepoints held.
            markers = {id(marker) for _, marker in pending}
            kept = {id(entry[1]) for entry in connection.run_on_commit} & markers
            connection.run_on_commit = [
                entry for entry in connection.run_on_commit if id(entry[1]) not in markers
            ]
            for event, marker in pending:
                if id(marker) in kept:
                    _append(event)
    finally:
        if token is not None:
            _pending.reset(token)


def audited_update(
    *, obj: models.Model, fields: Iterable[str], changes: dict, by, request=None
) -> models.Model:
    """Sets `changes` on `obj`, validates and saves it, and records which fields changed (by
    name, never their values). Only names in `fields` may change; another is a programming
    error. When no value differs, nothing is saved or recorded."""
    if unknown := set(changes) - set(fields):
        raise TypeError(f"{obj._meta.label} has no changeable {', '.join(sorted(unknown))}")

    def values() -> dict:
        return {name: obj._meta.get_field(name).value_from_object(obj) for name in changes}

    before = values()
    for name, value in changes.items():
        setattr(obj, name, value)
    changed = sorted(name for name, value in values().items() if value != before[name])
    if not changed:
        return obj
    with transaction.atomic():
        obj.full_clean()
        obj.save()
        audit_log(
            actor=by, action=Action.CHANGE, obj=obj, request=request, detail=", ".join(changed)
        )
    return obj


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
