"""Writes for photos: upload, consent, pairing, release, and the derivative/sheet work itself.

The tasks in tasks.py only load ids and call the *_make functions here.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import formats, timezone
from PIL import Image

from audit.services import Action, audit_log
from core.tasks import task_send, task_send_on_commit
from treatments import consents
from treatments.models import Session

from . import imaging
from .models import (
    ALIGNMENT_VERSION,
    COLOUR_VERSION,
    COURSE_SHEET_VERSION,
    DERIVATIVE_VERSION,
    QUALITY_VERSION,
    SHEET_VERSION,
    Alignment,
    Comparison,
    CourseSheet,
    Derivative,
    Phase,
    Photo,
    PhotoColour,
    PhotoQuality,
    Purpose,
    Status,
    View,
)

CLOSED_SESSION_STATUSES = (Session.Status.CANCELLED, Session.Status.NO_SHOW)


class TransientError(Exception):
    """Storage or database trouble worth retrying; the task retries with a countdown."""


def _max_bytes() -> int:
    return getattr(settings, "PHOTOS_MAX_UPLOAD_BYTES", imaging.DEFAULT_MAX_BYTES)


def _max_pixels() -> int:
    return getattr(settings, "PHOTOS_MAX_PIXELS", imaging.DEFAULT_MAX_PIXELS)


def _stale_before() -> dt.datetime:
    """A claim older than the hard time limit belongs to a task that is dead: the limit has
    killed it if nothing else did (10 s of margin for the worker's own bookkeeping)."""
    return timezone.now() - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 10)


MAX_ATTEMPTS = 3  # claims of one piece of work whose tasks all died, before it fails


def new_claim() -> str:
    """A claim of its own for work done outside a task (a management command, a test)."""
    return f"local-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class _Work:
    """The columns that hold a piece of background work's state (a derivative's, a sheet's):
    one way to claim it, give it back, queue it again and fail it.

    A claim is the id of the task holding it (Celery keeps a task's id on redelivery and on
    retry) and the time it was made. The work may be taken when it is pending, when it is
    running under the taker's own claim (that task coming back: its earlier attempt died or
    gave up) or when it is running under a claim older than the hard time limit.

    Work whose tasks died MAX_ATTEMPTS times in a row fails instead of being taken again."""

    status: str
    claimed_at: str
    claimed_by: str
    attempts: str
    reason: str

    def _running(self, lookup: str, value) -> Q:
        """Running, and `lookup` (on this work's columns, e.g. "claimed_by") holds `value`."""
        column, _, operator = lookup.partition("__")
        column = getattr(self, column)
        return Q(**{self.status: Status.RUNNING, f"{column}__{operator or 'exact'}": value})

    def claim(self, rows: QuerySet, by: str) -> int:
        """Marks the rows that may be taken as running under `by`; 0 means a live task has the
        work, or it is finished."""
        takeable = rows.filter(
            Q(**{self.status: Status.PENDING})
            | self._running("claimed_by", by)
            | self._running("claimed_at__lt", _stale_before())
        )
        self.fail(
            takeable.filter(**{f"{self.attempts}__gte": MAX_ATTEMPTS}),
            f"The worker died each of the {MAX_ATTEMPTS} times it tried (out of memory?); "
            "photos_regenerate tries again.",
        )
        return takeable.update(  # the failed ones are no longer takeable
            **{
                self.status: Status.RUNNING,
                self.claimed_at: timezone.now(),
                self.claimed_by: by,
                self.attempts: F(self.attempts) + 1,
                self.reason: "",
            }
        )

    def claimed(self, rows: QuerySet, by: str) -> QuerySet:
        return rows.filter(self._running("claimed_by", by))

    def unfinished(self, rows: QuerySet) -> bool:
        return rows.filter(**{f"{self.status}__in": (Status.PENDING, Status.RUNNING)}).exists()

    def stale(self, rows: QuerySet) -> QuerySet:
        """Running under a dead task's claim: nobody will finish it unless it is sent again."""
        return rows.filter(self._running("claimed_at__lt", _stale_before()))

    def live(self, rows: QuerySet) -> QuerySet:
        """Running under a claim young enough that its task may still be at work."""
        return rows.filter(self._running("claimed_at__gte", _stale_before()))

    def requeue(self, rows: QuerySet) -> int:
        return rows.update(
            **{
                self.status: Status.PENDING,
                self.claimed_at: None,
                self.claimed_by: "",
                self.attempts: 0,
                self.reason: "",
            }
        )

    def release(self, rows: QuerySet, by: str) -> None:
        """Gives back `by`'s claim for a retry: what it still holds is pending again."""
        self.requeue(self.claimed(rows, by))

    def fail(self, rows: QuerySet, reason: str) -> None:
        rows.exclude(**{self.status: Status.READY}).update(
            **{self.status: Status.FAILED, self.reason: reason[:300]}
        )


DERIVATIVE_WORK = _Work("status", "claimed_at", "claimed_by", "attempts", "reason")
SHEET_WORK = _Work(
    "sheet_status", "sheet_claimed_at", "sheet_claimed_by", "sheet_attempts", "sheet_reason"
)


def _put_sheet(base: str, jpeg: bytes, pdf: bytes) -> None:
    """A sheet's JPEG and PDF under `base`; storage that fails is worth another try."""
    try:
        _put(f"{base}.jpg", jpeg)
        _put(f"{base}.pdf", pdf)
    except OSError as error:
        raise TransientError(f"could not store the sheet: {error}") from error


def _put(key: str, data: bytes) -> None:
    """Writes bytes under exactly this key, replacing what was there (so reruns leave one file)."""
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:  # pragma: no cover - another writer raced us; keep one file
        default_storage.delete(saved)
        raise TransientError(f"storage saved {key} under another name")


# --- upload and consent ------------------------------------------------------------------


def _purposes_allowed(
    patient, purposes: Iterable[str] | None, *, already: Iterable[str] = ()
) -> set[str]:
    """The uses asked for a photo (None: the patient's standing photo consent, else the
    clinical record only), refused when one is unknown or when one it does not hold
    `already` goes beyond the standing consent: what the patient decided (signed, or changed
    in the portal since) is kept as decided, and a box ticked on an upload form or a photo's
    page, or a list put through the API, does not give a photo a use they have not allowed.
    Taking a use away is always allowed. Called inside the transaction that saves the photo,
    under the patient's row lock (`_consent_lock`), which a change of the standing consent
    takes too: a withdrawal cannot slip between this check and the save."""
    standing = consents.standing_photo_consent(patient)
    if purposes is None:
        purposes = standing.purposes if standing is not None else [Purpose.CLINICAL]
    purposes = set(purposes)
    if unknown := purposes - set(Purpose.values):
        raise ValidationError(f"Unknown consent purpose: {', '.join(sorted(unknown))}.")
    if standing is not None and (beyond := purposes - set(already) - set(standing.purposes)):
        labels = ", ".join(Purpose(p).label.lower() for p in sorted(beyond))
        raise ValidationError(
            {
                "purposes": f"The patient's photo consent does not cover {labels}: untick it, "
                "or record their new consent on their consents page first."
            }
        )
    return purposes


def _consent_lock(patient) -> None:
    """The patient's row lock, the one treatments.consents takes to change the standing photo
    consent; taken first, before any photo or session row."""
    type(patient).objects.select_for_update().filter(pk=patient.pk).exists()


