"""Writes to plans, sessions, medical history and screenings. Each validates and audits."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from audit.services import Action, audit_log, audited_update
from people.roles import users_who_treat

from . import aftercare, gate, lifts
from . import screening as engine
from .models import (
    BodyArea,
    CourseTemplate,
    DepthLevel,
    Factor,
    HistoryEntry,
    Indication,
    Modality,
    ModalityIndication,
    PreSessionAnswer,
    PreSessionCheck,
    Screening,
    ScreeningFinding,
    ScreeningRule,
    Session,
    TreatmentPlan,
)

S = Session.Status
OPEN_STATUSES = (S.PLANNED, S.BOOKED, S.CHECKED_IN)


# --- plans ----------------------------------------------------------------------------------


def default_levels(modality: Modality, count: int) -> list[DepthLevel]:
    """The catalogue's suggestion: every session at the first level, or rising evenly from the
    most superficial to the deepest when the modality's courses go deeper (laser resurfacing:
    3 sessions give superficial, medium, deep; 4 give superficial, medium, medium, deep)."""
    levels = list(modality.levels.order_by("rank"))
    if not levels or count < 1:
        return []
    if not modality.levels_rise:
        return [levels[0]] * count
    if count == 1:
        return [levels[0]]
    # The first session is the most superficial and the last the deepest.
    return [levels[round(i * (len(levels) - 1) / (count - 1))] for i in range(count)]


def level_steps(modality: Modality, levels: list[DepthLevel | None]) -> list[str]:
    """Where a course whose levels rise (laser resurfacing: superficial, medium, deep) goes
    shallower or skips a level, session by session in order; [] when each step is the same
    level or the next one down. Such a course is planned or changed only with a reason."""
    if not modality.levels_rise:
        return []
    problems = []
    ranked = [(number, level) for number, level in enumerate(levels, 1) if level is not None]
    for (_, before), (number, after) in itertools.pairwise(ranked):
        if after.rank < before.rank:
            problems.append(f"session {number} goes shallower ({before.name} → {after.name})")
        elif after.rank > before.rank + 1:
            problems.append(f"session {number} skips a level ({before.name} → {after.name})")
    return problems


def _needs_reason(problems: list[str], reason: str, field: str) -> str:
    reason = " ".join((reason or "").split())
    if problems and not reason:
        raise ValidationError(
            {
                field: f"The depth goes against the course's progression: {'; '.join(problems)}. "
                "Give the reason to go ahead."
            }
        )
    return reason if problems else ""


class PlanRefused(ValidationError):
    """Planning refused by an absolute screening finding: the reasons, the first day a course
    could start (None while the finding lasts with no end in the history), and the screening
    that refused it, kept on record without a plan."""

    def __init__(self, *, findings: list[engine.Finding], first_possible: date | None, screening):
        self.findings = findings
        self.first_possible = first_possible
        self.screening = screening
        self.reasons = [finding.reason for finding in findings if lifts.absolute(finding)]
        if first_possible is not None:
            when = f"The first possible start is {first_possible:%A %-d %B %Y}."
        else:
            when = "It has no end in the history: no start date can be given while it lasts."
        super().__init__(f"Refused by screening: {'; '.join(self.reasons)}. {when}")


def propose_schedule(*, first_date: date, session_count: int, interval_days: int) -> list[date]:
    return [first_date + timedelta(days=i * interval_days) for i in range(session_count)]


def plan_create(
    *,
    patient,
    indication: Indication,
    body_area: BodyArea,
    modality: Modality,
    first_date: date,
    session_count: int | None = None,
    interval_days: int | None = None,
    levels: list[DepthLevel] | None = None,
    level_reason: str = "",
    notes: str = "",
    status: str = TreatmentPlan.Status.ACTIVE,
    template: CourseTemplate | None = None,
    by=None,
) -> TreatmentPlan:
    """Plans a course and proposes its dated sessions; screens it for the first session's day.

    A course planned ACTIVE is confirmed by whoever planned it (a clinician); one PROPOSED
    (plan_propose: the desk, from a template) waits for a clinician's plan_confirm.

    `session_count` and `interval_days` default to the modality's catalogue values, `levels`
    (one per session) to `default_levels()`. The screening is stored with the plan. An absolute
    finding on the first day refuses the plan (PlanRefused, with the first possible start);
    the refusing screening is kept, without a plan.
    """
    if indication.not_treatable_reason:
        raise ValidationError({"indication": indication.not_treatable_reason})
    if not modality.is_treatment:
        raise ValidationError({"modality": "A consultation is booked on its own, not planned."})
    if not ModalityIndication.objects.filter(modality=modality, indication=indication).exists():
        raise ValidationError(
            {"modality": f"{modality.name} is not a treatment for {indication.name.lower()}."}
        )
    session_count = session_count or modality.default_session_count
    interval_days = interval_days if interval_days is not None else modality.default_interval_days
    if interval_days < modality.min_interval_days:
        raise ValidationError(
            {
                "interval_days": f"{modality.name} sessions need at least "
                f"{modality.min_interval_days} days between them; {interval_days} is too short."
            }
        )
    if levels is None:
        levels = default_levels(modality, session_count)
    if len(levels) != session_count:
        raise ValidationError(
            {"levels": f"Give one level per session ({session_count}), not {len(levels)}."}
        )
    for level in levels:
        if level.modality_id != modality.pk:
            raise ValidationError({"levels": f"{level} is not a level of {modality.name}."})
    level_reason = _needs_reason(level_steps(modality, levels), level_reason, "level_reason")
    first_level = levels[0] if levels else None
    data = engine.load(patient=patient)
    findings = engine.evaluate(
        data, modality=modality, depth_level=first_level, on=first_date, body_area=body_area
    )
    if any(lifts.absolute(finding) for finding in findings):
        screening = screening_create(
            patient=patient,
            modality=modality,
            depth_level=first_level,
            body_area=body_area,
            on=first_date,
            occasion=Screening.Occasion.PLANNING,
            findings=findings,
            by=by,
        )
        first_possible = lifts.first_clear_day(
            data, modality=modality, depth_level=first_level, body_area=body_area, start=first_date
        )
        # The refusing screening is kept (written in its own transaction above), without a plan.
        raise PlanRefused(findings=findings, first_possible=first_possible, screening=screening)

    with transaction.atomic():
        plan = TreatmentPlan(
            patient=patient,
            indication=indication,
            body_area=body_area,
            modality=modality,
            session_count=session_count,
            interval_days=interval_days,
            notes=notes,
            created_by=by,
            status=status,
            template=template,
        )
        if status == TreatmentPlan.Status.ACTIVE and by is not None and by.is_authenticated:
            plan.confirmed_by, plan.confirmed_at = by, timezone.now()
        plan.full_clean()
        plan.save()
        dates = propose_schedule(
            first_date=first_date, session_count=session_count, interval_days=interval_days
        )
        sessions = []
        for number, (day, level) in enumerate(zip(dates, levels, strict=True), start=1):
            session = Session(
                plan=plan,
                patient=patient,
                number=number,
                depth_level=level,
                proposed_date=day,
                level_reason=level_reason,
            )
            session.full_clean()
            sessions.append(session)
        Session.objects.bulk_create(sessions)
        detail = f"{session_count} sessions" + (f"; levels: {level_reason}" if level_reason else "")
        if template is not None:
            detail += f"; proposed from the template {template.name}"
        audit_log(actor=by, action=Action.CREATE, obj=plan, detail=detail)
        screening_create(
            patient=patient,
            modality=modality,
            depth_level=levels[0] if levels else None,
            body_area=body_area,
            on=first_date,
            occasion=Screening.Occasion.PLANNING,
            findings=findings,
            plan=plan,
            by=by,
        )
        return plan


def template_levels(template: CourseTemplate) -> list[DepthLevel]:
    """One level per session of the template: its own where it names one, else the catalogue's
    suggestion for that session (default_levels)."""
    suggested = default_levels(template.modality, template.session_count)
    own = {row.number: row.depth_level for row in template.levels.select_related("depth_level")}
    return [own.get(number, level) for number, level in enumerate(suggested, start=1)]


def _may(by, permission: str) -> bool:
    return by is not None and by.is_authenticated and by.has_perm(permission)


def plan_propose(
    *, patient, template: CourseTemplate, first_date: date, notes: str = "", by
) -> TreatmentPlan:
    """The desk proposes a course from one of the clinic's templates: planned and screened as
    plan_create does, PROPOSED until a clinician confirms it (plan_confirm). Its sessions may be
    booked meanwhile; none is recorded before the confirmation (treatments/gate.py)."""
    if not _may(by, "treatments.propose_treatmentplan"):
        raise ValidationError("You may not propose courses.")
    if not template.active:
        raise ValidationError({"template": f"The clinic no longer offers “{template}”."})
    levels = template_levels(template)
    return plan_create(
        patient=patient,
        indication=template.indication,
        body_area=template.body_area,
        modality=template.modality,
        first_date=first_date,
        session_count=template.session_count,
        interval_days=template.interval_days,
        levels=levels,
        # The template's own progression is the clinic's choice, written down in the admin.
        level_reason="as the clinic's course template sets it"
        if level_steps(template.modality, levels)
        else "",
        notes=notes,
        status=TreatmentPlan.Status.PROPOSED,
        template=template,
        by=by,
    )


def consultation_modality() -> Modality:
    modality = Modality.objects.filter(kind=Modality.Kind.CONSULTATION).first()
    if modality is None:
        raise ValidationError(
            "The catalogue has no consultation: ask a clinic admin to add the modality."
        )
    return modality


def consultation_create(
    *, patient, body_area: BodyArea, on: date | None = None, notes: str = "", by
) -> Session:
    """A first consultation for the patient about `body_area`: a plan of one session of the
    catalogue's consultation, ready to book. Not a treatment: screening does not refuse it and
    no clinician confirms it. Returns its session; an unbooked one already waiting is reused,
    so a desk that starts twice does not leave two behind. The desk books one for anyone; a
    patient signed in to the portal books one for themselves."""
    booking_for_themselves = (
        by is not None and patient.user_id is not None and (patient.user_id == by.pk)
    )
    if not (booking_for_themselves or _may(by, "treatments.propose_treatmentplan")):
        raise ValidationError("You may not book consultations.")
    modality = consultation_modality()
    waiting = (
        Session.objects.filter(
            patient=patient,
            plan__modality=modality,
            plan__status=TreatmentPlan.Status.ACTIVE,
            status=S.PLANNED,
        )
        .select_related("plan")
        .first()
    )
    if waiting is not None:
        return waiting
    with transaction.atomic():
        plan = TreatmentPlan(
            patient=patient,
            modality=modality,
            body_area=body_area,
            session_count=1,
            interval_days=0,
            notes=notes.strip(),
            created_by=by,
            status=TreatmentPlan.Status.ACTIVE,
        )
        plan.full_clean()
        plan.save()
        session = Session(
            plan=plan, patient=patient, number=1, proposed_date=on or timezone.localdate()
        )
        session.full_clean()
        session.save()
        audit_log(actor=by, action=Action.CREATE, obj=plan, detail="consultation")
    return session


def plan_confirm(*, plan: TreatmentPlan, by) -> TreatmentPlan:
    """A clinician confirms a course the desk proposed, screening it again for its next
    session's day: an absolute finding refuses the confirmation (the screening is kept)."""
    if not _may(by, "treatments.confirm_treatmentplan"):
        raise ValidationError(
            "Only a clinician who treats confirms a course; the desk proposes it."
        )
    with transaction.atomic():
        plan = (
            TreatmentPlan.objects.select_for_update(of=("self",))
            .select_related("modality", "body_area", "patient")
            .get(pk=plan.pk)
        )
        if plan.status != TreatmentPlan.Status.PROPOSED:
            raise ValidationError(
                f"This course is {plan.get_status_display().lower()}: only a proposed course is"
                " confirmed."
            )
        following = (
            plan.sessions.filter(status__in=OPEN_STATUSES)
            .select_related("depth_level")
            .order_by("number")
            .first()
        )
        level = following.depth_level if following else None
        day = max(
            (following.day if following else None) or timezone.localdate(), timezone.localdate()
        )
        data = engine.load(patient=plan.patient)
        findings = engine.evaluate(
            data,
            modality=plan.modality,
            depth_level=level,
            on=day,
            body_area=plan.body_area,
            exclude_session_id=following.pk if following else None,
        )
        findings = [finding for finding in findings if finding.rule is not None]
        screened = screening_create(
            patient=plan.patient,
            modality=plan.modality,
            depth_level=level,
            body_area=plan.body_area,
            on=day,
            occasion=Screening.Occasion.PLANNING,
            findings=findings,
            plan=plan,
            by=by,
        )
        if screened.outcome != Screening.Outcome.BLOCKED:
            plan.status = TreatmentPlan.Status.ACTIVE
            plan.confirmed_by, plan.confirmed_at = by, timezone.now()
            plan.save(update_fields=["status", "confirmed_by", "confirmed_at"])
            audit_log(actor=by, action=Action.CHANGE, obj=plan, detail="course confirmed")
            return plan
    # Outside the block: the refusing screening stays on record, the course stays proposed.
    raise ValidationError(f"Not confirmed. {engine.refusal_message(findings)}")


