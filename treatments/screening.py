"""The screening rules engine: which contraindications apply to one patient on one day.

`screen()` loads everything it needs up front in a fixed number of queries (the active rules,
the patient's history, the patient's sessions here, that day's check) and then evaluates the
rules in plain Python, so the booking engine, the planner and the check-in page all get the
same answer. Nothing here writes; `services.session_screen()` stores a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch

from . import windows
from .areas import AreaTree, area_tree
from .models import (
    BodyArea,
    DepthLevel,
    Factor,
    HistoryEntry,
    Modality,
    PreSessionCheck,
    ScreeningRule,
    Session,
)

ABSOLUTE = ScreeningRule.Severity.ABSOLUTE
RELATIVE = ScreeningRule.Severity.RELATIVE
INTERVAL_RULE_NAME = "Minimum interval between sessions of the same area"


@dataclass(frozen=True)
class Finding:
    """One thing screening found.

    `rule` is the ScreeningRule that fired, or None for the built-in minimum-interval check
    (the modality's `min_interval_days`); `rule_name` names either. `reason` is the text to show
    staff: the rule's reason followed by the evidence, e.g. "... (Laser resurfacing here on
    10 March, 5 days before)".
    """

    severity: str  # "absolute" (refused) or "relative" (a clinician may proceed, with a reason)
    reason: str
    rule_name: str
    rule: ScreeningRule | None = None

    @property
    def is_absolute(self) -> bool:
        return self.severity == ABSOLUTE


@dataclass
class _SessionFact:
    id: int
    day: date
    modality: Modality
    level_id: int | None
    area_ids: set[int]
    status: str


@dataclass(frozen=True)
class Reported:
    """A yes the patient gave in their own check before a session: the factor happened on
    `day` (a treatment or an exposure), or is present from `day` through `until` (a condition
    or a medication; None: no end known). Read like a line of the history, shown as theirs."""

    factor_id: int
    day: date
    until: date | None
    answered_on: date


@dataclass
class ScreeningData:
    """Everything the rules need, loaded once."""

    rules: list[ScreeningRule]
    history: list[HistoryEntry]
    sessions: list[_SessionFact]
    areas: AreaTree  # which body areas overlap (the face holds the lips)
    check_present: set[int] = field(default_factory=set)  # factor ids noted in the day's check
    check_day: date | None = None
    # The patient's own answers before the session (a PreSessionCheck of source PATIENT).
    reported: list[Reported] = field(default_factory=list)


def screen(
    *,
    patient,
    modality: Modality,
    depth_level: DepthLevel | None = None,
    on: date,
    body_area: BodyArea | None = None,
    check: PreSessionCheck | None = None,
    exclude_session: Session | None = None,
) -> list[Finding]:
    """Every contraindication for treating `patient` with `modality` on the local date `on`.

    Evaluates each active ScreeningRule that applies to the modality and `depth_level` (a rule
    with levels only applies to those levels; with `depth_level=None` every such rule applies)
    against: the patient's medical history; the patient's sessions recorded or booked here
    (a laser session 5 days earlier counts as "laser in the last 7 days" without anyone typing
    it, and booking a laser session also finds a microdermabrasion already booked within the
    window after it); and `check`, that day's PreSessionCheck, if given. A rule's look-back of
    N units counts an event from its day through the day N units later (treatments/windows.py).
    With `body_area`, rules marked same-area-only only count events in an area overlapping it
    (the area itself, one holding it or one it holds: a cold sore around the lips counts for the
    face), and the built-in minimum interval (the modality's `min_interval_days` between booked
    or completed sessions of the same modality on overlapping areas) is checked too.

    `exclude_session` is the session being screened itself, so it does not count against itself.
    Returns findings with absolute ones first; an empty list means clear. Runs 9 queries (8
    without a check) whatever the size of the history.
    """
    data = load(patient=patient, check=check)
    return evaluate(
        data,
        modality=modality,
        depth_level=depth_level,
        on=on,
        body_area=body_area,
        exclude_session_id=exclude_session.pk if exclude_session else None,
    )


def is_blocked(findings: list[Finding]) -> bool:
    return any(finding.is_absolute for finding in findings)


def refusal_message(findings: list[Finding]) -> str:
    """One sentence naming every absolute finding, for a ValidationError; '' when none."""
    reasons = [finding.reason for finding in findings if finding.is_absolute]
    if not reasons:
        return ""
    return "Refused by screening: " + "; ".join(reasons)


def load(*, patient, check: PreSessionCheck | None = None) -> ScreeningData:
    rules = list(
        ScreeningRule.objects.filter(active=True)
        .select_related("factor")
        .prefetch_related(
            "modalities",
            "levels",
            Prefetch("factor__counts_modalities", queryset=Modality.objects.only("id", "name")),
        )
    )
    # Current entries only: a corrected report gives way to its correction, and a patient's
    # report not yet confirmed counts at once (safety first).
    history = list(HistoryEntry.objects.filter(patient=patient).current().select_related("factor"))
    sessions = [
        _SessionFact(
            id=session.pk,
            day=session.day,
            modality=session.plan.modality,
            level_id=session.depth_level_id,
            area_ids={session.plan.body_area_id} | {area.pk for area in session.areas.all()},
            status=session.status,
        )
        for session in Session.objects.filter(patient=patient, status__in=Session.ACTIVE_STATUSES)
        .select_related("plan__modality")
        .prefetch_related("areas")
        if session.day is not None
    ]
    sessions.sort(key=lambda fact: (fact.day, fact.id))  # evidence reads in date order
    data = ScreeningData(rules=rules, history=history, sessions=sessions, areas=area_tree())
    if check is not None and check.by_patient:
        data.reported = reported_in(check)
    elif check is not None:
        data.check_present = {factor.pk for factor in check.present.all()}
        data.check_day = check.checked_on
    return data


def reported_in(check: PreSessionCheck) -> list[Reported]:
    """The yes answers of a patient's own check, as screening reads them (one query)."""
    return [
        Reported(
            factor_id=answer.factor_id,
            day=answer.day or check.checked_on,
            until=answer.until,
            answered_on=check.checked_on,
        )
        for answer in check.answers.all()
        if answer.answer
    ]


