"""The waiting list: patients who want an earlier time (or any time) for a session, and the
freed times offered to them.

A cancellation or a move frees a time (services.session_cancel / session_reschedule send
`tasks.offer_freed_time` through the outbox once they commit). `opening_offer` asks the
availability engine, entry by entry in the order they were made, whether the freed time fits
that session (screening on the day, spacing within the course, the practitioner's modalities,
rooms, the device, working hours and buffer), and emails the first WAITLIST_OFFERS_PER_SLOT
that fit a signed link to it. The first who accepts books it through the booking service
(`offer_accept`: the opening's row lock decides between two accepts at once); the others are
told it is gone. A link names one offer (its id and its random key, signed), expires with the
offer, and can only ever book that offer's session once.

For other pages: `open_offers()` (the desk's inbox) and `fill_rate(first, last)` (reports).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_log, recorded
from core.links import signed_data, signed_token
from treatments.models import Session, TreatmentPlan

from . import availability, inbox, services
from .models import WaitlistEntry, WaitlistOffer, WaitlistOpening
from .rules import local_midnight, nice_date

SIGNING_SALT = "scheduling.waitlist.offer"
NOON = dt.time(12, 0)
Entry = WaitlistEntry.Status
Offer = WaitlistOffer.Status
# A session waits while it is booked (for an earlier time) or still to book (for any time);
# once checked in or done, its request is moot and no longer shown or matched.
WAITABLE = (*services.BOOKABLE, Session.Status.BOOKED)


# --- the patient's request -------------------------------------------------------------


def entry_add(
    *,
    session: Session,
    by,
    earliest_day: dt.date | None = None,
    latest_day: dt.date | None = None,
    weekdays: list[int] | tuple = (),
    times: str = WaitlistEntry.Times.ANY,
    note: str = "",
    request=None,
) -> WaitlistEntry:
    """Puts a session on the waiting list: earlier than its booked time, or any time when it is
    not booked yet, within the window given."""
    today = timezone.localdate()
    if session.plan.status != TreatmentPlan.Status.ACTIVE:
        raise ValidationError(
            f"This course is {session.plan.get_status_display().lower()}; "
            "its sessions cannot wait for a time."
        )
    if session.status not in WAITABLE:
        raise ValidationError(
            f"Session {session.number} is {session.get_status_display().lower()}; "
            "only a booked or a not yet booked session can wait for a time."
        )
    if latest_day is not None and latest_day < today:
        raise ValidationError("The latest day has passed; choose a day from today on.")
    if session.status == Session.Status.BOOKED and (
        timezone.localtime(session.starts_at).date() <= max(earliest_day or today, today)
    ):
        raise ValidationError(
            "The session is already booked on or before the earliest day asked for; "
            "there is no earlier time to wait for."
        )
    entry = WaitlistEntry(
        session=session,
        patient_id=session.patient_id,
        earliest_day=earliest_day,
        latest_day=latest_day,
        weekdays=sorted({int(day) for day in weekdays}),
        times=times,
        note=(note or "").strip()[:300],
        created_by=by if getattr(by, "is_authenticated", False) else None,
    )
    if any(not 0 <= day <= 6 for day in entry.weekdays):
        raise ValidationError("Choose weekdays from Monday to Sunday.")
    with recorded():
        # Locked so that two requests for one session at once make one entry.
        Session.objects.select_for_update(of=("self",)).filter(pk=session.pk).first()
        entry.full_clean()
        entry.save()
        audit_log(
            actor=by,
            action=AuditEvent.Action.CREATE,
            obj=entry,
            request=request,
            detail=f"waiting list: session {session.pk}, {entry.window_words}",
        )
    return entry


def entry_withdraw(*, entry: WaitlistEntry, by, request=None) -> WaitlistEntry:
    """Takes a waiting request off the list; its offers still open close with it."""
    with recorded():
        now = timezone.now()
        withdrawn = WaitlistEntry.objects.filter(pk=entry.pk, status=Entry.WAITING).update(
            status=Entry.WITHDRAWN,
            closed_at=now,
            closed_by=by if getattr(by, "is_authenticated", False) else None,
        )
        if not withdrawn:
            raise ValidationError("This request is no longer on the waiting list.")
        entry.offers.filter(status=Offer.SENT).update(status=Offer.WITHDRAWN, answered_at=now)
        audit_log(
            actor=by,
            action=AuditEvent.Action.CHANGE,
            obj=entry,
            request=request,
            detail="waiting list: withdrawn",
        )
    entry.refresh_from_db()
    return entry


def waiting_entry(session: Session) -> WaitlistEntry | None:
    if session.status not in WAITABLE:
        return None
    return session.waitlist_entries.filter(status=Entry.WAITING).first()


def can_wait(session: Session) -> bool:
    """Whether the session may join the waiting list (entry_add says why not, when asked)."""
    return session.plan.status == TreatmentPlan.Status.ACTIVE and session.status in WAITABLE


# --- matching a freed time -------------------------------------------------------------


def _in_window(entry: WaitlistEntry, session: Session, starts_at: dt.datetime) -> bool:
    """Whether the time suits what the patient asked for (the window), and is earlier than
    the session's booked time when it has one."""
    local = timezone.localtime(starts_at)
    day = local.date()
    if entry.earliest_day and day < entry.earliest_day:
        return False
    if entry.latest_day and day > entry.latest_day:
        return False
    if entry.weekdays and day.weekday() not in entry.weekdays:
        return False
    if entry.times == WaitlistEntry.Times.MORNING and local.time() >= NOON:
        return False
    if entry.times == WaitlistEntry.Times.AFTERNOON and local.time() < NOON:
        return False
    if session.status == Session.Status.BOOKED:
        return starts_at < session.starts_at
    return session.status in services.BOOKABLE