def plan_benefit(plan: TreatmentPlan) -> ModalityIndication | None:
    if plan.indication_id is None:
        return None
    return ModalityIndication.objects.filter(
        modality_id=plan.modality_id, indication_id=plan.indication_id
    ).first()


@transaction.atomic
def session_set_level(
    *, session: Session, depth_level: DepthLevel, reason: str = "", by=None
) -> Session:
    """Changes the level of a session that has not happened yet; against the course's rising
    progression (shallower than the session before it, or a level skipped) only with a reason."""
    if session.status not in OPEN_STATUSES:
        raise ValidationError(f"Session {session.number} is {session.get_status_display()}.")
    before = session.depth_level
    course = (
        session.plan.sessions.exclude(status__in=(S.CANCELLED, S.NO_SHOW))
        .select_related("depth_level")
        .order_by("number")
    )
    levels = [depth_level if s.pk == session.pk else s.depth_level for s in course]
    reason = _needs_reason(level_steps(session.plan.modality, levels), reason, "reason")
    session.depth_level = depth_level
    session.level_reason = reason
    session.full_clean()
    session.save(update_fields=["depth_level", "level_reason"])
    detail = f"depth level {before} → {depth_level}" + (f": {reason}" if reason else "")
    audit_log(actor=by, action=Action.CHANGE, obj=session, detail=detail)
    return session


