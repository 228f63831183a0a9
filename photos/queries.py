"""What the clinician's photo pages read, in a fixed number of queries however long the history."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q
from django.urls import reverse

from core.links import id_url
from treatments.models import Session

from .models import Derivative, Phase, Photo, Status, View, expected_views

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
    (None without a grid derivative), `grid_label` and `phase_name` in words, and the links
    `detail_url` and `grid_url` (one reverse() each per page, core.links.id_url).
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
    detail_url, grid_url = id_url("photos:photo"), id_url("photos:image", "grid")
    labels, phases = dict(Status.choices), dict(Phase.choices)
    for photo in photos:
        photo.detail_url = detail_url(photo.pk)
        photo.grid_url = grid_url(photo.pk)
        photo.grid_label = labels.get(photo.grid_status, "")
        photo.phase_name = phases.get(photo.phase, photo.phase)
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


def session_grid(session: Session, photos: list[Photo]) -> list[dict]:
    """One row per expected (or present) view: every before and every after photo of it (the
    view's reference first, then in upload order), or none."""
    area = session.plan.body_area
    rows: dict[tuple, dict] = {}
    for view in expected_views(area):
        rows[(area.pk, view, "")] = {
            "area": area,
            "view": View(view).label,
            "expected": True,
            "before": [],
            "after": [],
        }
    for photo in sorted(photos, key=lambda p: (not p.is_reference, p.pk)):
        key = (photo.body_area_id, photo.view, photo.view_label)
        if key not in rows and (photo.body_area_id, photo.view, "") in rows:
            key = (photo.body_area_id, photo.view, "")
        row = rows.setdefault(
            key,
            {
                "area": photo.body_area,
                "view": photo.view_name,
                "expected": False,
                "before": [],
                "after": [],
            },
        )
        row[photo.phase].append(photo)
    return list(rows.values())


def derivatives_pending(photos) -> bool:
    """Whether any of these photos still waits for a derivative or, its derivatives made, for
    its quality score (the grid then polls). Reads what the page selected: no query."""
    for photo in photos:
        states = {d.status for d in photo.derivatives.all()}
        if states & {Status.PENDING, Status.RUNNING}:
            return True
        if states == {Status.READY} and photo.quality_or_none is None:
            return True
    return False


def framing_guides(session: Session) -> list[dict[str, str]]:
    """For each view of the course's area that has a baseline: the baseline photo (the first
    "before" reference of the patient, area and view, as services.photo_baseline picks it,
    which the framing score and the comparisons measure against) to frame a new photo on,
    before or after alike. One query for all views."""
    baselines = (
        Photo.objects.filter(
            patient_id=session.patient_id,
            body_area_id=session.plan.body_area_id,
            phase=Phase.BEFORE,
            is_reference=True,
        )
        .order_by("view", "view_label", "session__starts_at", "session__number", "id")
        .values_list("view", "pk", "session__number")
    )
    guides: dict[str, tuple[int, int]] = {}
    for view, pk, number in baselines:
        guides.setdefault(view, (pk, number))
    return [
        {
            "view": view,
            "url": reverse("photos:image", args=[pk, "screen"]),
            "caption": f"Baseline: session {number}, before",
        }
        for view, (pk, number) in guides.items()
    ]


# --- redness across a course -----------------------------------------------------------------

TREND_WIDTH, TREND_HEIGHT = 360, 120  # the inline SVG's box (CSS scales it)
_PAD = 24


@dataclass
class TrendPoint:
    day: object
    redness: float
    photo_id: int
    session_number: int
    phase: str
    x: float = 0.0
    y: float = 0.0


@dataclass
class RednessTrend:
    """One view of one course: the redness of each measured photo in time order, and the
    geometry of a small SVG line chart of it (drawn by photos/_redness_trend.jinja)."""

    plan_id: int
    modality: str
    body_area_id: int
    area: str
    view: str
    view_label: str
    view_name: str
    points: list[TrendPoint] = field(default_factory=list)
    low: float = 0.0
    high: float = 0.0

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def change(self) -> float | None:
        if len(self.points) < 2:
            return None
        return self.points[-1].redness - self.points[0].redness

    def lay_out(self) -> None:
        values = [p.redness for p in self.points]
        low, high = min(values), max(values)
        if high - low < 2:  # a flat course drawn flat, not its noise magnified
            low, high = (low + high) / 2 - 1, (low + high) / 2 + 1
        self.low, self.high = low, high
        width, height = TREND_WIDTH - 2 * _PAD, TREND_HEIGHT - 2 * _PAD
        count = len(self.points)
        for index, point in enumerate(self.points):
            point.x = _PAD + (index * width / (count - 1) if count > 1 else width / 2)
            point.y = _PAD + height - (point.redness - low) / (high - low) * height


def redness_trends(photos_colours) -> list[RednessTrend]:
    """Trends from PhotoColour rows (photo, its session and plan, its area selected), one per
    course, area and view, each in time order. No query of its own."""
    from .services import photo_clinical_date

    trends: dict[tuple, RednessTrend] = {}
    rows = sorted(
        photos_colours,
        key=lambda c: (
            photo_clinical_date(c.photo),
            c.photo.session.number,
            _PHASE_ORDER.get(c.photo.phase, 2),
            c.photo_id,
        ),
    )
    for measured in rows:
        photo = measured.photo
        key = (photo.session.plan_id, photo.body_area_id, photo.view, photo.view_label)
        trend = trends.get(key)
        if trend is None:
            trend = trends[key] = RednessTrend(
                plan_id=photo.session.plan_id,
                modality=photo.session.plan.modality.name,
                body_area_id=photo.body_area_id,
                area=photo.body_area.name,
                view=photo.view,
                view_label=photo.view_label,
                view_name=photo.view_name,
            )
        trend.points.append(
            TrendPoint(
                photo_clinical_date(photo),
                measured.redness,
                photo.pk,
                photo.session.number,
                photo.get_phase_display(),
            )
        )
    for trend in trends.values():
        trend.lay_out()
    return sorted(trends.values(), key=lambda t: (t.plan_id, t.area, _VIEW_ORDER.get(t.view, 9)))


def patient_redness_trends(patient) -> list[RednessTrend]:
    """Every measured photo of the patient: one query."""
    from .models import PhotoColour

    return redness_trends(
        PhotoColour.objects.filter(
            photo__patient=patient, status=Status.READY, redness__isnull=False
        ).select_related("photo__session__plan__modality", "photo__body_area")
    )