@dataclass(frozen=True)
class _RuleIds:
    modalities: frozenset[int]
    levels: tuple[tuple[int, int], ...]  # (level id, its modality id)
    counted: frozenset[int]  # the modalities whose sessions count as the rule's factor


def _ids(rule: ScreeningRule) -> _RuleIds:
    """The ids a rule is checked against, read once per loaded rule (a search evaluates the
    same rules for every day it looks at)."""
    ids = getattr(rule, "_screening_ids", None)
    if ids is None:
        ids = _RuleIds(
            modalities=frozenset(m.pk for m in rule.modalities.all()),
            levels=tuple((level.pk, level.modality_id) for level in rule.levels.all()),
            counted=frozenset(m.pk for m in rule.factor.counts_modalities.all()),
        )
        rule._screening_ids = ids
    return ids


def _applies(rule: ScreeningRule, modality_id: int, level_id: int | None) -> bool:
    ids = _ids(rule)
    if ids.modalities and modality_id not in ids.modalities:
        return False
    levels = {level for level, level_modality in ids.levels if level_modality == modality_id}
    return not (levels and level_id is not None and level_id not in levels)


def _when(day: date, on: date) -> str:
    days = (on - day).days
    if days == 0:
        return f"on {day:%-d %B}, the same day"
    if days > 0:
        return f"on {day:%-d %B}, {days} day{'s' if days != 1 else ''} before"
    return f"on {day:%-d %B}, {-days} day{'s' if days != -1 else ''} after"


def _record_evidence(rule: ScreeningRule, data: ScreeningData, *, on: date, area_id) -> list[str]:
    """The rule's factor in the patient's history or in the day's check, within its look-back
    (treatments/windows.py: the event's day through the day the window's units later)."""
    factor = rule.factor
    window, unit = rule.window, rule.window_unit
    found: list[str] = []
    for entry in data.history:
        if entry.factor_id != factor.pk:
            continue
        if (
            rule.same_area_only
            and area_id
            and entry.body_area_id is not None
            and not data.areas.overlap(area_id, entry.body_area_id)
        ):
            continue
        if factor.kind in (Factor.Kind.TREATMENT, Factor.Kind.EXPOSURE):
            if entry.started_on and windows.counts(entry.started_on, on, window, unit):
                found.append(f"{factor.name} {_when(entry.started_on, on)}, in the history")
        else:
            if windows.period_counts(entry.started_on, entry.ended_on, on, window, unit):
                ended = entry.ended_on
                still = "ongoing" if ended is None else f"until {ended:%-d %B %Y}"
                found.append(f"{factor.name} in the history ({still})")
    if (
        factor.pk in data.check_present
        and data.check_day
        and windows.counts(data.check_day, on, window, unit)
    ):
        found.append(f"{factor.name} noted in the pre-session check of {data.check_day:%-d %B}")
    # The patient's answers carry no area: they count for every area, as a history entry
    # without one does, and the clinician looks on the day.
    for answer in data.reported:
        if answer.factor_id != factor.pk:
            continue
        said = f"as the patient answered on {answer.answered_on:%-d %B}"
        if factor.kind in (Factor.Kind.TREATMENT, Factor.Kind.EXPOSURE):
            if windows.counts(answer.day, on, window, unit):
                found.append(f"{factor.name} {_when(answer.day, on)}, {said}")
        elif windows.period_counts(answer.day, answer.until, on, window, unit):
            found.append(f"{factor.name} since {answer.day:%-d %B}, {said}")
    return found