def plan_refresh_status(plan: TreatmentPlan) -> TreatmentPlan:
    """Marks an active plan completed once none of its sessions is still ahead."""
    if plan.status == TreatmentPlan.Status.ACTIVE:
        ahead = plan.sessions.filter(status__in=OPEN_STATUSES).exists()
        if not ahead and plan.sessions.filter(status=S.COMPLETED).exists():
            plan.status = TreatmentPlan.Status.COMPLETED
            plan.save(update_fields=["status"])
    return plan


# --- medical history and the pre-session check ------------------------------------------------

HISTORY_FIELDS = ("factor", "started_on", "ended_on", "body_area", "notes")


@transaction.atomic
def sessions_rescreen(*, patient, by=None, today: date | None = None) -> list[Session]:
    """Screens the patient's booked sessions ahead again, from what the database holds now, and
    flags each that a screening rule concerns (absolute: refused; relative: the clinician
    decides) with the findings and the first day they lift; clears a flag that no longer
    holds. Called in the transaction of whatever changed what screening reads (the history,
    a session moved). Returns the sessions whose flag changed."""
    today = today or timezone.localdate()
    sessions = [
        session
        for session in Session.objects.filter(
            patient=patient, status__in=Session.FLAGGABLE_STATUSES, starts_at__isnull=False
        ).select_related("plan__modality", "plan__body_area", "depth_level")
        if session.day >= today
    ]
    if not sessions and not Session.objects.filter(patient=patient).exclude(flag="").exists():
        return []
    data = engine.load(patient=patient)
    answered = patient_answers(session_ids=[session.pk for session in sessions])
    changed = []
    for session in sessions:
        plan = session.plan
        where = {
            "modality": plan.modality,
            "depth_level": session.depth_level,
            "body_area": plan.body_area,
            "exclude_session_id": session.pk,
        }
        findings = [f for f in engine.evaluate(data, on=session.day, **where) if f.rule]
        session_data = data
        if session.pk in answered:
            session_data = replace(data, reported=answered[session.pk])
            findings = _with_absolute_answers(
                findings,
                [f for f in engine.evaluate(session_data, on=session.day, **where) if f.rule],
            )
        if any(finding.is_absolute for finding in findings):
            flag = Session.Flag.BLOCKED
        elif findings:
            flag = Session.Flag.CONFIRM
        else:
            flag = Session.Flag.NONE
        reason = "; ".join(finding.reason for finding in findings)
        select = lifts.absolute if flag == Session.Flag.BLOCKED else lifts.from_rules
        lifts_on = (
            lifts.first_clear_day(
                session_data if flag == Session.Flag.BLOCKED else data,
                start=session.day,
                select=select,
                **where,
            )
            if findings
            else None
        )
        if (session.flag, session.flag_reason, session.flag_lifts_on) == (flag, reason, lifts_on):
            continue
        session.flag, session.flag_reason, session.flag_lifts_on = flag, reason, lifts_on
        session.flagged_at = timezone.now() if flag else None
        session.save(update_fields=["flag", "flag_reason", "flag_lifts_on", "flagged_at"])
        detail = f"flagged: {flag}" if flag else "flag cleared"
        audit_log(actor=by, action=Action.CHANGE, obj=session, detail=detail)
        changed.append(session)
    # A flag left on a session no longer ahead (cancelled, done, past) says nothing any more.
    Session.objects.filter(patient=patient).exclude(flag="").exclude(
        pk__in=[session.pk for session in sessions]
    ).update(flag="", flag_reason="", flag_lifts_on=None, flagged_at=None)
    return changed


