"""The desk's inbox: what needs someone at the desk, from every part of the app, in one list.

Each part plugs in a `Source`: a kind ("change", "flagged", ...), a label, a function that
answers the source's newest items as `InboxItem`s, one that counts its new items (for the
badge in the desk's navigation), and, when the source's own records hold no "handled" state,
`markable=True` so the inbox's "Mark handled" button records an `InboxMark` for it. Register a
source with `register(Source(...))` at import time of a module that `SOURCES_MODULES` names
(or append it there); the inbox reads `sources()`.

Every source answers in a fixed number of queries (at most `limit` rows, newest first, and
whatever it needs for them in one pass), so the page's queries do not grow with the items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from core import outbox
from treatments.models import Session

from .models import ChangeRequest, InboxMark

NEW = "new"
HANDLED = "handled"
WITHDRAWN = "withdrawn"
# The state filter: "handled" lists everything no longer new (withdrawn requests too).
STATES = {NEW: "New", HANDLED: "Handled", "all": "All"}
PAGE_ITEMS = 100


@dataclass(frozen=True)
class InboxItem:
    """One row of the inbox. `record`: the object the row shows, with a `patient_id`, for the
    audit (None when the row names no patient, like a failed email)."""

    kind: str
    object_id: int
    title: str
    at: dt.datetime
    state: str  # NEW, HANDLED or WITHDRAWN
    detail: str = ""
    patient_name: str = ""
    patient_url: str = ""
    session_url: str = ""
    link: str = ""  # where the desk acts on the item
    link_label: str = ""
    handled_by: str = ""
    handled_at: dt.datetime | None = None
    outcome: str = ""
    markable: bool = False
    record: object = field(default=None, compare=False, repr=False)

    @property
    def is_new(self) -> bool:
        return self.state == NEW


# items(state, limit): the newest `limit` items in `state` (NEW, HANDLED, or None for all).
ItemsFunction = Callable[[str | None, int], list[InboxItem]]


@dataclass(frozen=True)
class Source:
    kind: str
    label: str
    items: ItemsFunction
    count_new: Callable[[], int]
    markable: bool = False  # the inbox records "handled" for it (InboxMark)


_SOURCES: dict[str, Source] = {}
# Modules whose import registers more sources (a waitlist: "scheduling.waitlist").
SOURCES_MODULES: list[str] = ["scheduling.waitlist"]


def register(source: Source) -> Source:
    _SOURCES[source.kind] = source
    return source


def sources() -> list[Source]:
    for module in SOURCES_MODULES:
        import_module(module)
    return list(_SOURCES.values())


def items(*, kind: str | None = None, state: str | None = NEW, limit: int = PAGE_ITEMS):
    """The newest items of every source (or of one kind) in `state`, newest first."""
    chosen = [s for s in sources() if kind in (None, s.kind)]
    found = [item for source in chosen for item in source.items(state, limit)]
    found.sort(key=lambda item: item.at, reverse=True)
    return found[:limit]


def in_state(rows, state: str | None, new: Q):
    """The rows in `state`: NEW those matching `new`, HANDLED the others, None all of them."""
    if state == NEW:
        return rows.filter(new)
    if state == HANDLED:
        return rows.exclude(new)
    return rows


def new_count() -> int:
    return sum(source.count_new() for source in sources())


# --- marks: "handled" for items whose own records cannot say it -----------------------------


def _marked(kind: str, since: str | None = None):
    """Exists(): a mark on the outer row (newer than its `since` field, when given)."""
    marks = InboxMark.objects.filter(kind=kind, object_id=OuterRef("pk"))
    if since:
        marks = marks.filter(handled_at__gte=OuterRef(since))
    return Exists(marks)


def _marks(kind: str, object_ids) -> dict[int, InboxMark]:
    rows = InboxMark.objects.filter(kind=kind, object_id__in=list(object_ids)).select_related(
        "handled_by"
    )
    return {mark.object_id: mark for mark in rows}


def item_mark_handled(*, kind: str, object_id: int, by) -> InboxMark:
    """The desk marks an item handled (a source with markable=True); again is refused."""
    source = next((s for s in sources() if s.kind == kind), None)
    if source is None:
        raise ValidationError("Choose an item of the inbox to mark as handled.")
    if not source.markable:
        raise ValidationError(
            "A patient's request is handled from its session's page: move the session, cancel "
            "it, or decline the request with a note."
        )
    try:
        with transaction.atomic():
            mark, _ = InboxMark.objects.update_or_create(
                kind=kind,
                object_id=object_id,
                defaults={"handled_by": by, "handled_at": timezone.now()},
            )
    except IntegrityError as error:  # two desks at once: one mark stands
        raise ValidationError("Someone else just marked it; reload the inbox.") from error
    return mark


# --- the built-in sources -----------------------------------------------------------------


def _request_items(kind: str) -> ItemsFunction:
    def answer(state: str | None, limit: int) -> list[InboxItem]:
        rows = ChangeRequest.objects.filter(kind=kind).select_related(
            "patient", "handled_by", "session__plan__modality"
        )
        rows = in_state(rows, state, Q(state=ChangeRequest.State.NEW))
        found = []
        for row in rows.order_by("-created_at", "-pk")[:limit]:
            session = row.session
            when = row.session_starts_at or session.starts_at
            local = timezone.localtime(when) if when else None
            words = row.preferred_labels + ([row.message] if row.message else [])
            session_url = reverse("scheduling:session", args=[session.pk])
            found.append(
                InboxItem(
                    kind=kind,
                    object_id=row.pk,
                    title=(
                        f"{'Asks to move' if kind == ChangeRequest.Kind.CHANGE else 'Cancelled'} "
                        f"{session.plan.modality.name}, session {session.number}"
                        + (f" of {local:%a %-d %b %H:%M}" if local else "")
                    ),
                    at=row.created_at,
                    state=row.state,
                    detail=" · ".join(words),
                    patient_name=row.patient.full_name,
                    patient_url=row.patient.get_absolute_url(),
                    session_url=session_url,
                    link=session_url,
                    link_label="Handle" if row.is_open else "Session",
                    handled_by=row.handled_by.get_full_name() if row.handled_by else "",
                    handled_at=row.handled_at,
                    outcome=row.get_outcome_display() if row.outcome else "",
                    record=session,
                )
            )
        return found

    return answer


def _flagged_rows():
    return Session.objects.flagged().filter(starts_at__gte=timezone.now())


def _flagged_items(state: str | None, limit: int) -> list[InboxItem]:
    rows = _flagged_rows().annotate(marked=_marked("flagged", since="flagged_at"))
    rows = in_state(rows, state, Q(marked=False))
    rows = list(
        rows.select_related("patient", "plan__modality").order_by("-flagged_at", "-pk")[:limit]
    )
    marks = _marks("flagged", [s.pk for s in rows if s.marked])
    found = []
    for session in rows:
        mark = marks.get(session.pk) if session.marked else None
        local = timezone.localtime(session.starts_at)
        found.append(
            InboxItem(
                kind="flagged",
                object_id=session.pk,
                title=(
                    f"Flagged by screening: {session.plan.modality.name}, session "
                    f"{session.number} on {local:%a %-d %b %H:%M}"
                ),
                at=session.flagged_at or session.starts_at,
                state=HANDLED if mark else NEW,
                detail=f"{session.get_flag_display()}: {session.flag_reason}",
                patient_name=session.patient.full_name,
                patient_url=session.patient.get_absolute_url(),
                session_url=reverse("scheduling:session", args=[session.pk]),
                link=reverse("scheduling:flagged", args=[session.patient_id]),
                link_label="Flagged sessions",
                handled_by=mark.handled_by.get_full_name() if mark else "",
                handled_at=mark.handled_at if mark else None,
                markable=True,
                record=session,
            )
        )
    return found


def _flagged_new() -> int:
    return _flagged_rows().exclude(_marked("flagged", since="flagged_at")).count()


def _email_items(state: str | None, limit: int) -> list[InboxItem]:
    rows = outbox.troubled_emails().annotate(marked=_marked("email"))
    rows = in_state(rows, state, Q(marked=False))
    rows = list(rows.order_by("-created_at", "-pk")[:limit])
    marks = _marks("email", [m.pk for m in rows if m.marked])
    link = reverse("outbox")
    found = []
    for message in rows:
        mark = marks.get(message.pk) if message.marked else None
        failed = message.status == message.Status.FAILED
        found.append(
            InboxItem(
                kind="email",
                object_id=message.pk,
                title=f"{message.get_kind_display()} "
                + ("not sent: " if failed else "waiting to be sent again: ")
                + message.summary,
                at=message.created_at,
                state=HANDLED if mark else NEW,
                detail=f"{message.attempts} attempts. {message.last_error}"[:300],
                link=link,
                link_label="Outbox",
                handled_by=mark.handled_by.get_full_name() if mark else "",
                handled_at=mark.handled_at if mark else None,
                markable=True,
            )
        )
    return found


def _emails_new() -> int:
    return outbox.troubled_emails().exclude(_marked("email")).count()


register(
    Source(
        kind=ChangeRequest.Kind.CHANGE,
        label="Change requests",
        items=_request_items(ChangeRequest.Kind.CHANGE),
        count_new=lambda: ChangeRequest.objects.open().filter(kind="change").count(),
    )
)
register(
    Source(
        kind=ChangeRequest.Kind.CANCEL,
        label="Cancellations",
        items=_request_items(ChangeRequest.Kind.CANCEL),
        count_new=lambda: ChangeRequest.objects.open().filter(kind="cancel").count(),
    )
)
register(
    Source(
        kind="flagged",
        label="Flagged by screening",
        items=_flagged_items,
        count_new=_flagged_new,
        markable=True,
    )
)
register(
    Source(
        kind="email",
        label="Emails and texts not sent",
        items=_email_items,
        count_new=_emails_new,
        markable=True,
    )
)
