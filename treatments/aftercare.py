"""Aftercare: the catalogue's rules turned into dated instructions for one completed session.

A session's aftercare is computed from the rules once, when it is recorded, and kept on the
session (`Session.aftercare`); what a patient was told then stays what they read later, however
the rules change. Only a session completed before aftercare was kept is computed from the
current rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from .models import AftercareRule, Session

# Each rule with the ids of the depth levels it is limited to (none: every level).
type Rules = list[tuple[AftercareRule, frozenset[int]]]


@dataclass(frozen=True)
class Instruction:
    """'until 14 December: no retinoids' — `until` is the last local day the instruction holds."""

    text: str
    until: date

    def __str__(self) -> str:
        return f"until {self.until:%-d %B}: {self.text}"


def aftercare_for(session: Session) -> list[Instruction]:
    """The aftercare instructions for a completed session, soonest ending first.

    Each AftercareRule that applies to the session's modality (or to every modality) and to
    its depth level (a rule without levels applies to all) gives one Instruction whose
    `until` is the session's local day (Europe/Amsterdam, from `completed_at`) plus the rule's
    `days`: a session on 11 December with "no retinoids for 3 days" gives until 14 December.
    Calendar days, so month ends and DST changes do not shift it. Returns [] for a session
    that is not completed. The instructions kept when the session was recorded, without a
    query; for a session completed before they were kept, computed from the current rules
    (two queries, one more if the session's plan is not already loaded).
    """
    if session.status != Session.Status.COMPLETED or session.day is None:
        return []
    if session.aftercare is not None:
        return _kept(session.aftercare)
    return computed(session)


def computed(session: Session) -> list[Instruction]:
    """The instructions the current rules give for `session` on its day."""
    if not session.plan.modality.is_treatment:
        return []  # a consultation leaves nothing to look after
    modality_id = session.plan.modality_id
    rules = _rules(
        AftercareRule.objects.filter(Q(modality_id=modality_id) | Q(modality__isnull=True))
    )
    return _instructions(session, modality_id, rules)


def aftercare_rules() -> Rules:
    """Every aftercare rule with its levels (two queries), for aftercare_for_many()."""
    return _rules(AftercareRule.objects.all())


def aftercare_longest(rules: Rules) -> int:
    """The most days any rule lasts: a session done longer ago has no instruction running."""
    return max((rule.days for rule, _ in rules), default=0)


def aftercare_for_many(sessions, rules: Rules | None = None) -> dict[int, list[Instruction]]:
    """aftercare_for() of several sessions, by session id: no query when every completed one
    kept its aftercare or the rules are given (aftercare_rules()), else two in all.

    The sessions' plans must be loaded (select_related("plan")) or the lookups cost one each.
    """
    sessions = list(sessions)
    done = [s for s in sessions if s.status == Session.Status.COMPLETED and s.day is not None]
    if rules is None and any(s.aftercare is None for s in done):
        rules = aftercare_rules()
    found = {session.pk: [] for session in sessions}
    for session in done:
        found[session.pk] = (
            _kept(session.aftercare)
            if session.aftercare is not None
            else _instructions(session, session.plan.modality_id, rules)
        )
    return found


def to_keep(instructions: list[Instruction]) -> list[dict]:
    """The instructions as kept on the session (JSON)."""
    return [{"text": i.text, "until": i.until.isoformat()} for i in instructions]


def _kept(kept: list[dict]) -> list[Instruction]:
    return [Instruction(text=i["text"], until=date.fromisoformat(i["until"])) for i in kept]


def _rules(rules) -> Rules:
    """Each rule with the ids of the depth levels it is limited to (none: every level).

    Read once per call, the levels as bare ids: asking each rule for its levels once per
    session built a related manager every time, and prefetching level objects to use only
    their ids cost more than both queries.
    """
    rules = list(rules)
    if not rules:
        return []
    levels: dict[int, set[int]] = {rule.pk: set() for rule in rules}
    links = AftercareRule.levels.through.objects.filter(aftercarerule_id__in=levels)
    for rule_id, level_id in links.values_list("aftercarerule_id", "depthlevel_id"):
        levels[rule_id].add(level_id)
    return [(rule, frozenset(levels[rule.pk])) for rule in rules]


def _instructions(session: Session, modality_id: int, rules: Rules) -> list[Instruction]:
    day = session.day
    instructions = [
        Instruction(text=rule.text, until=day + timedelta(days=rule.days))
        for rule, levels in rules
        if rule.modality_id in (None, modality_id)
        and (not levels or session.depth_level_id in levels)
    ]
    instructions.sort(key=lambda instruction: instruction.until)
    return instructions