def patient_answers(*, session_ids: list[int]) -> dict[int, list[engine.Reported]]:
    """The answers of each session's latest check, when that check is the patient's own (a
    clinician's check of the session made since replaces what the patient said): two queries."""
    answered: dict[int, list[engine.Reported]] = {}
    if not session_ids:
        return answered
    latest: dict[int, PreSessionCheck] = {}
    checks = (
        PreSessionCheck.objects.filter(session_id__in=session_ids)
        .order_by("session_id", "-checked_at", "-id")
        .prefetch_related("answers")
    )
    for check in checks:
        latest.setdefault(check.session_id, check)
    for session_id, check in latest.items():
        if check.by_patient:
            answered[session_id] = engine.reported_in(check)
    return answered


def _with_absolute_answers(
    from_records: list[engine.Finding], with_answers: list[engine.Finding]
) -> list[engine.Finding]:
    """What flags a session the patient answered for: the findings from the records, and the
    absolute findings their answers add (a relative one is the clinician's to read on the
    day, not a flag for the desk). Answers only add evidence, so every rule found from the
    records is found with them."""
    recorded = {finding.rule_name: finding for finding in from_records}
    kept = []
    for finding in with_answers:
        if finding.is_absolute:
            kept.append(finding)
        elif finding.rule_name in recorded:
            kept.append(recorded[finding.rule_name])
    return kept