def reasons_against(
    entry: WaitlistEntry, starts_at: dt.datetime, practitioner_user_id: int, *, now=None
) -> list[str]:
    """Why the freed time does not suit this waiting entry; [] when it does. The window first,
    then the booking rule itself (availability.check_slot), so a time is never offered that
    the booking would refuse."""
    session = entry.session
    if entry.status != Entry.WAITING or session.plan.status != TreatmentPlan.Status.ACTIVE:
        return ["The request is no longer waiting."]
    if not _in_window(entry, session, starts_at):
        return ["The time is outside what the patient asked for."]
    problems, _ = availability.check_slot(
        session=session,
        starts_at=starts_at,
        practitioner_user_id=practitioner_user_id,
        now=now or timezone.now(),
    )
    return problems


def _candidates(starts_at: dt.datetime, freed_session_id: int | None):
    day = timezone.localtime(starts_at).date()
    return (
        WaitlistEntry.objects.filter(
            status=Entry.WAITING,
            session__plan__status=TreatmentPlan.Status.ACTIVE,
            session__status__in=WAITABLE,
        )
        .filter(Q(earliest_day__isnull=True) | Q(earliest_day__lte=day))
        .filter(Q(latest_day__isnull=True) | Q(latest_day__gte=day))
        .filter(Q(session__starts_at__isnull=True) | Q(session__starts_at__gt=starts_at))
        .exclude(session_id=freed_session_id)
        .exclude(patient__email="")
        .select_related(
            "patient", "session__plan__modality", "session__plan__body_area", "session__patient"
        )
        .select_related("session__depth_level")
        .order_by("created_at", "id")
    )


def opening_offer(
    *,
    starts_at: dt.datetime,
    practitioner_user_id: int,
    freed_session_id: int | None = None,
    now: dt.datetime | None = None,
) -> WaitlistOpening | None:
    """Offers a freed time to the waiting entries it fits, first come first served, by email;
    None when it is too soon, already offered, or fits no one."""
    now = now or timezone.now()
    if starts_at < now + dt.timedelta(hours=settings.WAITLIST_MIN_NOTICE_HOURS):
        return None
    already = WaitlistOpening.objects.filter(
        starts_at=starts_at,
        practitioner_id=practitioner_user_id,
        freed_by_id=freed_session_id,
    )
    if already.exists():  # the task ran twice (the outbox delivers at least once)
        return None
    chosen = _choose(starts_at, practitioner_user_id, freed_session_id, now=now)
    if not chosen:
        return None
    with recorded():
        opening = WaitlistOpening.objects.create(
            freed_by_id=freed_session_id,
            starts_at=starts_at,
            practitioner_id=practitioner_user_id,
            created_at=now,
        )
        _send_offers(opening, chosen, now)
    return opening


def openings_reoffer(*, now: dt.datetime | None = None, limit: int = 50) -> int:
    """For the beat: a freed time whose offers all lapsed (expired, or declined by a booking
    rule) goes to the next waiting entries in line, while it is still far enough ahead.
    Returns how many freed times were offered again."""
    now = now or timezone.now()
    WaitlistOffer.objects.filter(status=Offer.SENT, expires_at__lte=now).update(
        status=Offer.EXPIRED
    )
    lapsed = (
        WaitlistOpening.objects.filter(
            status=WaitlistOpening.Status.OPEN,
            starts_at__gte=now + dt.timedelta(hours=settings.WAITLIST_MIN_NOTICE_HOURS),
        )
        .exclude(offers__status=Offer.SENT)
        .order_by("starts_at")[:limit]
    )
    offered = 0
    for opening in lapsed:
        asked = set(opening.offers.values_list("entry_id", flat=True))
        chosen = _choose(
            opening.starts_at, opening.practitioner_id, opening.freed_by_id, now=now, skip=asked
        )
        if not chosen:
            continue
        with recorded():
            locked = WaitlistOpening.objects.select_for_update().get(pk=opening.pk)
            if locked.status != WaitlistOpening.Status.OPEN:
                continue
            _send_offers(locked, chosen, now)
        offered += 1
    return offered


