"""The one gate before a session is completed.

`screening_for_treatment()` answers, for a session about to be recorded at a depth level, with
the screening that allows it, or a ValidationError saying what is missing. `session_record`
asks it inside its transaction, and a completed session must name the screening it was
completed under (a database constraint), so no path can complete a session without passing
here.

A screening allows treatment only when it is:
- the day's: made on the session's booked day, after the patient was checked in, by a
  clinician, from that day's pre-session check of this session;
- for the depth level actually used;
- still current: the rules evaluated again now, from what the database holds now (history,
  the patient's other sessions, the rules themselves, the check), find exactly what was stored;
  anything else means something changed since, and the patient is screened again;
- clear, or with relative findings that a clinician overrode with a reason;
- of a confirmed course: one the desk proposed waits for a clinician's confirmation;
- and of a course whose patient signed the consent form of its modality (treatments.consents).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from . import consents
from . import screening as engine
from .models import DepthLevel, Screening, Session, TreatmentPlan

# A session may be recorded until this long after its booked end (notes written after the
# last patient of the evening); it keeps its booked day whenever it is recorded.
RECORDING_GRACE = dt.timedelta(hours=12)


def _findings_as_stored(findings: list[engine.Finding]) -> list[tuple]:
    return sorted(
        (f.rule_name[:120], f.severity, f.reason[:500], f.rule.pk if f.rule else None)
        for f in findings
    )


def _stored(screening: Screening) -> list[tuple]:
    return sorted((f.rule_name, f.severity, f.reason, f.rule_id) for f in screening.findings.all())


def _changed(now_found: list[tuple], stored: list[tuple]) -> str:
    gone = [finding[2] for finding in stored if finding not in now_found]
    new = [finding[2] for finding in now_found if finding not in stored]
    parts = [f"now found: {'; '.join(new)}"] if new else []
    parts += [f"no longer found: {'; '.join(gone)}"] if gone else []
    return ", ".join(parts) or "the findings changed"


def day_screening(session: Session, day: dt.date) -> Screening | None:
    """The latest screening of the session made for `day` from a pre-session check."""
    return (
        session.screenings.filter(
            occasion=Screening.Occasion.CHECK_IN,
            screened_for=day,
            pre_session_check__isnull=False,
        )
        .select_related("pre_session_check", "screened_by", "overridden_by", "depth_level")
        .order_by("-screened_at", "-id")
        .first()
    )


def screening_for_treatment(
    session: Session, *, depth_level: DepthLevel | None, now: dt.datetime | None = None
) -> Screening:
    """The screening that allows treating `session` at `depth_level` now, or ValidationError."""
    now = now or timezone.now()
    if session.plan.status == TreatmentPlan.Status.PROPOSED:
        raise ValidationError(
            "This course was proposed at the desk and is not confirmed yet: a clinician "
            "confirms the course before any session of it is recorded.",
            code="unconfirmed",
        )
    if not consents.consent_signed(session.patient_id, session.plan.modality):
        raise ValidationError(consents.not_signed_reason(session.plan.modality), code="consent")
    if session.status != Session.Status.CHECKED_IN or session.starts_at is None:
        raise ValidationError(
            "Check the patient in before recording the session: it is recorded only after "
            "the day's check and screening."
        )
    day = timezone.localdate(session.starts_at)
    if timezone.localdate(now) < day:
        raise ValidationError(
            f"This session is booked for {day:%d %B %Y}; it cannot be recorded before."
        )
    if now > session.ends_at + RECORDING_GRACE:
        raise ValidationError("This session ended too long ago to be recorded now.")
    screening = day_screening(session, day)
    if screening is None:
        raise ValidationError(
            "Do the pre-session check and screen the patient today before recording the session."
        )
    checked_in_at = getattr(getattr(session, "booking", None), "checked_in_at", None)
    if checked_in_at is not None and screening.screened_at < checked_in_at:
        raise ValidationError("The screening was made before check-in: screen the patient again.")
    check = screening.pre_session_check
    if check.session_id != session.pk or check.checked_on != day:
        raise ValidationError("The screening must come from today's check of this session.")
    screener = screening.screened_by
    if screener is None or not screener.has_perm("treatments.add_screening"):
        raise ValidationError("The session must be screened by a clinician.")
    if depth_level is not None and screening.depth_level_id != depth_level.pk:
        screened_at = screening.depth_level or "no level"
        raise ValidationError(
            f"The screening was for {screened_at}, not {depth_level}: screen the patient again "
            "for the level you use."
        )
    plan = session.plan
    now_found = _findings_as_stored(
        engine.screen(
            patient=session.patient,
            modality=plan.modality,
            depth_level=depth_level or screening.depth_level,
            on=day,
            body_area=plan.body_area,
            check=check,
            exclude_session=session,
        )
    )
    stored = _stored(screening)
    if now_found != stored:
        raise ValidationError(
            "Something screening reads has changed since the patient was screened at "
            f"{timezone.localtime(screening.screened_at):%H:%M} ({_changed(now_found, stored)}): "
            "screen the patient again."
        )
    if screening.outcome == Screening.Outcome.BLOCKED:
        reasons = "; ".join(reason for _, severity, reason, _ in stored if severity == "absolute")
        raise ValidationError(f"Screening refused this session: {reasons}", code="blocked")
    overrider = screening.overridden_by
    if screening.outcome == Screening.Outcome.OVERRIDDEN and (
        overrider is None or not overrider.has_perm("treatments.override_screening")
    ):
        raise ValidationError("Only a clinician who treats may override: screen the patient again.")
    if screening.outcome == Screening.Outcome.RELATIVE:
        reasons = "; ".join(reason for _, _, reason, _ in stored)
        raise ValidationError(
            f"Screening has relative findings; record why you proceed first: {reasons}",
            code="relative",
        )
    return screening


# --- the state, without raising: for the check-in list and the session page ------------------


@dataclass(frozen=True)
class State:
    """Where a session stands before recording: not screened, clear, a relative finding to
    confirm, or blocked; `reason` says why in words for staff."""

    code: str
    reason: str = ""

    NOT_SCREENED = "not_screened"
    UNCONFIRMED = "unconfirmed"
    CONSENT = "consent"
    CLEAR = "clear"
    CONFIRM = "confirm"
    BLOCKED = "blocked"
    LABELS = {
        NOT_SCREENED: "Not screened",
        UNCONFIRMED: "Course to confirm",
        CONSENT: consents.NOT_SIGNED,
        CLEAR: "Clear",
        CONFIRM: "Relative finding to confirm",
        BLOCKED: "Blocked",
    }

    @property
    def label(self) -> str:
        return self.LABELS[self.code]

    @property
    def can_record(self) -> bool:
        """Recording can succeed now (the gate itself decides, when it is done)."""
        return self.code == self.CLEAR


def _flag_state(session: Session) -> State | None:
    if session.flag != Session.Flag.BLOCKED:
        return None
    lifts = f" Lifts on {session.flag_lifts_on:%A %-d %B %Y}." if session.flag_lifts_on else ""
    return State(State.BLOCKED, f"{session.flag_reason}.{lifts}")


def state(session: Session, *, now: dt.datetime | None = None) -> State:
    """The gate's answer for recording `session` at its level now, without raising."""
    flagged = _flag_state(session)
    if flagged is not None:
        return flagged
    try:
        screening_for_treatment(session, depth_level=session.depth_level, now=now)
    except ValidationError as error:
        codes = {item.code for item in error.error_list}
        reason = " ".join(error.messages)
        if "blocked" in codes:
            return State(State.BLOCKED, reason)
        if "relative" in codes:
            return State(State.CONFIRM, reason)
        if "unconfirmed" in codes:
            return State(State.UNCONFIRMED, reason)
        if "consent" in codes:
            return State(State.CONSENT, reason)
        return State(State.NOT_SCREENED, reason)
    return State(State.CLEAR)