@transaction.atomic
def history_add(
    *,
    patient,
    factor: Factor,
    started_on: date | None = None,
    ended_on: date | None = None,
    body_area: BodyArea | None = None,
    notes: str = "",
    by=None,
) -> HistoryEntry:
    entry = HistoryEntry(
        patient=patient,
        factor=factor,
        started_on=started_on,
        ended_on=ended_on,
        body_area=body_area,
        notes=notes.strip(),
        recorded_by=by,
    )
    entry.full_clean()
    entry.save()
    audit_log(actor=by, action=Action.CREATE, obj=entry)
    sessions_rescreen(patient=patient, by=by)
    return entry


@transaction.atomic
def history_update(*, entry: HistoryEntry, by=None, **changes) -> HistoryEntry:
    """Changes the named fields (HISTORY_FIELDS) of a history entry, and screens the patient's
    booked sessions again. A patient's own report and an entry already replaced stay as they
    are: a clinician corrects a report (treatments.intake.history_correct), keeping both."""
    if entry.is_reported:
        raise ValidationError(
            "The patient reported this themselves: confirm or correct it, so that their own"
            " answer is kept beside the correction."
        )
    if not entry.is_current:
        raise ValidationError("This entry was replaced by a correction and is kept as it was.")
    entry = audited_update(obj=entry, fields=HISTORY_FIELDS, changes=changes, by=by)
    sessions_rescreen(patient=entry.patient, by=by)
    return entry


@transaction.atomic
def pre_session_check_create(
    *,
    session: Session,
    present: list[Factor],
    checked_on: date | None = None,
    notes: str = "",
    by=None,
) -> PreSessionCheck:
    check = PreSessionCheck(
        patient_id=session.patient_id,
        session=session,
        checked_on=checked_on or timezone.localdate(),
        notes=notes.strip(),
        checked_by=by,
    )
    check.full_clean()
    check.save()
    check.present.set(present)
    audit_log(actor=by, action=Action.CREATE, obj=check)
    return check


# --- screening --------------------------------------------------------------------------------