def photo_upload(
    *,
    session: Session,
    body_area,
    view: str,
    phase: str,
    file,
    view_label: str = "",
    purposes: Iterable[str] | None = None,
    by,
    request=None,
) -> Photo:
    """Checks the file completely, stores the original unchanged and queues its derivatives.
    Without `purposes` the photo takes the patient's standing photo consent."""
    if session.status in CLOSED_SESSION_STATUSES:
        raise ValidationError("Photos cannot be added to a cancelled or missed session.")
    if view not in View.values:
        raise ValidationError({"view": "Choose one of the standard views."})
    if phase not in Phase.values:
        raise ValidationError({"phase": "Choose before or after."})
    if view == View.AREA and not view_label.strip():
        view_label = body_area.name
    if purposes is not None:  # refused before the file is read; checked again when saved
        _purposes_allowed(session.patient, purposes)
    try:
        info = imaging.inspect_upload(
            file,
            claimed_type=getattr(file, "content_type", None),
            name=getattr(file, "name", None),
            max_bytes=_max_bytes(),
            max_pixels=_max_pixels(),
            tz=timezone.get_current_timezone(),
        )
    except imaging.ImageRejected as error:
        raise ValidationError({"file": str(error)}) from None

    public_id = uuid.uuid4()
    key = f"photos/originals/{public_id.hex[:2]}/{public_id.hex}.{info.extension}"
    photo = Photo(
        public_id=public_id,
        session=session,
        patient_id=session.patient_id,
        body_area=body_area,
        view=view,
        view_label=view_label.strip()[:60],
        phase=phase,
        storage_key=key,
        content_type=info.content_type,
        sha256=info.sha256,
        size_bytes=info.size,
        width=info.width,
        height=info.height,
        orientation=info.orientation,
        captured_at=info.captured_at,
        uploaded_by=by,
    )
    photo.full_clean()
    file.seek(0)
    stored = default_storage.save(key, file)
    try:
        with transaction.atomic():
            _consent_lock(session.patient)
            allowed = _purposes_allowed(session.patient, purposes)
            for purpose in Purpose.values:
                setattr(photo, f"consent_{purpose}", purpose in allowed)
            # The first photo of its view in the session is its reference; the session's row
            # lock keeps two uploads at once from both taking the place.
            Session.objects.select_for_update().filter(pk=session.pk).first()
            photo.is_reference = not _view_photos(photo).filter(is_reference=True).exists()
            photo.save()
            Derivative.objects.bulk_create(
                Derivative(photo=photo, size=size) for size in Derivative.Size.values
            )
            audit_log(actor=by, action=Action.CREATE, obj=photo, request=request, detail="upload")
            _send_derivatives_on_commit(photo.pk)
            comparisons_propose(plan=session.plan, by=None)
    except BaseException:
        default_storage.delete(stored)  # nothing stored when the rows are not
        raise
    return photo


def _send_derivatives_on_commit(photo_id: int) -> None:
    """The derivative work, promised in the upload's transaction (the outbox): sent once it
    commits, and later if the broker is down then."""
    from .tasks import make_derivatives

    task_send_on_commit(make_derivatives, photo_id)


def _send_sheet_on_commit(comparison_id: int) -> None:
    from .tasks import make_sheet

    task_send_on_commit(make_sheet, comparison_id)


def _send_quality(photo_id: int) -> bool:
    from .tasks import score_quality

    return task_send(score_quality, photo_id)


def _send_colour(photo_id: int) -> bool:
    from .tasks import measure_colour

    return task_send(measure_colour, photo_id)


def _send_course_sheet_on_commit(sheet_id: int) -> None:
    from .tasks import make_course_sheet

    task_send_on_commit(make_course_sheet, sheet_id)


def _send_course_sheet(sheet_id: int) -> bool:
    from .tasks import make_course_sheet

    return task_send(make_course_sheet, sheet_id)


def _send_derivatives(photo_id: int) -> bool:
    from .tasks import make_derivatives

    return task_send(make_derivatives, photo_id)


def _send_sheet(comparison_id: int) -> bool:
    from .tasks import make_sheet

    return task_send(make_sheet, comparison_id)


def pending_resend(*, older_than: dt.timedelta) -> int:
    """The sweep: sends again the derivative, sheet and quality work that no live task holds,
    namely
    work still pending after `older_than` (a send lost while the broker was down) and work
    running under a claim older than the hard time limit (its task died: a worker killed
    before the broker could deliver the task again, a task killed by the time limit).

    Safe to overlap with a send that did arrive: the task claims rows atomically.
    """
    cutoff = timezone.now() - older_than
    derivatives = Derivative.objects.filter(
        Q(status=Status.PENDING, photo__uploaded_at__lt=cutoff)
        | Q(pk__in=DERIVATIVE_WORK.stale(Derivative.objects.all()).values("pk"))
    )
    photo_ids = list(derivatives.values_list("photo_id", flat=True).distinct().order_by("photo_id"))
    sheets = list(SHEET_WORK.stale(Comparison.objects.all()).values_list("pk", flat=True))
    # A pending sheet whose photos are all ready lost its send (while waiting, it is sent
    # when the last of its photos is ready).
    waiting = list(
        Comparison.objects.filter(sheet_status=Status.PENDING, created_at__lt=cutoff).only(
            "before_id", "middle_id", "after_id"
        )
    )
    ready = set(
        Derivative.objects.filter(
            photo_id__in={p for c in waiting for p in c.photo_ids},
            size=Derivative.Size.LARGE,
            status=Status.READY,
        ).values_list("photo_id", flat=True)
    )
    sheets += [c.pk for c in waiting if ready.issuperset(c.photo_ids)]
    sent = sum(_send_derivatives(photo_id) for photo_id in photo_ids)
    # The score is sent when the derivatives are made: lost only once its task would have
    # finished or been killed by the hard time limit, as for a dead claim.
    unscored = quality_unscored(made_before=min(cutoff, _stale_before()))
    sent += sum(_send_quality(photo_id) for photo_id in unscored)
    unmeasured = colour_unmeasured(made_before=min(cutoff, _stale_before()))
    sent += sum(_send_colour(photo_id) for photo_id in unmeasured)
    course_sheets = CourseSheet.objects.filter(
        Q(sheet_status=Status.PENDING, created_at__lt=cutoff)
        | Q(pk__in=SHEET_WORK.stale(CourseSheet.objects.all()).values("pk"))
    )
    sent += sum(_send_course_sheet(pk) for pk in course_sheets.values_list("pk", flat=True))
    return sent + sum(_send_sheet(comparison_id) for comparison_id in sorted(sheets))


def photo_consent_update(*, photo: Photo, purposes: Iterable[str], by, request=None) -> Photo:
    """Sets the purposes the patient consented to; a withdrawn one hides photo and sheets."""
    with transaction.atomic():
        # What the photo holds now, not when the request loaded it: a withdrawal meanwhile
        # is not undone by saving the boxes as they were shown.
        _consent_lock(photo.patient)
        fresh = Photo.objects.select_for_update().get(pk=photo.pk)
        for purpose in Purpose.values:
            setattr(photo, f"consent_{purpose}", getattr(fresh, f"consent_{purpose}"))
        purposes = _purposes_allowed(photo.patient, purposes, already=photo.purposes)
        _photo_purposes_write(photo, purposes, by=by, request=request)
    return photo


def _photo_purposes_write(photo: Photo, purposes: set[str], *, by, request=None) -> None:
    """Saves the photo's purposes, checked and under its lock already: audited, and a use
    taken away leaves its course sheets at once."""
    before = set(photo.purposes)
    for purpose in Purpose.values:
        setattr(photo, f"consent_{purpose}", purpose in purposes)
    photo.save(update_fields=[f"consent_{p}" for p in Purpose.values])
    withdrawn = sorted(before - purposes)
    given = sorted(purposes - before)
    audit_log(
        actor=by,
        action=Action.CHANGE,
        obj=photo,
        request=request,
        detail=f"consent given: {','.join(given) or '-'}; withdrawn: {','.join(withdrawn) or '-'}",
    )
    if withdrawn:
        course_sheets_withdraw(photo=photo, purposes=withdrawn, by=by, request=request)


# --- the reference photo of a view ---------------------------------------------------------


def _view_photos(photo: Photo) -> QuerySet:
    """The photos of the same session, area, view and phase as `photo` (itself included)."""
    return Photo.objects.filter(
        session_id=photo.session_id,
        body_area_id=photo.body_area_id,
        view=photo.view,
        view_label=photo.view_label,
        phase=photo.phase,
    )


