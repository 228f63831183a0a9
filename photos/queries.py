"""What the clinician's photo pages read, in a fixed number of queries however long the history."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q
from django.urls import reverse

from treatments.models import Session

from .models import Derivative, Phase, Photo, Status, View

# Sessions per page of the timeline: up to forty thumbnails when every one of an area's five
# views has a before and an after.
TIMELINE_SESSIONS = 4
# Far past any real history, and an offset the database still takes (a bigint overflows).
TIMELINE_LAST_PAGE = 100_000

_VIEW_ORDER = {value: index for index, value in enumerate(View.values)}
_PHASE_ORDER = {Phase.BEFORE: 0, Phase.AFTER: 1}


@dataclass
class TimelineSession:
    session: Session
    photos: list[Photo] = field(default_factory=list)


@dataclass
class TimelinePage:
    number: int
    sessions: list[TimelineSession]
    has_next: bool

    @property
    def next_number(self) -> int:
        return self.number + 1


def timeline_page(patient, number: int) -> TimelinePage:
    """Page `number` (from 1) of the patient's sessions that have photos, newest first, each
    with its photos and their grid thumbnails: 2 queries, whatever the history.

    One session more than a page is read to know whether an older page exists, so no count of
    the whole history is needed. Each photo gets `grid_status`, `grid_width`, `grid_height`
    (None without a grid derivative) and the links `detail_url` and `grid_url`.
    """
    size = TIMELINE_SESSIONS
    if number > TIMELINE_LAST_PAGE:
        return TimelinePage(number=number, sessions=[], has_next=False)
    sessions = list(
        Session.objects.for_patient(patient)
        .filter(Exists(Photo.objects.filter(session=OuterRef("pk"))))
        .select_related("plan__modality", "plan__body_area")
        .order_by(F("starts_at").desc(nulls_last=True), "-number", "-pk")[
            (number - 1) * size : number * size + 1
        ]
    )
    has_next = len(sessions) > size
    entries = {session.pk: TimelineSession(session) for session in sessions[:size]}
    photos = (
        Photo.objects.filter(session_id__in=entries)
        .select_related("body_area")
        .annotate(
            grid=FilteredRelation(
                "derivatives", condition=Q(derivatives__size=Derivative.Size.GRID)
            ),
            grid_status=F("grid__status"),
            grid_width=F("grid__width"),
            grid_height=F("grid__height"),
        )
        .order_by()
    )
    for photo in photos:
        photo.detail_url = reverse("photos:photo", args=[photo.pk])
        photo.grid_url = reverse("photos:image", args=[photo.pk, "grid"])
        photo.grid_label = Status(photo.grid_status).label if photo.grid_status else ""
        entries[photo.session_id].photos.append(photo)
    for entry in entries.values():
        entry.photos.sort(
            key=lambda p: (
                p.body_area.name,
                _VIEW_ORDER.get(p.view, len(_VIEW_ORDER)),
                p.view_label,
                _PHASE_ORDER.get(p.phase, 2),
                p.pk,
            )
        )
    return TimelinePage(number=number, sessions=list(entries.values()), has_next=has_next)