@transaction.atomic
def screening_create(
    *,
    patient,
    modality: Modality,
    on: date,
    occasion: str,
    findings: list[engine.Finding],
    depth_level: DepthLevel | None = None,
    body_area: BodyArea | None = None,
    session: Session | None = None,
    plan: TreatmentPlan | None = None,
    check: PreSessionCheck | None = None,
    by=None,
) -> Screening:
    """Stores the result of `screening.screen()` with who screened, when and what was found.

    The booking engine calls this with occasion BOOKING to keep the screening it ran.
    """
    if any(finding.is_absolute for finding in findings):
        outcome = Screening.Outcome.BLOCKED
    elif findings:
        outcome = Screening.Outcome.RELATIVE
    else:
        outcome = Screening.Outcome.CLEAR
    stored = Screening(
        patient=patient,
        plan=plan or (session.plan if session else None),
        session=session,
        modality=modality,
        depth_level=depth_level,
        body_area=body_area,
        pre_session_check=check,
        occasion=occasion,
        screened_for=on,
        outcome=outcome,
        screened_by=by,
    )
    stored.full_clean()
    stored.save()
    ScreeningFinding.objects.bulk_create(
        ScreeningFinding(
            screening=stored,
            rule=finding.rule,
            rule_name=finding.rule_name[:120],
            severity=finding.severity,
            reason=finding.reason[:500],
        )
        for finding in findings
    )
    audit_log(actor=by, action=Action.CREATE, obj=stored, detail=f"{occasion}: {outcome}")
    return stored


def session_screen(
    *,
    session: Session,
    occasion: str = Screening.Occasion.CHECK_IN,
    check: PreSessionCheck | None = None,
    on: date | None = None,
    by=None,
) -> Screening:
    """Screens a session for its day (default: its own day, else today) and stores the result."""
    on = on or (check.checked_on if check else None) or session.day or timezone.localdate()
    plan = session.plan
    findings = engine.screen(
        patient=session.patient,
        modality=plan.modality,
        depth_level=session.depth_level,
        on=on,
        body_area=plan.body_area,
        check=check,
        exclude_session=session,
    )
    return screening_create(
        patient=session.patient,
        modality=plan.modality,
        depth_level=session.depth_level,
        body_area=plan.body_area,
        on=on,
        occasion=occasion,
        findings=findings,
        session=session,
        check=check,
        by=by,
    )


@transaction.atomic
def session_check_and_screen(
    *, session: Session, present: list[Factor], notes: str = "", by=None
) -> Screening:
    """The day's pre-session check of the session and the screening made from it, together.
    The clinician's check replaces the patient's own answers before it: a flag those raised
    is worked out again first (so the screening is not older than the flag)."""
    check = pre_session_check_create(session=session, present=present, notes=notes, by=by)
    if session.flag:
        sessions_rescreen(patient=session.patient, by=by)
        session.refresh_from_db(fields=["flag", "flag_reason", "flag_lifts_on", "flagged_at"])
    return session_screen(session=session, check=check, by=by)


# --- the patient's own check before a session ---------------------------------------------------


@dataclass(frozen=True)
class PatientAnswer:
    """One question of the patient's check: the factor, yes or no, and the day given."""

    factor: Factor
    answer: bool
    day: date | None = None


def patient_check_factors(session: Session) -> list[Factor]:
    """The day-to-day questions for this session: the factors of the pre-session check that an
    active rule screens for the session's modality and level (a pregnancy question is not put
    to a patient whose treatment no rule about pregnancy concerns)."""
    modality_id, level_id = session.plan.modality_id, session.depth_level_id
    factors = Factor.objects.filter(in_pre_session_check=True).prefetch_related(
        Prefetch(
            "rules",
            ScreeningRule.objects.filter(active=True).prefetch_related("modalities", "levels"),
            to_attr="active_rules",
        ),
        "counts_modalities",  # read by engine.applies() through each rule's factor
    )
    return [
        factor
        for factor in factors
        if any(engine.applies(rule, modality_id, level_id) for rule in factor.active_rules)
    ]


def patient_check_refusal(session: Session, *, today: date | None = None) -> str:
    """Why the patient cannot answer the check for this session, in words for them; "" while
    they can: a booked treatment session, today or ahead."""
    today = today or timezone.localdate()
    if session.status != S.BOOKED or session.starts_at is None or session.day < today:
        return "This session has no booked time ahead: there is nothing to answer before it."
    if not session.plan.modality.is_treatment:
        return "There are no questions before a consultation."
    return ""