def _choose(
    starts_at: dt.datetime,
    practitioner_user_id: int,
    freed_session_id: int | None,
    *,
    now: dt.datetime,
    skip: set[int] = frozenset(),
) -> list[WaitlistEntry]:
    """The first WAITLIST_OFFERS_PER_SLOT waiting entries, in the order they were made, that
    the time fits (and that were not offered it before: `skip`)."""
    chosen = []
    for entry in _candidates(starts_at, freed_session_id).iterator(chunk_size=100):
        if entry.pk in skip:
            continue
        if not reasons_against(entry, starts_at, practitioner_user_id, now=now):
            chosen.append(entry)
            if len(chosen) >= settings.WAITLIST_OFFERS_PER_SLOT:
                break
    return chosen


def _send_offers(opening: WaitlistOpening, entries: list[WaitlistEntry], now) -> None:
    expires_at = min(now + dt.timedelta(hours=settings.WAITLIST_OFFER_HOURS), opening.starts_at)
    for entry in entries:
        offer = WaitlistOffer.objects.create(
            opening=opening, entry=entry, sent_at=now, expires_at=expires_at
        )
        offer.opening = opening
        audit_log(
            actor=None,
            action=AuditEvent.Action.CREATE,
            obj=offer,
            detail=f"waiting list: offered {timezone.localtime(opening.starts_at):%Y-%m-%d %H:%M}",
        )
        _email_offer(offer)


# --- the link ---------------------------------------------------------------------------


def offer_token(offer: WaitlistOffer) -> str:
    """The signed part of the offer's link: its id and its random key, with the time it was
    signed (signing.dumps uses a TimestampSigner)."""
    return signed_token({"offer": offer.pk, "key": offer.key}, salt=SIGNING_SALT)


def offer_url(offer: WaitlistOffer) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("waitlist_offer", args=[offer_token(offer)])


def offer_for_token(token: str) -> WaitlistOffer | None:
    """The offer a link names, or None for a link that was not made here (tampered, cut short,
    or for an offer that no longer exists). An expired link still names its offer, whose
    state then says so."""
    # The offer's own expiry decides; the signature's age is only a backstop.
    signed = signed_data(
        token, salt=SIGNING_SALT, max_age=dt.timedelta(hours=settings.WAITLIST_OFFER_HOURS + 24)
    )
    if signed is None:
        return None
    data = signed.data
    if not isinstance(data, dict) or not isinstance(data.get("offer"), int):
        return None
    offer = (
        WaitlistOffer.objects.filter(pk=data["offer"], key=str(data.get("key", "")))
        .select_related(
            "opening__practitioner",
            "entry__patient",
            "entry__session__plan__modality",
            "entry__session__practitioner",
        )
        .first()
    )
    if offer is not None and signed.expired and offer.status == Offer.SENT:
        offer.expires_at = min(offer.expires_at, timezone.now())
    return offer


# --- accepting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What became of an accept: booked, or why not, in words for the patient."""

    booked: bool
    message: str
    session: Session | None = None


GONE = (
    "Sorry, this time has just been taken. You stay on the waiting list, and we will write "
    "again when another time comes free."
)


