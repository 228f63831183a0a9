"""Writing the audit log. Services and file-serving views call audit_log(); nothing else writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.auth import group_names

from . import context
from .anchors import ForgedAnchor, anchor_latest
from .ip import client_ip
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

Action = AuditEvent.Action


def _role_of(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    roles = ", ".join(group_names(user))
    return roles or ("superuser" if user.is_superuser else "no role")


def _client_ip(request) -> str | None:
    """The given request's client address, or else that of the request being answered."""
    return client_ip(request if request is not None else context.current_request())


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
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Records who did what to which patient's object, from where, and whether it was allowed.

    `patient` may be a Patient or its id; when omitted it is taken from `obj.patient_id` or,
    for a Patient, the object itself. Without an `obj`, `object_type` and `object_id` name what
    was asked for (a refused URL and its id). The client's address comes from `request`, or
    from the request being answered (audit.context). `detail` must never hold names, emails or
    image bytes. The event joins the hash chain inside the caller's transaction, so it is
    written if and only if the caller's change is; inside a `recorded()` block it joins as the
    block's last statement, and is saved only then.
    """
    event = _event(
        actor=actor,
        action=action,
        obj=obj,
        patient=patient,
        allowed=allowed,
        request=request,
        detail=detail,
        object_type=object_type,
        object_id=object_id,
    )
    if not allowed and (state := context.current.get()) is not None:
        state.refusal_recorded = True
    pending = _pending.get()
    if pending is not None:
        # Kept for the end of the recorded block. The marker is a no-op commit callback: Django
        # discards it when a savepoint around this call rolls back, and then the event goes too.
        def marker() -> None:
            pass

        transaction.on_commit(marker)
        pending.append((event, marker))
        return event
    _append([event])
    return event


def _label(obj) -> str:
    """A model's label; for a plain row object (a calendar entry), its class's name."""
    meta = getattr(obj, "_meta", None)
    return meta.label if meta is not None else type(obj).__name__


def _patient_id_of(obj, patient=None) -> int | None:
    if patient is None and obj is not None:
        patient = obj.pk if _label(obj) == "people.Patient" else getattr(obj, "patient_id", None)
    return getattr(patient, "pk", patient)


def _event(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    patient=None,
    allowed: bool = True,
    request=None,
    detail: str = "",
    object_type: str = "",
    object_id: str = "",
    address: str | None = None,
) -> AuditEvent:
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=actor,
        actor_role=_role_of(actor)[:60],
        action=action,
        allowed=allowed,
        patient_id=_patient_id_of(obj, patient),
        object_type=(_label(obj) if obj is not None else object_type)[:60],
        object_id=(str(obj.pk) if obj is not None else str(object_id))[:64],
        ip_address=address if address is not None else _client_ip(request),
        detail=detail[:300],
        occurred_at=timezone.now(),
    )


def _append(events: list[AuditEvent]) -> None:
    """Chains the events after the newest one and writes them: the head locked, the events
    inserted in one statement, the head moved on (three writes however many events)."""
    # No savepoint: if this fails, the caller's whole change must fail with it.
    with transaction.atomic(savepoint=False):
        prev_hash, last_at = _lock_chain_head()
        # Taken under the lock, and never before the last event, so the chain's times never go
        # backwards even when the clock does.
        now = max(timezone.now(), last_at) if last_at else timezone.now()
        for event in events:
            event.occurred_at = now
            event.prev_hash = prev_hash
            event.hash = prev_hash = event.compute_hash()
        if len(events) == 1:
            events[0].save()
        else:
            models.QuerySet(AuditEvent).bulk_create(events)
        last = events[-1]
        AuditChainHead.objects.filter(pk=1).update(
            last_event_id=last.pk,
            last_hash=last.hash,
            prev_hash=last.prev_hash,
            last_occurred_at=last.occurred_at,
        )


def audit_looks(*, actor, looks, request=None) -> list[AuditEvent]:
    """Records what an answer showed (core.looks): one event per object shown on its own, and
    for a list one event per patient on it. All join the chain in one append."""
    address = _client_ip(request)
    events: list[AuditEvent] = []
    seen: set[tuple] = set()
    for look in looks:
        if look.listed:
            targets = [(None, _patient_id_of(obj)) for obj in look.objects]
        elif look.objects:
            targets = [(obj, _patient_id_of(obj, look.patient_id)) for obj in look.objects]
        else:
            targets = [(None, look.patient_id)]
        for obj, patient_id in targets:
            label = _label(obj if obj is not None else look.objects[0]) if look.objects else ""
            key = (look.action, patient_id, label, obj.pk if obj is not None else None)
            if key in seen:
                continue
            seen.add(key)
            events.append(
                _event(
                    actor=look.actor if look.actor is not None else actor,
                    action=look.action,
                    obj=obj,
                    patient=patient_id,
                    object_type=label,
                    detail=look.detail,
                    address=address,
                )
            )
    if events:
        _append(events)
    return events


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
            if events := [event for event, marker in pending if id(marker) in kept]:
                _append(events)
    finally:
        if token is not None:
            _pending.reset(token)


def audited_update(
    *, obj: models.Model, fields: Iterable[str], changes: dict, by, request=None
) -> models.Model:
    """Sets `changes` on `obj`, validates and saves it, and records which fields changed from
    what is stored (by name, never their values). Only names in `fields` may change; another
    is a programming error. When no value differs, nothing is saved or recorded."""
    if unknown := set(changes) - set(fields):
        raise TypeError(f"{obj._meta.label} has no changeable {', '.join(sorted(unknown))}")

    def values() -> dict:
        return {name: obj._meta.get_field(name).value_from_object(obj) for name in changes}

    # Compared with what is stored, not with the instance: a ModelForm has already set its
    # cleaned values on the instance it was given, so the instance alone shows no change.
    stored = type(obj)._default_manager.filter(pk=obj.pk).values(*changes).first()
    for name, value in changes.items():
        setattr(obj, name, value)
    before = stored if stored is not None else {}
    changed = sorted(name for name, value in values().items() if value != before.get(name))
    if not changed:
        return obj
    _validate_changed(obj, changed)
    with transaction.atomic():
        obj.save()
        audit_log(
            actor=by, action=Action.CHANGE, obj=obj, request=request, detail=", ".join(changed)
        )
    return obj


def _validate_changed(obj: models.Model, changed: list[str]) -> None:
    """Validates what changes, and the rules across fields (the model's clean()) as far as
    they speak of a changed field or of the whole: a value an older record holds and today's
    rules refuse (a birth date before 1900) is not the change's fault, and must not block it
    (a patient turning text reminders off, say)."""
    unchanged = [f.name for f in obj._meta.fields if f.name not in changed]
    try:
        obj.full_clean(exclude=unchanged)
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        relevant = {
            name: messages
            for name, messages in error.message_dict.items()
            if name in changed or name == NON_FIELD_ERRORS
        }
        if relevant:
            raise ValidationError(relevant) from None


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    verified: int
    broken_at: int | None = None
    problem: str = ""


def audit_verify(*, chunk_size: int = 2000) -> ChainReport:
    """Walks the chain from the first event; reports the first break, or how many events hold.

    The chain must also still hold the latest anchor (audit.anchors): its event, with the hash
    it had when anchored. That finds events cut from the end, or all of them, with the head set
    back to match."""
    try:
        anchor = anchor_latest()
    except ForgedAnchor as forged:
        return ChainReport(False, 0, None, str(forged))
    anchored_hash = None
    expected_prev = GENESIS_HASH
    verified = 0
    last_id = None
    events = AuditEvent.objects.order_by("id")
    for event in events.iterator(chunk_size=chunk_size):
        if anchor is not None and event.pk == anchor.event_id:
            anchored_hash = event.hash
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
    if anchor is not None and anchored_hash != anchor.hash:
        return ChainReport(
            False,
            verified,
            anchor.event_id,
            f"event {anchor.event_id}, anchored outside the database at {anchor.written_at}, "
            + (
                "is gone: events were removed"
                if anchored_hash is None
                else "has another hash now: the chain was rewritten"
            ),
        )
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