def photo_reference_set(*, photo: Photo, by, request=None) -> Photo:
    """A clinician marks `photo` as its view's reference in its session: the comparisons, the
    baseline and the capture guide use it from now on, and the app no longer moves it."""
    with transaction.atomic():
        Session.objects.select_for_update().filter(pk=photo.session_id).first()
        previous = _view_photos(photo).filter(is_reference=True).exclude(pk=photo.pk).first()
        if previous is not None:
            previous.is_reference = False
            previous.reference_chosen_by = None
            previous.save(update_fields=["is_reference", "reference_chosen_by"])
        photo.is_reference = True
        photo.reference_chosen_by = by
        photo.save(update_fields=["is_reference", "reference_chosen_by"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=photo,
            request=request,
            detail=f"reference of its view (was photo {previous.pk if previous else '-'})",
        )
        comparisons_propose(plan=photo.session.plan, by=None)
    return photo


def _reference_prefer_good(photo: Photo) -> bool:
    """After scoring: a well-scored photo takes the place of an app-picked reference whose
    score asks for a retake (the retake is what the clinician took it for). A clinician's
    pick stays. True when the reference moved."""
    with transaction.atomic():
        Session.objects.select_for_update().filter(pk=photo.session_id).first()
        current = _view_photos(photo).filter(is_reference=True).select_related("quality").first()
        if current is None or current.pk == photo.pk or current.reference_chosen_by_id:
            return False
        quality = current.quality_or_none
        if quality is None or not quality.retake:
            return False
        current.is_reference = False
        current.save(update_fields=["is_reference"])
        Photo.objects.filter(pk=photo.pk).update(is_reference=True)
        comparisons_propose(plan=photo.session.plan, by=None)
    return True


def photos_consent_withdraw(*, patient_id: int, purposes: Iterable[str], by, request=None) -> int:
    """The patient withdrew `purposes` from their standing photo consent (under the patient's
    lock, which treatments.consents holds): each of their photos that still holds one loses
    it, audited and hidden from that use at once. Taking a use away needs no check. Returns
    how many photos changed."""
    withdrawn = set(purposes)
    holding = Q()
    for purpose in withdrawn:
        holding |= Q(**{f"consent_{purpose}": True})
    changed = 0
    with transaction.atomic():
        for photo in Photo.objects.select_for_update().filter(holding, patient_id=patient_id):
            _photo_purposes_write(photo, set(photo.purposes) - withdrawn, by=by, request=request)
            changed += 1
    return changed


def on_standing_consent_withdrawn(sender, *, patient_id, purposes, by, request=None, **kwargs):
    photos_consent_withdraw(patient_id=patient_id, purposes=purposes, by=by, request=request)


# --- pairing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proposal:
    kind: str
    before: Photo
    middle: Photo | None
    after: Photo


def _proposals(photos: list[Photo]) -> list[_Proposal]:
    """Baseline before against the latest after; a series adds the mid-course after. Of
    several photos of a view in one session, its reference stands for it."""
    photos = [p for p in photos if p.is_reference]
    befores = sorted(
        (p for p in photos if p.phase == Phase.BEFORE), key=lambda p: (p.session.number, p.pk)
    )
    afters_by_session: dict[int, Photo] = {}
    for photo in sorted(photos, key=lambda p: p.pk):
        if photo.phase == Phase.AFTER:
            afters_by_session[photo.session.number] = photo
    if not befores or not afters_by_session:
        return []
    baseline = befores[0]
    afters = [afters_by_session[n] for n in sorted(afters_by_session)]
    afters = [a for a in afters if a.session.number >= baseline.session.number]
    if not afters:
        return []
    proposals = [_Proposal(Comparison.Kind.PAIR, baseline, None, afters[-1])]
    if len(afters) >= 2:
        middle = afters[(len(afters) - 1) // 2]
        proposals.append(_Proposal(Comparison.Kind.SERIES, baseline, middle, afters[-1]))
    return proposals


def comparisons_propose(*, plan, by=None) -> list[Comparison]:
    """Creates or refreshes the app's proposed comparisons for a course; manual ones stay."""
    photos = list(
        Photo.objects.filter(session__plan=plan)
        .select_related("session")
        .order_by("session__number", "id")
    )
    groups: dict[tuple, list[Photo]] = {}
    for photo in photos:
        groups.setdefault((photo.body_area_id, photo.view, photo.view_label), []).append(photo)
    touched: list[Comparison] = []
    with transaction.atomic():
        for (area_id, view, view_label), group in groups.items():
            for proposal in _proposals(group):
                comparison, created = Comparison.objects.select_for_update().get_or_create(
                    plan=plan,
                    body_area_id=area_id,
                    view=view,
                    view_label=view_label,
                    kind=proposal.kind,
                    defaults={
                        "patient_id": plan.patient_id,
                        "before": proposal.before,
                        "middle": proposal.middle,
                        "after": proposal.after,
                    },
                )
                if not created:
                    chosen = (comparison.before_id, comparison.middle_id, comparison.after_id)
                    proposed = (
                        proposal.before.pk,
                        proposal.middle.pk if proposal.middle else None,
                        proposal.after.pk,
                    )
                    if not comparison.is_automatic or chosen == proposed:
                        continue
                    comparison.before = proposal.before
                    comparison.middle = proposal.middle
                    comparison.after = proposal.after
                    comparison.released_to_portal = False  # a new picture needs a new release
                    comparison.save()
                _queue_sheet(comparison)
                touched.append(comparison)
    return touched


def comparison_update(
    *,
    comparison: Comparison,
    before: Photo,
    after: Photo,
    middle: Photo | None = None,
    by,
    request=None,
) -> Comparison:
    """A clinician's own choice of photos; the app stops proposing for this comparison."""
    chosen = [p for p in (before, middle, after) if p is not None]
    for photo in chosen:
        if (
            photo.patient_id != comparison.patient_id
            or photo.body_area_id != comparison.body_area_id
            or photo.view != comparison.view
        ):
            raise ValidationError(
                "Every photo of a comparison must be of the same patient, area and view."
            )
    if comparison.kind == Comparison.Kind.SERIES and middle is None:
        raise ValidationError("A series needs a mid-course photo.")
    if comparison.kind == Comparison.Kind.PAIR:
        middle = None
    numbers = [p.session.number for p in (before, middle, after) if p is not None]
    if numbers != sorted(numbers) or before.pk == after.pk:
        raise ValidationError("The photos must be in time order: before first, after last.")
    with transaction.atomic():
        comparison.before, comparison.middle, comparison.after = before, middle, after
        comparison.chosen_by = by
        comparison.released_to_portal = False
        comparison.full_clean()
        comparison.save()
        audit_log(actor=by, action=Action.CHANGE, obj=comparison, request=request, detail="pair")
        _queue_sheet(comparison)
    return comparison


def comparison_release(*, comparison: Comparison, released: bool, by, request=None) -> Comparison:
    if released:
        photos = Photo.objects.filter(pk__in=comparison.photo_ids)
        if photos.filter(consent_portal=False).exists():
            raise ValidationError(
                "The patient has not consented to showing these photos in the portal."
            )
    with transaction.atomic():
        comparison.released_to_portal = released
        comparison.save(update_fields=["released_to_portal", "updated_at"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=comparison,
            request=request,
            detail="released to portal" if released else "withdrawn from portal",
        )
    return comparison


def _queue_sheet(comparison: Comparison) -> None:
    """Marks the sheet to be (re)made; sent once all its photos' large derivatives are ready."""
    SHEET_WORK.requeue(Comparison.objects.filter(pk=comparison.pk))
    comparison.sheet_status = Status.PENDING
    ready = Derivative.objects.filter(
        photo_id__in=comparison.photo_ids, size=Derivative.Size.LARGE, status=Status.READY
    ).count()
    if ready == len(comparison.photo_ids):
        _send_sheet_on_commit(comparison.pk)


# --- derivatives and sheets (called by the worker) ----------------------------------------


def photo_derivatives_make(*, photo_id: int, claim: str | None = None) -> str:
    """Makes the photo's derivatives that are not made yet, under `claim` (the task's id);
    safe to run twice or after a killed worker.

    Answers "busy" while a live task holds the work and "nothing to do" only when it is done;
    on a TransientError the caller gives the claim back (`derivatives_release`)."""
    claim = claim or new_claim()
    derivatives = Derivative.objects.filter(photo_id=photo_id)
    if not DERIVATIVE_WORK.claim(derivatives, claim):
        return "busy" if DERIVATIVE_WORK.unfinished(derivatives) else "nothing to do"
    if delay := getattr(settings, "PHOTOS_TEST_DELAY_SECONDS", 0):  # off unless a test sets it
        time.sleep(delay)  # lets a test kill the worker mid-task, rows claimed
    photo = Photo.objects.get(pk=photo_id)
    claimed = DERIVATIVE_WORK.claimed(derivatives, claim)
    rows = {d.size: d for d in claimed}
    try:
        source = default_storage.open(photo.storage_key, "rb")
    except OSError as error:
        raise TransientError(f"could not read the original: {error}") from error
    try:
        with source:
            made = imaging.make_derivatives(source, sizes=imaging.DERIVATIVE_SIZES)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        DERIVATIVE_WORK.fail(claimed, f"The original could not be decoded: {str(error)[:200]}")
        return "failed"
    for result in made:
        row = rows.get(result.size)
        if row is None:
            continue
        key = (
            f"photos/derivatives/{photo.public_id.hex[:2]}/{photo.public_id.hex}/{result.size}.jpg"
        )
        try:
            _put(key, result.data)
        except OSError as error:
            raise TransientError(f"could not store a derivative: {error}") from error
        claimed.filter(pk=row.pk).update(
            status=Status.READY,
            reason="",
            storage_key=key,
            width=result.width,
            height=result.height,
            size_bytes=len(result.data),
            version=DERIVATIVE_VERSION,
        )
    if Derivative.Size.SCREEN in rows:
        _send_quality(photo_id)  # scored on the new screen derivative
        _send_colour(photo_id)  # white balance and redness, from the same derivative
    if Derivative.Size.LARGE in rows:
        course_sheets_refresh(photo=photo)
        for comparison in Comparison.objects.filter(
            Q(before_id=photo_id) | Q(after_id=photo_id) | Q(middle_id=photo_id)
        ):
            with transaction.atomic():
                _queue_sheet(comparison)
    return "ready"


def derivatives_release(*, photo_id: int, claim: str) -> None:
    """Gives back the rows `claim` still holds: pending again, for its retry (or anyone)."""
    DERIVATIVE_WORK.release(Derivative.objects.filter(photo_id=photo_id), claim)


def derivatives_mark_failed(*, photo_id: int, reason: str) -> None:
    DERIVATIVE_WORK.fail(Derivative.objects.filter(photo_id=photo_id), reason)


def photo_clinical_date(photo: Photo) -> dt.date:
    """The date a photo belongs to clinically: its session's day. The camera's clock may be
    anything (a camera left on 2008 made an "after" older than its "before"), so EXIF only
    raises a flag (capture_date_warning); a session with no day yet: the day of the upload."""
    return photo.session.day or timezone.localdate(photo.uploaded_at)


def capture_date_warning(photo: Photo) -> str | None:
    """A message for the clinician when the camera's date is far from the session's day."""
    if photo.captured_at is None:
        return None
    taken = timezone.localdate(photo.captured_at)
    clinical = photo_clinical_date(photo)
    if abs((taken - clinical).days) <= settings.PHOTOS_CAPTURE_DATE_TOLERANCE_DAYS:
        return None
    return (
        f"The camera dated this photo {formats.date_format(taken, 'j M Y')}, but its session "
        f"is on {formats.date_format(clinical, 'j M Y')}; it is filed under the session's date. "
        "Check that it belongs to this session."
    )


def _caption(photo: Photo, heading: str) -> list[str]:
    session = photo.session
    level = session.depth_level.name if session.depth_level_id else "level not recorded"
    return [
        f"{heading} · {formats.date_format(photo_clinical_date(photo), 'j M Y')}",
        f"Session {session.number} of {session.plan.session_count} · {photo.get_phase_display()}",
        f"{session.plan.modality.name} · {level}",
        f"{photo.body_area.name} · {photo.view_name}",
    ]


def comparison_sheet_make(*, comparison_id: int, claim: str | None = None) -> str:
    """Renders the comparison as JPEG and PDF from the stored large derivatives, under
    `claim` as photo_derivatives_make does."""
    claim = claim or new_claim()
    this = Comparison.objects.filter(pk=comparison_id)
    if not SHEET_WORK.claim(this, claim):
        return "busy" if SHEET_WORK.unfinished(this) else "nothing to do"
    comparison = Comparison.objects.select_related("plan__modality", "body_area").get(
        pk=comparison_id
    )
    photos = {
        p.pk: p
        for p in Photo.objects.filter(pk__in=comparison.photo_ids).select_related(
            "session__plan__modality", "session__depth_level", "body_area"
        )
    }
    larges = {
        d.photo_id: d
        for d in Derivative.objects.filter(
            photo_id__in=comparison.photo_ids, size=Derivative.Size.LARGE, status=Status.READY
        )
    }
    if len(larges) < len(comparison.photo_ids):
        # Not all large derivatives yet: the derivative task sends this again when they are.
        SHEET_WORK.release(this, claim)
        return "waiting"
    headings = {comparison.before_id: "Baseline" if comparison.middle_id else "Before"}
    if comparison.middle_id:
        headings[comparison.middle_id] = "Mid-course"
    headings[comparison.after_id] = "Latest" if comparison.middle_id else "After"
    # Each later photo is drawn aligned onto the before photo (its pixels moved, never its
    # files); one that could not be aligned is drawn as taken and its caption says so.
    before = photos[comparison.before_id]
    panels = []
    try:
        for photo_id in comparison.photo_ids:
            with default_storage.open(larges[photo_id].storage_key, "rb") as handle:
                data = handle.read()
            caption = _caption(photos[photo_id], headings[photo_id])
            panel = imaging.Panel(data, caption)
            if photo_id != comparison.before_id:
                alignment = alignment_for_sheet(reference=before, moving=photos[photo_id])
                if alignment is None:
                    caption.append("Not aligned: no screen-size derivative; shown as taken.")
                else:
                    caption.append(alignment.summary)
                    if alignment.ok:
                        panel.onto = _as_science(alignment).matrix().ravel().tolist()
                        panel.reference_size = (larges[before.pk].width, larges[before.pk].height)
            panels.append(panel)
    except OSError as error:
        raise TransientError(f"could not read a derivative: {error}") from error
    title = (
        f"{comparison.body_area.name} · {comparison.get_view_display()}"
        f"{': ' + comparison.view_label if comparison.view_label else ''}"
        f" · {comparison.get_kind_display().lower()}"
    )
    subtitle = f"{comparison.plan.modality.name} course · patient record {comparison.patient_id}"
    try:
        jpeg, pdf = imaging.render_sheet(
            panels,
            title=title,
            subtitle=subtitle,
            clinic_name=settings.CLINIC_NAME,
            paper=settings.PHOTOS_SHEET_PAPER,
        )
    except (OSError, ValueError) as error:
        SHEET_WORK.fail(this, f"The sheet could not be drawn: {error}")
        return "failed"
    base = f"photos/sheets/{comparison.pk}/{comparison.kind}"
    _put_sheet(base, jpeg, pdf)
    SHEET_WORK.claimed(this, claim).update(
        sheet_status=Status.READY,
        sheet_jpeg_key=f"{base}.jpg",
        sheet_pdf_key=f"{base}.pdf",
        sheet_version=SHEET_VERSION,
        sheet_reason="",
    )
    return "ready"


def comparison_sheet_release(*, comparison_id: int, claim: str) -> None:
    SHEET_WORK.release(Comparison.objects.filter(pk=comparison_id), claim)


def comparison_sheet_mark_failed(*, comparison_id: int, reason: str) -> None:
    SHEET_WORK.fail(Comparison.objects.filter(pk=comparison_id), reason)


# --- capture quality and alignment (called by the worker) ---------------------------------
# photos.science (OpenCV, NumPy) is imported inside these functions: the web process imports
# this module for the uploads and pages and never needs it.


def quality_thresholds():
    from . import science

    return science.Thresholds(
        min_sharpness=settings.PHOTOS_QUALITY_MIN_SHARPNESS,
        min_isotropy=settings.PHOTOS_QUALITY_MIN_ISOTROPY,
        max_clipped_highlights=settings.PHOTOS_QUALITY_MAX_CLIPPED_HIGHLIGHTS,
        max_clipped_shadows=settings.PHOTOS_QUALITY_MAX_CLIPPED_SHADOWS,
        max_colour_cast=settings.PHOTOS_QUALITY_MAX_COLOUR_CAST,
        max_framing_scale=settings.PHOTOS_QUALITY_MAX_FRAMING_SCALE,
        max_framing_offset=settings.PHOTOS_QUALITY_MAX_FRAMING_OFFSET,
        max_framing_rotation=settings.PHOTOS_QUALITY_MAX_FRAMING_ROTATION,
        max_exposure_difference_ev=settings.PHOTOS_QUALITY_MAX_EXPOSURE_EV,
        min_sharpness_ratio=settings.PHOTOS_QUALITY_MIN_SHARPNESS_RATIO,
    )


def _screen_pixels(photo_id: int):
    """The photo's screen derivative (1024 px) as an RGB array; None when it is not ready."""
    from . import science

    row = Derivative.objects.filter(
        photo_id=photo_id, size=Derivative.Size.SCREEN, status=Status.READY
    ).first()
    if row is None:
        return None
    try:
        with default_storage.open(row.storage_key, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise TransientError(f"could not read a derivative: {error}") from error
    return science.load_rgb(data)


def photo_baseline(photo: Photo) -> Photo | None:
    """The first "before" reference photo of the same patient, area and view: what later
    photos of that view are framed and compared against."""
    return (
        Photo.objects.filter(
            patient_id=photo.patient_id,
            body_area_id=photo.body_area_id,
            view=photo.view,
            view_label=photo.view_label,
            phase=Phase.BEFORE,
            is_reference=True,
        )
        .in_order()
        .first()
    )


def alignment_make(*, reference: Photo, moving: Photo, pixels: dict | None = None):
    """The stored alignment of `moving` onto `reference`, estimated now when missing or made
    by an older ALIGNMENT_VERSION; None while either screen derivative is not ready.

    `pixels` (photo id -> RGB array) spares reading derivatives the caller already holds.
    A failed estimate is stored as a failure with its reason, never as an identity."""
    from . import science

    stored = Alignment.objects.filter(
        reference=reference,
        moving=moving,
        source=Alignment.Source.WORKER,
        version=ALIGNMENT_VERSION,
    ).first()
    if stored is not None:
        return stored
    pixels = pixels or {}
    reference_pixels = pixels.get(reference.pk)
    if reference_pixels is None:
        reference_pixels = _screen_pixels(reference.pk)
    moving_pixels = pixels.get(moving.pk)
    if moving_pixels is None:
        moving_pixels = _screen_pixels(moving.pk)
    if reference_pixels is None or moving_pixels is None:
        return None
    found = science.align(reference_pixels, moving_pixels)
    alignment, _ = Alignment.objects.update_or_create(
        reference=reference,
        moving=moving,
        source=Alignment.Source.WORKER,
        defaults={
            "ok": found.ok,
            "reason": found.reason[:300],
            "scale": found.scale,
            "rotation_degrees": found.rotation_degrees,
            "tx": found.tx,
            "ty": found.ty,
            "inliers": found.inliers,
            "matches": found.matches,
            "residual_px": found.residual_px,
            "analysed_side": found.analysed_side,
            "version": ALIGNMENT_VERSION,
            "made_at": timezone.now(),
        },
    )
    return alignment


def alignment_for_sheet(*, reference: Photo, moving: Photo):
    """What a sheet draws `moving` with: a clinician's nudge when there is one, else the
    worker's estimate (made now when missing, as alignment_make)."""
    manual = Alignment.objects.filter(
        reference=reference, moving=moving, source=Alignment.Source.MANUAL
    ).first()
    return manual or alignment_make(reference=reference, moving=moving)


# Sane bounds of a hand nudge: beyond them the "after" shows a different picture, not the
# same area moved a little (the worker's own estimates stop at science.SCALE_RANGE too).
NUDGE_SCALE = (0.5, 2.0)
NUDGE_MAX_ROTATION = 45.0


def upright_size(photo: Photo) -> tuple[int, int]:
    """The photo's width and height as it is shown (EXIF orientations 5-8 turn it a quarter)."""
    if photo.orientation in (5, 6, 7, 8):
        return photo.height, photo.width
    return photo.width, photo.height


def alignment_nudge(
    *,
    comparison: Comparison,
    scale: float,
    rotation_degrees: float,
    tx: float,
    ty: float,
    by,
    request=None,
) -> Alignment:
    """A clinician's own alignment of the comparison's "after" onto its "before", stored
    beside the worker's estimate (kept) and drawn in the sheet from now on."""
    values = (scale, rotation_degrees, tx, ty)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise ValidationError("Scale, rotation and offset must be numbers.")
    if not NUDGE_SCALE[0] <= scale <= NUDGE_SCALE[1]:
        raise ValidationError(
            f"A scale of {scale:.2f} is outside {NUDGE_SCALE[0]}–{NUDGE_SCALE[1]}: "
            "that is another picture, not the same one moved."
        )
    if abs(rotation_degrees) > NUDGE_MAX_ROTATION:
        raise ValidationError(
            f"A turn of {rotation_degrees:+.0f}° is more than ±{NUDGE_MAX_ROTATION:.0f}°."
        )
    reference, moving = comparison.before, comparison.after
    # Normalised coordinates (photos.science): the "after"'s centre must land on the "before".
    moving_w, moving_h = upright_size(moving)
    reference_w, reference_h = upright_size(reference)
    cx, cy = moving_w / 2 / max(moving_w, moving_h), moving_h / 2 / max(moving_w, moving_h)
    angle = math.radians(rotation_degrees)
    x = scale * (math.cos(angle) * cx - math.sin(angle) * cy) + tx
    y = scale * (math.sin(angle) * cx + math.cos(angle) * cy) + ty
    long_side = max(reference_w, reference_h)
    if not (0 <= x <= reference_w / long_side and 0 <= y <= reference_h / long_side):
        raise ValidationError(
            "That moves the centre of the after photo off the before photo: nudge it back."
        )
    with transaction.atomic():
        alignment, _ = Alignment.objects.update_or_create(
            reference=reference,
            moving=moving,
            source=Alignment.Source.MANUAL,
            defaults={
                "ok": True,
                "reason": "",
                "scale": scale,
                "rotation_degrees": rotation_degrees,
                "tx": tx,
                "ty": ty,
                "inliers": 0,
                "matches": 0,
                "residual_px": None,
                "analysed_side": 0,
                "version": ALIGNMENT_VERSION,
                "made_by": by,
                "made_at": timezone.now(),
            },
        )
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=comparison,
            request=request,
            detail=f"alignment by hand: scale {scale:.3f}, turned {rotation_degrees:+.2f}, "
            f"moved {tx:+.4f},{ty:+.4f}",
        )
        _queue_sheet(comparison)
    return alignment


def alignment_nudge_undo(*, comparison: Comparison, by, request=None) -> bool:
    """Back to the worker's estimate: the hand-made alignment of the pair goes, the sheet is
    drawn again. False when there was none."""
    with transaction.atomic():
        deleted, _ = Alignment.objects.filter(
            reference_id=comparison.before_id,
            moving_id=comparison.after_id,
            source=Alignment.Source.MANUAL,
        ).delete()
        if not deleted:
            return False
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=comparison,
            request=request,
            detail="alignment by hand removed: the worker's estimate is used",
        )
        _queue_sheet(comparison)
    return True


def _as_science(alignment: Alignment):
    from . import science

    return science.Alignment(
        ok=alignment.ok,
        reason=alignment.reason,
        scale=alignment.scale,
        rotation_degrees=alignment.rotation_degrees,
        tx=alignment.tx,
        ty=alignment.ty,
        inliers=alignment.inliers,
        matches=alignment.matches,
        residual_px=alignment.residual_px,
        analysed_side=alignment.analysed_side,
    )


def _measured_photo(photo_id: int, result_model, failed: dict):
    """The photo and its screen pixels, for a worker measure that stores one `result_model`
    row per photo; or, with no pixels, what the task answers: "nothing to do" (no photo),
    "failed" (its screen derivative failed: the row says so, with `failed`), or "waiting" (it
    is sent again when the derivative is made)."""
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        return None, None, "nothing to do"
    pixels = _screen_pixels(photo_id)
    if pixels is not None:
        return photo, pixels, ""
    if not Derivative.objects.filter(
        photo_id=photo_id, size=Derivative.Size.SCREEN, status=Status.FAILED
    ).exists():
        return photo, None, "waiting"
    result_model.objects.update_or_create(photo=photo, defaults={"status": Status.FAILED, **failed})
    return photo, None, "failed"


def photo_quality_make(*, photo_id: int) -> str:
    """Scores the photo's capture quality from its screen derivative and, for a photo that is
    not its view's baseline, its framing against the baseline. Safe to run twice: the score is
    a function of the stored derivatives, written over the previous one."""
    from . import science

    photo, pixels, outcome = _measured_photo(
        photo_id,
        PhotoQuality,
        {
            "reason": "The photo could not be decoded, so it could not be scored.",
            "findings": [],
            "retake": True,
            "version": QUALITY_VERSION,
            "scored_at": timezone.now(),
        },
    )
    if outcome:
        return outcome
    thresholds = quality_thresholds()
    quality = science.assess(pixels, thresholds)
    baseline = photo_baseline(photo)
    framing_alignment = None
    if baseline is None or baseline.pk == photo.pk:
        finding = science.framing(
            None, moving_size=(1, 1), reference_size=(1, 1), thresholds=thresholds
        )
    else:
        baseline_pixels = _screen_pixels(baseline.pk)
        if baseline_pixels is None:
            finding = science.Finding(
                "framing",
                science.UNKNOWN,
                "The baseline photo is not ready, so the framing was not checked.",
            )
        else:
            framing_alignment = alignment_make(
                reference=baseline,
                moving=photo,
                pixels={photo.pk: pixels, baseline.pk: baseline_pixels},
            )
            finding = science.framing(
                _as_science(framing_alignment),
                moving_size=(pixels.shape[1], pixels.shape[0]),
                reference_size=(baseline_pixels.shape[1], baseline_pixels.shape[0]),
                thresholds=thresholds,
            )
            quality.findings += [
                science.exposure_against(
                    baseline_pixels, pixels, _as_science(framing_alignment), thresholds
                ),
                science.sharpness_against(baseline_pixels, pixels, thresholds),
            ]
    quality.findings.append(finding)
    PhotoQuality.objects.update_or_create(
        photo=photo,
        defaults={
            "status": Status.READY,
            "reason": "",
            "sharpness": quality.sharpness,
            "isotropy": quality.isotropy,
            "clipped_shadows": quality.clipped_shadows,
            "clipped_highlights": quality.clipped_highlights,
            "cast_a": quality.cast_a,
            "cast_b": quality.cast_b,
            "baseline": baseline if baseline and baseline.pk != photo.pk else None,
            "framing": framing_alignment,
            "findings": [f.as_dict() for f in quality.findings],
            "retake": quality.retake,
            "version": QUALITY_VERSION,
            "scored_at": timezone.now(),
        },
    )
    if baseline is not None and baseline.pk == photo.pk:
        # Later photos scored while this baseline had no derivative yet: frame them now.
        for waiting in PhotoQuality.objects.filter(
            photo__patient_id=photo.patient_id,
            photo__body_area_id=photo.body_area_id,
            photo__view=photo.view,
            photo__view_label=photo.view_label,
            baseline__isnull=True,
            status=Status.READY,
        ).exclude(photo=photo):
            _send_quality(waiting.photo_id)
    if not quality.retake:
        _reference_prefer_good(photo)
    return "retake" if quality.retake else "scored"


# --- regeneration ---------------------------------------------------------------------------


def derivatives_requeue_outdated(*, send: bool = True) -> tuple[int, int]:
    """Missing, failed, outdated or dead-claimed derivatives and sheets back to pending (and
    queued); what a live task holds is left to it (`work_in_progress` counts it)."""
    photo_ids: set[int] = set()
    derivatives = Derivative.objects.all()
    for derivative in derivatives.exclude(pk__in=DERIVATIVE_WORK.live(derivatives)).only(
        "id", "photo_id", "status", "version", "storage_key"
    ):
        outdated = derivative.status != Status.READY or derivative.version < DERIVATIVE_VERSION
        if outdated or not default_storage.exists(derivative.storage_key):
            photo_ids.add(derivative.photo_id)
    missing_rows = Photo.objects.exclude(pk__in=Derivative.objects.values("photo_id")).values_list(
        "pk", flat=True
    )
    for photo_id in missing_rows:
        Derivative.objects.bulk_create(
            [Derivative(photo_id=photo_id, size=s) for s in Derivative.Size.values],
            ignore_conflicts=True,
        )
        photo_ids.add(photo_id)
    comparison_ids: set[int] = set()
    comparisons = Comparison.objects.all()
    for comparison in comparisons.exclude(pk__in=SHEET_WORK.live(comparisons)):
        outdated = (
            comparison.sheet_status != Status.READY or comparison.sheet_version < SHEET_VERSION
        )
        if outdated or not default_storage.exists(comparison.sheet_jpeg_key or "-"):
            comparison_ids.add(comparison.pk)
    DERIVATIVE_WORK.requeue(Derivative.objects.filter(photo_id__in=photo_ids))
    SHEET_WORK.requeue(Comparison.objects.filter(pk__in=comparison_ids))
    course_sheets = CourseSheet.objects.exclude(pk__in=SHEET_WORK.live(CourseSheet.objects.all()))
    outdated_courses = list(
        course_sheets.filter(
            ~Q(sheet_status=Status.READY) | Q(sheet_version__lt=COURSE_SHEET_VERSION)
        ).values_list("pk", flat=True)
    )
    SHEET_WORK.requeue(CourseSheet.objects.filter(pk__in=outdated_courses))
    if send:
        for sheet_id in outdated_courses:
            _send_course_sheet(sheet_id)
    if send:
        for photo_id in sorted(photo_ids):
            _send_derivatives(photo_id)
        for comparison_id in sorted(comparison_ids):
            _send_sheet(comparison_id)
    return len(photo_ids), len(comparison_ids)


def _screen_ready_without(made_before: dt.datetime | None, **current) -> list[int]:
    """Photos whose screen derivative is ready and current (made before `made_before`, when
    given) but lack a current result of the worker's (`current`: the lookup of one)."""
    screens = Derivative.objects.filter(
        photo=OuterRef("pk"),
        size=Derivative.Size.SCREEN,
        status=Status.READY,
        version__gte=DERIVATIVE_VERSION,
    )
    if made_before is not None:
        screens = screens.filter(updated_at__lt=made_before)
    photos = Photo.objects.filter(Exists(screens)).exclude(**current)
    return list(photos.order_by("pk").values_list("pk", flat=True))


def quality_unscored(*, made_before: dt.datetime | None = None) -> list[int]:
    """Photos whose screen derivative is ready (and current) but whose score is missing or
    from an older QUALITY_VERSION: their scoring task was lost, or the scoring changed.
    `made_before`: only derivatives made before then (a younger one's task may be on its way).
    """
    return _screen_ready_without(made_before, quality__version__gte=QUALITY_VERSION)


def quality_resend_outdated() -> int:
    """Sends the scoring of every photo `quality_unscored` finds (photos_regenerate)."""
    return sum(_send_quality(photo_id) for photo_id in quality_unscored())


def work_in_progress() -> tuple[int, int]:
    """Photos and sheets being made right now (under a claim whose task may be alive)."""
    photos = DERIVATIVE_WORK.live(Derivative.objects.all()).values("photo_id").distinct()
    return photos.count(), SHEET_WORK.live(Comparison.objects.all()).count()


# --- colour: white balance and redness ----------------------------------------------------


REGION_KEYS = ("x", "y", "w", "h")


def region_clean(value, *, name: str) -> dict | None:
    """A region as stored on a photo ({"x", "y", "w", "h"}: fractions of the upright photo),
    or None to clear it; anything else is refused with a message naming `name`."""
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict) or set(value) != set(REGION_KEYS):
        raise ValidationError({name: "A region is x, y, width and height."})
    try:
        x, y, w, h = (float(value[key]) for key in REGION_KEYS)
    except (TypeError, ValueError):
        raise ValidationError({name: "The region's position and size must be numbers."}) from None
    if not all(0 <= v <= 1 for v in (x, y, w, h)):
        raise ValidationError({name: "The region must lie within the photo (0 to 100 %)."})
    if w < 0.01 or h < 0.01:
        raise ValidationError({name: "The region is too small: mark at least 1 % each way."})
    if x + w > 1.0001 or y + h > 1.0001:
        raise ValidationError({name: "The region runs off the photo: make it smaller."})
    return {"x": round(x, 4), "y": round(y, 4), "w": round(w, 4), "h": round(h, 4)}


def photo_regions_set(
    *, photo: Photo, neutral_patch: dict | None, redness_region: dict | None, by, request=None
) -> Photo:
    """The clinician's neutral patch (white balance when no grey card is found... or when
    the one found is wrong: the clinician's pick wins) and the region whose redness is
    measured; the worker measures the colour again."""
    neutral_patch = region_clean(neutral_patch, name="neutral_patch")
    redness_region = region_clean(redness_region, name="redness_region")
    with transaction.atomic():
        before = (photo.neutral_patch, photo.redness_region)
        photo.neutral_patch, photo.redness_region = neutral_patch, redness_region
        photo.save(update_fields=["neutral_patch", "redness_region"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=photo,
            request=request,
            detail=f"colour regions: neutral {neutral_patch or '-'}, redness "
            f"{redness_region or '-'} (were {before[0] or '-'}, {before[1] or '-'})",
        )
        PhotoColour.objects.filter(photo=photo).update(status=Status.PENDING)
        from .tasks import measure_colour

        task_send_on_commit(measure_colour, photo.pk)
    return photo


def photo_colour_make(*, photo_id: int) -> str:
    """White balance and redness of the photo from its screen derivative (photos.colour):
    the neutral reference is the clinician's patch when one is marked, else a grey card found
    in the photo, else none (measured as taken, and the page says so). Safe to run twice."""
    from . import colour

    photo, pixels, outcome = _measured_photo(
        photo_id,
        PhotoColour,
        {
            "reason": "The photo could not be decoded, so its colour was not measured.",
            "version": COLOUR_VERSION,
            "measured_at": timezone.now(),
        },
    )
    if outcome:
        return outcome
    balance, neutral, gains, reason = PhotoColour.Balance.NONE, None, None, ""
    picked = colour.Region.from_dict(photo.neutral_patch)
    if picked is not None:
        neutral, balance = picked, PhotoColour.Balance.CLINICIAN
    elif (card := colour.find_grey_card(pixels)) is not None:
        neutral, balance = card, PhotoColour.Balance.GREY_CARD
    if neutral is not None:
        rows, columns = neutral.pixels(pixels.shape)
        try:
            gains = colour.gains_from_patch(pixels[rows, columns])
        except ValueError as error:
            balance, neutral, reason = PhotoColour.Balance.NONE, None, str(error)
    try:
        measured = colour.redness(
            colour.balanced(pixels, gains), colour.Region.from_dict(photo.redness_region)
        )
    except ValueError as error:
        measured, reason = None, str(error)
    PhotoColour.objects.update_or_create(
        photo=photo,
        defaults={
            "status": Status.READY if measured else Status.FAILED,
            "reason": reason[:300],
            "balance": balance,
            "neutral_region": neutral.as_dict() if neutral else None,
            "gains": [round(g, 5) for g in gains] if gains else None,
            "redness": round(measured.value, 3) if measured else None,
            "redness_method": measured.description[:120] if measured else "",
            "redness_region": measured.region.as_dict() if measured else None,
            "version": COLOUR_VERSION,
            "measured_at": timezone.now(),
        },
    )
    course_sheets_refresh(photo=photo)
    return "measured" if measured else "failed"


def colour_unmeasured(*, made_before: dt.datetime | None = None) -> list[int]:
    """Photos with a ready screen derivative but no current colour measure (as
    quality_unscored)."""
    return _screen_ready_without(made_before, colour__version__gte=COLOUR_VERSION)


def colour_resend_outdated() -> int:
    return sum(_send_colour(photo_id) for photo_id in colour_unmeasured())


# --- course sheets ---------------------------------------------------------------------------

COURSE_SHEET_MAX_PHOTOS = 12
PUBLIC_PURPOSES = (Purpose.EDUCATION, Purpose.MARKETING)


def course_photos(*, plan, body_area_id: int, view: str, view_label: str, purpose: str):
    """The photos a course sheet of this view shows: the baseline (the first "before") and,
    for each session, its latest "after" (else its latest "before"), in time order; only
    photos consented for `purpose`. Past COURSE_SHEET_MAX_PHOTOS, the baseline, the latest and
    evenly spaced ones between."""
    photos = list(
        Photo.objects.filter(
            session__plan=plan, body_area_id=body_area_id, view=view, view_label=view_label
        )
        .consented_for(purpose)
        .select_related("session__plan__modality", "session__depth_level", "body_area")
        .order_by("session__number", "id")
    )
    befores = [p for p in photos if p.phase == Phase.BEFORE]
    if not befores:
        return []
    baseline = befores[0]
    by_session: dict[int, Photo] = {}
    for photo in photos:
        if photo.session.number < baseline.session.number or photo.pk == baseline.pk:
            continue
        chosen = by_session.get(photo.session.number)
        # An after beats a before of the same session; a later upload beats an earlier one.
        if chosen is None or photo.phase == Phase.AFTER or chosen.phase == Phase.BEFORE:
            by_session[photo.session.number] = photo
    if by_session.get(baseline.session.number, baseline).phase == Phase.BEFORE:
        by_session.pop(baseline.session.number, None)
    series = [baseline] + [by_session[n] for n in sorted(by_session)]
    if len(series) > COURSE_SHEET_MAX_PHOTOS:
        step = (len(series) - 1) / (COURSE_SHEET_MAX_PHOTOS - 1)
        series = [series[round(i * step)] for i in range(COURSE_SHEET_MAX_PHOTOS)]
    return series


def course_sheet_request(
    *,
    plan,
    body_area,
    view: str,
    view_label: str = "",
    purpose: str = Purpose.CLINICAL,
    paper: str | None = None,
    by,
    request=None,
) -> CourseSheet:
    """A course sheet of one view of the course for one purpose, made (or remade) by the
    worker. Refused when no photo of the view is consented for the purpose."""
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": "Choose one of the consent purposes."})
    paper = paper or settings.PHOTOS_SHEET_PAPER
    if paper not in CourseSheet.Paper.values:
        raise ValidationError({"paper": "Choose A4 or Letter paper."})
    if view not in View.values:
        raise ValidationError({"view": "Choose one of the standard views."})
    if not course_photos(
        plan=plan, body_area_id=body_area.pk, view=view, view_label=view_label, purpose=purpose
    ):
        raise ValidationError(
            f"No baseline photo of this view is consented for {Purpose(purpose).label.lower()}"
            ", so no sheet can be made for it."
        )
    with transaction.atomic():
        sheet, created = CourseSheet.objects.select_for_update().get_or_create(
            plan=plan,
            body_area=body_area,
            view=view,
            view_label=view_label,
            purpose=purpose,
            defaults={"paper": paper, "requested_by": by},
        )
        if not created:
            sheet.paper, sheet.requested_by = paper, by
            sheet.save(update_fields=["paper", "requested_by"])
        audit_log(
            actor=by,
            action=Action.CREATE if created else Action.CHANGE,
            obj=sheet,
            patient=plan.patient_id,
            request=request,
            detail=f"course sheet for {purpose} ({paper})",
        )
        _queue_course_sheet(sheet)
    return sheet


def _queue_course_sheet(sheet: CourseSheet) -> None:
    SHEET_WORK.requeue(CourseSheet.objects.filter(pk=sheet.pk))
    sheet.sheet_status = Status.PENDING
    _send_course_sheet_on_commit(sheet.pk)


def course_sheets_refresh(*, photo: Photo) -> int:
    """The course sheets of this photo's view are made again (a photo added, its colour or
    derivatives made): the worker redraws only those whose inputs changed."""
    sheets = CourseSheet.objects.filter(
        plan_id=photo.session.plan_id,
        body_area_id=photo.body_area_id,
        view=photo.view,
        view_label=photo.view_label,
    ).exclude(pk__in=SHEET_WORK.live(CourseSheet.objects.all()))
    count = 0
    with transaction.atomic():
        for sheet in sheets:
            _queue_course_sheet(sheet)
            count += 1
    return count


def _delete_files(*keys: str) -> None:
    for key in keys:
        if key and default_storage.exists(key):
            default_storage.delete(key)


def course_sheets_withdraw(*, photo: Photo, purposes: list[str], by, request=None) -> int:
    """Consent withdrawn for `purposes`: every course sheet made for one of them that shows
    the photo loses its files at once (nothing of it can be downloaded from now on) and is
    redrawn without the photo, or stays empty when no photo is left."""
    sheets = [
        sheet
        for sheet in CourseSheet.objects.filter(
            plan_id=photo.session.plan_id, purpose__in=purposes
        ).select_related("plan")
        if photo.pk in sheet.photo_ids
    ]
    for sheet in sheets:
        _delete_files(sheet.sheet_jpeg_key, sheet.sheet_pdf_key)
        CourseSheet.objects.filter(pk=sheet.pk).update(
            sheet_jpeg_key="", sheet_pdf_key="", inputs="", photo_ids=[]
        )
        audit_log(
            actor=by,
            action=Action.DELETE,
            obj=sheet,
            request=request,
            detail=f"course sheet for {sheet.purpose} removed: consent withdrawn for photo "
            f"{photo.pk}; redrawn without it",
        )
        _queue_course_sheet(sheet)
    return len(sheets)


def _alignment_inputs(alignment: Alignment | None) -> list | None:
    if alignment is None:
        return None
    return [alignment.ok, alignment.scale, alignment.rotation_degrees, alignment.tx, alignment.ty]


def _course_inputs(sheet: CourseSheet, photos, alignments, colours, cover: str) -> str:
    """A fingerprint of everything a course sheet draws: any change means drawing it again."""
    import hashlib
    import json

    described = {
        "version": COURSE_SHEET_VERSION,
        "paper": sheet.paper,
        "purpose": sheet.purpose,
        "cover": cover,
        "clinic": settings.CLINIC_NAME,
        "photos": [
            [
                p.pk,
                p.sha256,
                str(photo_clinical_date(p)),
                p.session.number,
                p.phase,
                _alignment_inputs(alignments.get(p.pk)),
                [c.gains, c.redness] if (c := colours.get(p.pk)) else None,
            ]
            for p in photos
        ],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def course_sheet_make(*, sheet_id: int, claim: str | None = None) -> str:
    """Draws a course sheet (JPEG and an A4/Letter PDF with text) from the stored large
    derivatives, each photo aligned onto the baseline and white balanced, under `claim` as
    comparison_sheet_make does. Redraws only when its inputs changed."""
    from . import pages

    claim = claim or new_claim()
    this = CourseSheet.objects.filter(pk=sheet_id)
    if not SHEET_WORK.claim(this, claim):
        return "busy" if SHEET_WORK.unfinished(this) else "nothing to do"
    sheet = CourseSheet.objects.select_related("plan__modality", "body_area").get(pk=sheet_id)
    photos = course_photos(
        plan=sheet.plan,
        body_area_id=sheet.body_area_id,
        view=sheet.view,
        view_label=sheet.view_label,
        purpose=sheet.purpose,
    )
    if not photos:
        _delete_files(sheet.sheet_jpeg_key, sheet.sheet_pdf_key)
        SHEET_WORK.claimed(this, claim).update(
            sheet_status=Status.FAILED,
            sheet_reason=f"No photo of this view is consented for {sheet.get_purpose_display()}"
            " any more: the sheet was removed.",
            sheet_jpeg_key="",
            sheet_pdf_key="",
            photo_ids=[],
            inputs="",
        )
        return "removed"
    ids = [p.pk for p in photos]
    larges = {
        d.photo_id: d
        for d in Derivative.objects.filter(
            photo_id__in=ids, size=Derivative.Size.LARGE, status=Status.READY
        )
    }
    if len(larges) < len(ids):
        broken = Derivative.objects.filter(
            photo_id__in=ids, size=Derivative.Size.LARGE, status=Status.FAILED
        ).values_list("photo_id", flat=True)
        if broken:
            # Waiting would be for ever (and the sweep would send it again and again).
            numbers = ", ".join(str(ids.index(photo_id) + 1) for photo_id in broken)
            SHEET_WORK.fail(
                this,
                f"Photo {numbers} of the series could not be decoded; replace it or make "
                "its derivatives again (photos_regenerate).",
            )
            return "failed"
        SHEET_WORK.release(this, claim)  # sent again as the derivatives are made
        return "waiting"
    baseline = photos[0]
    alignments = {}
    for photo in photos[1:]:
        if (found := alignment_make(reference=baseline, moving=photo)) is not None:
            alignments[photo.pk] = found
    colours = {
        c.photo_id: c for c in PhotoColour.objects.filter(photo_id__in=ids, status=Status.READY)
    }
    public = sheet.purpose in PUBLIC_PURPOSES
    cover_how = settings.PHOTOS_PUBLICATION_COVER if public else ""
    inputs = _course_inputs(sheet, photos, alignments, colours, cover_how)
    if (
        inputs == sheet.inputs
        and sheet.sheet_version == COURSE_SHEET_VERSION
        and default_storage.exists(sheet.sheet_pdf_key or "-")
        and default_storage.exists(sheet.sheet_jpeg_key or "-")
    ):
        SHEET_WORK.claimed(this, claim).update(sheet_status=Status.READY, sheet_reason="")
        return "unchanged"
    box = 720 if len(photos) <= 4 else 480 if len(photos) <= 9 else 360
    reference_size = (larges[baseline.pk].width, larges[baseline.pk].height)
    is_face = _is_face_area(sheet.body_area)
    drawn, notes, trend = [], [], []
    try:
        for index, photo in enumerate(photos):
            with default_storage.open(larges[photo.pk].storage_key, "rb") as handle:
                data = handle.read()
            measured = colours.get(photo.pk)
            alignment = alignments.get(photo.pk)
            aligned = alignment is not None and alignment.ok
            image, note = pages.course_panel(
                data,
                box=box,
                onto=_as_science(alignment).matrix().ravel().tolist() if aligned else None,
                reference_size=reference_size if aligned else None,
                gains=measured.gains if measured is not None else None,
                cover=cover_how,
                is_face=is_face,
            )
            if note:
                notes.append(f"Photo {index + 1}: {note}")
            day = photo_clinical_date(photo)
            heading = (
                "Baseline"
                if index == 0
                else "Latest"
                if index == len(photos) - 1
                else (f"Session {photo.session.number}")
            )
            caption = [
                f"{heading} · {formats.date_format(day, 'j M Y')}",
                f"Session {photo.session.number} of {photo.session.plan.session_count} · "
                f"{photo.get_phase_display()}",
            ]
            if measured is not None and measured.redness is not None:
                caption.append(f"Redness a* {measured.redness:.1f}")
                trend.append((formats.date_format(day, "j M"), measured.redness))
            else:
                caption.append("Redness not measured")
            if index and (alignment is None or not alignment.ok):
                caption.append("Not aligned: shown as taken")
            drawn.append((image, caption))
    except OSError as error:
        raise TransientError(f"could not read a derivative: {error}") from error
    balanced = sum(1 for p in photos if (c := colours.get(p.pk)) and c.gains)
    first, last = photo_clinical_date(photos[0]), photo_clinical_date(photos[-1])
    lines = [
        f"{sheet.plan.modality.name} course · patient record {sheet.plan.patient_id} · "
        f"{len(photos)} photos, {formats.date_format(first, 'j M Y')} to "
        f"{formats.date_format(last, 'j M Y')}",
        f"Consent purpose: {sheet.get_purpose_display()}; every photo shown is consented for it."
        + (" Eyes covered." if public else ""),
        f"Aligned onto the baseline; {balanced} of {len(photos)} white balanced from a neutral "
        "reference (the others as taken).",
        *notes,
    ]
    title = f"{sheet.body_area.name} · {sheet.view_name} · course"
    footer = [
        f"Made {formats.date_format(timezone.localdate(), 'j M Y')} for "
        f"{sheet.get_purpose_display().lower()} use only. Originals unchanged.",
        imaging.SHEET_FOOTER if not public else "Identifying features covered.",
    ]
    try:
        page = pages.course_page(
            drawn,
            title=title,
            lines=lines,
            clinic_name=settings.CLINIC_NAME,
            paper=sheet.paper,
            trend=trend,
            footer=footer,
        )
        jpeg, pdf = pages.paint_jpeg(page), pages.paint_pdf(page)
    except (OSError, ValueError) as error:
        SHEET_WORK.fail(this, f"The sheet could not be drawn: {error}")
        return "failed"
    base = f"photos/course-sheets/{sheet.pk}/{sheet.purpose}"
    _put_sheet(base, jpeg, pdf)
    SHEET_WORK.claimed(this, claim).update(
        sheet_status=Status.READY,
        sheet_jpeg_key=f"{base}.jpg",
        sheet_pdf_key=f"{base}.pdf",
        sheet_version=COURSE_SHEET_VERSION,
        sheet_reason="",
        photo_ids=ids,
        notes=notes,
        inputs=inputs,
        made_at=timezone.now(),
    )
    return "ready"


def _is_face_area(area) -> bool:
    """The face or a part of it (the hierarchy the clinic edits: the eyes, the cheeks...)."""
    seen = set()
    while area is not None and area.pk not in seen:
        if area.slug == "face":
            return True
        seen.add(area.pk)
        area = area.parent
    return False


def course_sheet_release(*, sheet_id: int, claim: str) -> None:
    SHEET_WORK.release(CourseSheet.objects.filter(pk=sheet_id), claim)


def course_sheet_mark_failed(*, sheet_id: int, reason: str) -> None:
    SHEET_WORK.fail(CourseSheet.objects.filter(pk=sheet_id), reason)