@transaction.atomic
def patient_check_answer(*, session: Session, answers: list[PatientAnswer], by) -> Screening:
    """Stores the patient's own answers before a session (a PreSessionCheck of source PATIENT
    with every answer as asked), screens the session with them for its own day (occasion
    PRE_VISIT: the same engine, kept with the session), and works the session's flag out
    again: an absolute finding from the answers flags it for the desk; a relative one is only
    shown to the clinician. The clinician still makes the day's check."""
    if by is None or session.patient.user_id != by.pk:
        raise ValidationError("This is not your session.")
    if refusal := patient_check_refusal(session):
        raise ValidationError(refusal)
    asked = {factor.pk: factor for factor in patient_check_factors(session)}
    given = {answer.factor.pk: answer for answer in answers}
    if set(given) != set(asked):
        raise ValidationError("Please answer every question.")
    today = timezone.localdate()
    problems = {}
    for factor_id, answer in given.items():
        factor = asked[factor_id]
        if not answer.answer:
            continue
        if answer.day is None and factor.patient_date_question:
            problems[factor.slug] = f"{factor.patient_date_question} Please give the day."
        elif answer.day is not None and answer.day > today:
            problems[factor.slug] = "That day is still to come: give a day up to today."
        elif answer.day is not None and answer.day < session.patient.date_of_birth:
            problems[factor.slug] = "That day is before you were born: please check it."
    if problems:
        raise ValidationError(problems)
    check = PreSessionCheck(
        patient_id=session.patient_id,
        session=session,
        checked_on=today,
        checked_by=by,
        source=PreSessionCheck.Source.PATIENT,
    )
    check.full_clean()
    check.save()
    rows = []
    for factor_id, factor in asked.items():
        answer = given[factor_id]
        day = (answer.day or today) if answer.answer else None
        rows.append(
            PreSessionAnswer(
                pre_session_check=check,
                factor=factor,
                question=factor.question_for_patient[:200],
                answer=answer.answer,
                day=day,
                until=_reported_until(factor, day, today) if answer.answer else None,
            )
        )
    PreSessionAnswer.objects.bulk_create(rows)
    check.present.set([factor for factor in asked.values() if given[factor.pk].answer])
    said = ", ".join(f"{row.factor.slug} {'yes' if row.answer else 'no'}" for row in rows)
    audit_log(actor=by, action=Action.CREATE, obj=check, detail=f"patient's answers: {said}")
    screening = session_screen(
        session=session, occasion=Screening.Occasion.PRE_VISIT, check=check, on=session.day, by=by
    )
    sessions_rescreen(patient=session.patient, by=by)
    return screening


def _reported_until(factor: Factor, day: date, today: date) -> date | None:
    """The last day a reported condition is taken to last: the factor's days from the day it
    began, and at least the day the patient answered; None (no end known) without them. A
    treatment or an exposure happened on its day: the rule's window does the rest."""
    if factor.is_dated:
        return None
    if factor.reported_lasts_days is None:
        return None
    return max(day + timedelta(days=factor.reported_lasts_days - 1), today)


def session_check_bookable(
    *, session: Session, on: date, by=None, data: engine.ScreeningData | None = None
) -> Screening:
    """For the booking engine: screens `session` for the day `on` (occasion BOOKING), stores the
    screening, and raises ValidationError naming every absolute finding if it is refused.

    Relative findings do not stop a booking: the clinician decides at check-in. The built-in
    minimum interval is left out here: the booking engine enforces course spacing itself,
    refusing a session too soon after the previous one and warning when a move brings the
    next one too close. Call it inside the booking's transaction, so a refused booking leaves
    nothing behind. `data`: the patient's screening data (engine.load), when the booking has
    read it already in this transaction for its rule.
    """
    plan = session.plan
    findings = engine.evaluate(
        engine.load(patient=session.patient) if data is None else data,
        modality=plan.modality,
        depth_level=session.depth_level,
        on=on,
        body_area=plan.body_area,
        exclude_session_id=session.pk,
    )
    screening = screening_create(
        patient=session.patient,
        modality=plan.modality,
        depth_level=session.depth_level,
        body_area=plan.body_area,
        on=on,
        occasion=Screening.Occasion.BOOKING,
        findings=[finding for finding in findings if finding.rule is not None],
        session=session,
        by=by,
    )
    if screening.outcome == Screening.Outcome.BLOCKED:
        raise ValidationError(engine.refusal_message(findings))
    return screening