def _session_evidence(
    rule: ScreeningRule,
    data: ScreeningData,
    *,
    modality: Modality,
    on: date,
    area_id: int | None,
    exclude_session_id: int | None,
    applies: bool,
) -> list[str]:
    """The patient's sessions here that fire the rule, in date order. Looking back (when the
    rule applies to this session): a session of a modality that counts as the rule's factor,
    within the look-back. Looking forward (when this session is itself such a treatment, a
    laser): a session the rule protects (a microdermabrasion), not yet done, booked within the
    window after it."""
    counted = _ids(rule).counted
    window, unit = rule.window, rule.window_unit
    found: list[str] = []
    for fact in data.sessions:
        if fact.id == exclude_session_id:
            continue
        if rule.same_area_only and area_id and not data.areas.overlapping(area_id) & fact.area_ids:
            continue
        if applies and fact.modality.pk in counted and windows.counts(fact.day, on, window, unit):
            found.append(f"{fact.modality.name} session here {_when(fact.day, on)}")
        elif (
            modality.pk in counted
            and fact.day > on
            and windows.counts(on, fact.day, window, unit)
            and fact.status != Session.Status.COMPLETED
            and _applies(rule, fact.modality.pk, fact.level_id)
        ):
            found.append(f"a {fact.modality.name} session is booked {_when(fact.day, on)}")
    return found


def evaluate(
    data: ScreeningData,
    *,
    modality: Modality,
    depth_level: DepthLevel | None,
    on: date,
    body_area: BodyArea | None = None,
    exclude_session_id: int | None = None,
) -> list[Finding]:
    """The pure part of screen(): no queries beyond what `data` holds."""
    if not modality.is_treatment:
        # A consultation treats nothing: a cold sore or a tan does not stop a talk.
        return []
    area_id = body_area.pk if body_area else None
    level_id = depth_level.pk if depth_level else None
    findings: list[Finding] = []
    for rule in data.rules:
        applies = _applies(rule, modality.pk, level_id)
        evidence = _record_evidence(rule, data, on=on, area_id=area_id) if applies else []
        evidence += _session_evidence(
            rule,
            data,
            modality=modality,
            on=on,
            area_id=area_id,
            exclude_session_id=exclude_session_id,
            applies=applies,
        )
        if evidence:
            findings.append(
                Finding(
                    severity=rule.severity,
                    reason=reason_text(rule, evidence),
                    rule_name=rule.name,
                    rule=rule,
                )
            )
    if area_id is not None:
        findings.extend(_interval_findings(data, modality, on, area_id, exclude_session_id))
    findings.sort(key=lambda finding: (not finding.is_absolute, finding.rule_name))
    return findings


def reason_text(rule: ScreeningRule, evidence: list[str]) -> str:
    """What staff read when `rule` fires: its reason, then its window from the rule's data and
    the evidence, e.g. "No microdermabrasion after a laser or IPL treatment. (within 7 days:
    Laser resurfacing session here on 10 March, 5 days before)"."""
    window = f"within {rule.window_text}: " if rule.window else ""
    return f"{rule.reason} ({window}{'; '.join(evidence)})"


def applies(rule: ScreeningRule, modality_id: int, level_id: int | None) -> bool:
    """Whether `rule` screens a session of this modality at this level (None: any level)."""
    return _applies(rule, modality_id, level_id)


def _interval_findings(data, modality, on, area_id, exclude_session_id) -> list[Finding]:
    gap = modality.min_interval_days
    findings = []
    for fact in data.sessions:
        if fact.id == exclude_session_id or fact.modality.pk != modality.pk:
            continue
        if not data.areas.overlapping(area_id) & fact.area_ids or abs((on - fact.day).days) >= gap:
            continue
        findings.append(
            Finding(
                severity=ABSOLUTE,
                reason=(
                    f"Another {modality.name} session of this or an overlapping area is "
                    f"{_when(fact.day, on)}; sessions of the same area need at least {gap} days "
                    "between them."
                ),
                rule_name=INTERVAL_RULE_NAME,
            )
        )
    return findings