def offer_accept(*, offer: WaitlistOffer, by=None, request=None) -> Answer:
    """Books the offered time for the offer's session, if it is still open: moves the booked
    session there, or books the one not booked yet. The first accept of an opening wins (its
    row lock serialises them), an offer acts once, and the booking service checks every rule
    again. Whatever the outcome, the offer's new state is saved."""
    actor = by if getattr(by, "is_authenticated", False) else offer.entry.patient.user
    with recorded():
        opening = WaitlistOpening.objects.select_for_update().get(pk=offer.opening_id)
        offer = (
            WaitlistOffer.objects.select_for_update(of=("self",))
            .select_related("entry__patient", "entry__session")
            .get(pk=offer.pk)
        )
        now = timezone.now()
        entry = offer.entry
        if offer.status == Offer.ACCEPTED:
            return Answer(True, "You have already taken this time: it is booked.", entry.session)
        if offer.status != Offer.SENT:
            return Answer(False, _closed_words(offer))
        if offer.expires_at <= now:
            _close(offer, Offer.EXPIRED, now, actor, request)
            return Answer(False, _closed_words(offer))
        if opening.status != WaitlistOpening.Status.OPEN or entry.status != Entry.WAITING:
            status = Offer.GONE if entry.status == Entry.WAITING else Offer.WITHDRAWN
            _close(offer, status, now, actor, request)
            return Answer(False, _closed_words(offer))
        try:
            with transaction.atomic():
                session = _book(entry.session, opening, actor, request)
        except ValidationError:
            # Taken by the desk meanwhile, or no longer allowed for this patient: the others
            # may still take it (their own booking checks again).
            _close(offer, Offer.GONE, now, actor, request)
            return Answer(False, GONE)
        offer.status, offer.answered_at = Offer.ACCEPTED, now
        offer.save(update_fields=["status", "answered_at"])
        opening.status, opening.filled_at = WaitlistOpening.Status.FILLED, now
        opening.save(update_fields=["status", "filled_at"])
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=Entry.BOOKED, closed_at=now)
        entry.offers.filter(status=Offer.SENT).update(status=Offer.WITHDRAWN, answered_at=now)
        audit_log(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            obj=offer,
            request=request,
            detail=f"waiting list: offer accepted, session {session.pk} booked",
        )
        others = list(
            opening.offers.filter(status=Offer.SENT).select_related(
                "entry__patient", "entry__session__plan__modality"
            )
        )
        WaitlistOffer.objects.filter(pk__in=[o.pk for o in others]).update(
            status=Offer.GONE, answered_at=now
        )
        for other in others:
            other.opening = opening
            _email_gone(other)
    local = timezone.localtime(session.starts_at)
    return Answer(
        True,
        f"Thank you: your session is now booked for {nice_date(local)} at {local:%H:%M}. "
        "We have emailed you the details.",
        session,
    )


def _book(session: Session, opening: WaitlistOpening, by, request) -> Session:
    if session.status == Session.Status.BOOKED:
        services.session_reschedule(
            session=session,
            starts_at=opening.starts_at,
            practitioner_user_id=opening.practitioner_id,
            by=by,
            request=request,
        )
        session.refresh_from_db()
        return session
    return services.session_book(
        session=session,
        starts_at=opening.starts_at,
        practitioner_user_id=opening.practitioner_id,
        by=by,
        request=request,
    )


def _close(offer: WaitlistOffer, status: str, now, actor, request) -> None:
    offer.status, offer.answered_at = status, now
    offer.save(update_fields=["status", "answered_at"])
    audit_log(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        obj=offer,
        request=request,
        detail=f"waiting list: offer {status}",
    )


def _closed_words(offer: WaitlistOffer, now=None) -> str:
    state = offer.state(now)
    if state == Offer.EXPIRED:
        return (
            "Sorry, this offer has expired. You stay on the waiting list, and we will write "
            "again when another time comes free."
        )
    if state == Offer.WITHDRAWN:
        return "This offer is no longer open: your request has left the waiting list."
    if state == Offer.ACCEPTED:
        return "You have already taken this time: it is booked."
    return GONE


def offer_state_words(offer: WaitlistOffer) -> str:
    """What the link's page says of an offer that can no longer be taken; "" while it can."""
    if offer.state() == Offer.SENT:
        return ""
    return _closed_words(offer)


def offer_still_free(offer: WaitlistOffer) -> bool:
    """Whether the offered time could still be booked for the offer's session right now (the
    desk may have filled it since): read only, for the link's page."""
    if offer.opening.status != WaitlistOpening.Status.OPEN:
        return False
    return not reasons_against(offer.entry, offer.opening.starts_at, offer.opening.practitioner_id)


# --- emails -----------------------------------------------------------------------------


def _when(offer: WaitlistOffer) -> str:
    local = timezone.localtime(offer.opening.starts_at)
    return f"{nice_date(local)} at {local:%H:%M}"


def _email_offer(offer: WaitlistOffer) -> None:
    entry = offer.entry
    session = entry.session
    patient = entry.patient
    expires = timezone.localtime(offer.expires_at)
    booked = session.status == Session.Status.BOOKED
    lines = [
        f"Dear {patient.first_name},",
        "",
        f"A time has come free for your {session.plan.modality.name.lower()} session "
        f"(session {session.number}): {_when(offer)}.",
        "",
        "To take it, open this link and confirm:",
        offer_url(offer),
        "",
        f"The offer is open until {nice_date(expires)} at {expires:%H:%M}. We offer a freed "
        "time to a few patients on the waiting list at once; the first to confirm gets it.",
    ]
    if booked:
        local = timezone.localtime(session.starts_at)
        lines.append(
            f"If you take it, your session moves there from {nice_date(local)} at "
            f"{local:%H:%M}. If not, nothing changes."
        )
    EmailMessage(
        subject=f"A time has come free: {_when(offer)}",
        body="\n".join(lines),
        to=[patient.email],
    ).send()