# A reason is a sentence someone else can read later: a category alone, or ".", is not one.
OVERRIDE_REASON_MIN_WORDS = 4


@transaction.atomic
def screening_override(*, screening: Screening, category: str, reason: str, by=None) -> Screening:
    """Records that a clinician who treats proceeds despite relative findings, and why: one of
    the categories and a sentence of their own."""
    reason = " ".join((reason or "").split())
    if by is None or not by.has_perm("treatments.override_screening"):
        raise ValidationError("Only a clinician who treats may override a screening finding.")
    screening = Screening.objects.select_for_update().get(pk=screening.pk)
    if screening.outcome == Screening.Outcome.BLOCKED:
        raise ValidationError("An absolute finding cannot be overridden: the treatment is refused.")
    if screening.outcome == Screening.Outcome.CLEAR:
        raise ValidationError("This screening found nothing to override.")
    if screening.outcome == Screening.Outcome.OVERRIDDEN:
        raise ValidationError("This screening has already been overridden.")
    problems = {}
    if category not in Screening.OverrideCategory.values:
        problems["override_category"] = "Choose why you proceed."
    if not reason:
        problems["override_reason"] = "Give the reason for proceeding despite the findings."
    elif len(reason.split()) < OVERRIDE_REASON_MIN_WORDS or not any(c.isalpha() for c in reason):
        problems["override_reason"] = (
            "Say in a sentence why you proceed for this patient today "
            f"(at least {OVERRIDE_REASON_MIN_WORDS} words)."
        )
    if problems:
        raise ValidationError(problems)
    screening.override_category = category
    screening.override_reason = reason
    screening.overridden_by = by
    screening.overridden_at = timezone.now()
    screening.outcome = Screening.Outcome.OVERRIDDEN
    screening.full_clean()
    screening.save()
    audit_log(
        actor=by, action=Action.CHANGE, obj=screening, detail=f"override ({category}): {reason}"
    )
    return screening


# --- recording a session ----------------------------------------------------------------------


def _check_performer(user) -> None:
    if not users_who_treat().filter(pk=user.pk).exists():
        name = user.get_full_name() or user.username
        raise ValidationError(
            {"performed_by": f"{name} does not treat patients; choose the clinician who did."}
        )


@transaction.atomic
def session_record(
    *,
    session: Session,
    depth_level: DepthLevel | None = None,
    areas: list[BodyArea] | None = None,
    notes: str = "",
    products: str = "",
    performed_by=None,
    by=None,
) -> Session:
    """Records what was done and completes the session; its aftercare runs from its booked day.

    `performed_by` is who treated the patient: by default the session's practitioner (else
    whoever records it); a colleague named instead must be one who treats.

    Only through the gate (treatments/gate.py): the day's screening of this session, for the
    level used, still current, allowing treatment. The completed session names it, and keeps
    its aftercare as the rules give it now: a later rule edit does not rewrite it.
    """
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("plan__modality", "plan__body_area", "patient", "depth_level")
        .get(pk=session.pk)
    )
    if session.status not in OPEN_STATUSES:
        raise ValidationError(
            f"Session {session.number} is {session.get_status_display().lower()}; "
            "only a planned, booked or checked-in session can be recorded."
        )
    level = depth_level or session.depth_level
    if level is not None and level.modality_id != session.plan.modality_id:
        raise ValidationError(
            {"depth_level": f"{level} is not a level of {session.plan.modality}."}
        )
    session.completed_screening = gate.screening_for_treatment(session, depth_level=level)
    if depth_level is not None:
        session.depth_level = depth_level
    session.notes = notes.strip()
    session.products = products.strip()
    session.status = S.COMPLETED
    session.completed_at = timezone.now()
    session.recorded_by = by
    if session.practitioner_id is None and by is not None and by.is_authenticated:
        session.practitioner = by
    if performed_by is not None:
        _check_performer(performed_by)
    session.performed_by = performed_by or session.practitioner
    session.aftercare = aftercare.to_keep(aftercare.computed(session))
    session.full_clean()
    session.save()
    session.areas.set(areas or [session.plan.body_area])
    plan_refresh_status(session.plan)
    detail = "recorded, completed"
    if session.performed_by_id is not None:  # an id: an audit detail never holds a name
        detail += f"; performed by user {session.performed_by_id}"
    audit_log(actor=by, action=Action.CHANGE, obj=session, detail=detail)
    return session