def list_states(sessions: list[Session]) -> dict[int, State]:
    """The state of each session of a day's list in three queries (the patients' signed consents,
    the day's screenings and their findings), from its flag, its course's consent and its latest
    screening of the day. A list's summary: it does not
    evaluate the rules again per row; the gate does that when the session is recorded, and
    the session page asks it (state()) before offering to record."""
    days = {session.pk: session.day for session in sessions}
    latest: dict[int, Screening] = {}
    if sessions:
        screenings = (
            Screening.objects.filter(
                session_id__in=list(days),
                occasion=Screening.Occasion.CHECK_IN,
                screened_for__in=set(days.values()),
                pre_session_check__isnull=False,
            )
            .prefetch_related("findings")
            .order_by("-screened_at", "-id")
        )
        for screening in screenings:
            if screening.screened_for == days[screening.session_id]:
                latest.setdefault(screening.session_id, screening)
    signed = consents.signed_pairs(session.patient_id for session in sessions) if sessions else ()
    states = {}
    for session in sessions:
        states[session.pk] = (
            _flag_state(session)
            or _unconfirmed_state(session)
            or _consent_state(session, signed)
            or _list_state(session, latest.get(session.pk))
        )
    return states


def _unconfirmed_state(session: Session) -> State | None:
    # Read only from a plan the list loaded with its sessions: no query per row.
    if Session.plan.field.is_cached(session) and session.plan.is_proposed:
        return State(State.UNCONFIRMED, "A clinician confirms the proposed course first.")
    return None


def _consent_state(session: Session, signed) -> State | None:
    # Read only from a plan and modality the list loaded with its sessions: no query per row.
    if not Session.plan.field.is_cached(session):
        return None
    plan = session.plan
    if not TreatmentPlan.modality.field.is_cached(plan) or not consents.consent_required(
        plan.modality
    ):
        return None
    if (session.patient_id, plan.modality_id) in signed:
        return None
    return State(State.CONSENT, consents.not_signed_reason(plan.modality))


def _list_state(session: Session, screening: Screening | None) -> State:
    if screening is None:
        return State(State.NOT_SCREENED, "No pre-session check and screening yet today.")
    if session.flagged_at and screening.screened_at < session.flagged_at:
        return State(State.NOT_SCREENED, "The history changed since: screen the patient again.")
    findings = list(screening.findings.all())
    if screening.outcome == Screening.Outcome.BLOCKED:
        reasons = "; ".join(f.reason for f in findings if f.severity == "absolute")
        return State(State.BLOCKED, reasons)
    if screening.outcome == Screening.Outcome.RELATIVE:
        return State(State.CONFIRM, "; ".join(f.reason for f in findings))
    return State(State.CLEAR)
