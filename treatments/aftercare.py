"""Aftercare: the catalogue's rules turned into dated instructions for one completed session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from .models import AftercareRule, Session


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
    that is not completed. Computed from the current rules on each call (two queries, one
    more if the session's plan is not already loaded).
    """
    if session.status != Session.Status.COMPLETED or session.day is None:
        return []
    modality_id = session.plan.modality_id
    rules = AftercareRule.objects.filter(
        Q(modality_id=modality_id) | Q(modality__isnull=True)
    ).prefetch_related("levels")
    return _instructions(session, modality_id, list(rules))


def aftercare_for_many(sessions) -> dict[int, list[Instruction]]:
    """aftercare_for() of several sessions in two queries in all, by session id.

    The sessions' plans must be loaded (select_related("plan")) or the lookups cost one each.
    """
    rules = list(AftercareRule.objects.prefetch_related("levels"))
    return {
        session.pk: _instructions(session, session.plan.modality_id, rules)
        if session.status == Session.Status.COMPLETED and session.day is not None
        else []
        for session in sessions
    }


def _instructions(session: Session, modality_id: int, rules) -> list[Instruction]:
    day = session.day
    instructions = []
    for rule in rules:
        if rule.modality_id not in (None, modality_id):
            continue
        levels = {level.pk for level in rule.levels.all()}
        if levels and session.depth_level_id not in levels:
            continue
        instructions.append(Instruction(text=rule.text, until=day + timedelta(days=rule.days)))
    instructions.sort(key=lambda instruction: instruction.until)
    return instructions