def _email_gone(offer: WaitlistOffer) -> None:
    patient = offer.entry.patient
    if not patient.email:
        return
    EmailMessage(
        subject=f"Taken: the time offered for {_when(offer)}",
        body="\n".join(
            [
                f"Dear {patient.first_name},",
                "",
                f"The time we offered you, {_when(offer)}, has been taken by another patient.",
                "You stay on the waiting list, and we will write again when another time "
                "comes free.",
            ]
        ),
        to=[patient.email],
    ).send()


# --- for other pages --------------------------------------------------------------------


def waiting_entries():
    """The waiting list in the order offers go out, with what the desk's page shows of each."""
    return (
        WaitlistEntry.objects.filter(status=Entry.WAITING, session__status__in=WAITABLE)
        .select_related("patient", "session__plan__modality", "session__plan__body_area")
        .order_by("created_at", "id")
    )


def open_offers():
    """Offers sent and not yet answered or expired, oldest first, for the desk's inbox. Each
    has `.patient`, `.session`, `.state()`, `.sent_at`, `.expires_at` and `.opening.starts_at`
    (two queries however many: one for the offers, joined to what they show)."""
    return (
        WaitlistOffer.objects.filter(status=Offer.SENT, expires_at__gt=timezone.now())
        .select_related(
            "opening__practitioner",
            "entry__patient",
            "entry__session__plan__modality",
        )
        .order_by("sent_at", "id")
    )


@dataclass(frozen=True)
class FillRate:
    offered: int  # freed times offered to the waiting list
    filled: int  # of those, taken from the waiting list

    @property
    def rate(self) -> float | None:
        return self.filled / self.offered if self.offered else None


def fill_rate(first_day: dt.date, last_day: dt.date) -> FillRate:
    """Freed times offered to the waiting list between two local days (inclusive, by when
    they were offered), and how many of them were filled from it: one query."""
    counts = WaitlistOpening.objects.filter(
        created_at__gte=local_midnight(first_day),
        created_at__lt=local_midnight(last_day + dt.timedelta(days=1)),
    ).aggregate(
        offered=Count("id"),
        filled=Count("id", filter=Q(status=WaitlistOpening.Status.FILLED)),
    )
    return FillRate(offered=counts["offered"], filled=counts["filled"])


# --- the desk's inbox: offers out and how they ended ---------------------------------------


def _offer_items(state: str | None, limit: int) -> list[inbox.InboxItem]:
    """Offers waiting for the patient's answer are new; answered, taken or expired ones are
    handled (by the patient, or by the clock). Two queries however many."""
    now = timezone.now()
    waiting = Q(status=Offer.SENT, expires_at__gt=now)
    rows = WaitlistOffer.objects.select_related(
        "opening__practitioner", "entry__patient", "entry__session__plan__modality"
    )
    rows = inbox.in_state(rows, state, waiting)
    link = reverse("scheduling:waitlist")
    found = []
    for offer in rows.order_by("-sent_at", "-id")[:limit]:
        session = offer.entry.session
        is_open = offer.state(now) == Offer.SENT
        when = timezone.localtime(offer.opening.starts_at)
        found.append(
            inbox.InboxItem(
                kind="waitlist",
                object_id=offer.pk,
                title=(
                    f"Waiting-list offer: {session.plan.modality.name}, session "
                    f"{session.number}, {when:%a %-d %b %H:%M}"
                ),
                at=offer.sent_at,
                state=inbox.NEW if is_open else inbox.HANDLED,
                detail=(
                    f"Waiting for the patient's answer until {nice_date(offer.expires_at)}."
                    if is_open
                    else offer.state_display(now)
                ),
                patient_name=offer.entry.patient.full_name,
                patient_url=offer.entry.patient.get_absolute_url(),
                session_url=reverse("scheduling:session", args=[session.pk]),
                link=link,
                link_label="Waiting list",
                handled_at=None if is_open else offer.answered_at,
                outcome="" if is_open else offer.state_display(now),
                record=offer,
            )
        )
    return found


inbox.register(
    inbox.Source(
        kind="waitlist",
        label="Waiting-list offers",
        items=_offer_items,
        count_new=lambda: open_offers().count(),
    )
)
