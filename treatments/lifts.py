"""When a screening finding lifts: the first day the rules no longer refuse.

Worked out with the engine itself (screening.evaluate, in memory, on data loaded once), so the
date given is the one the booking engine, the planner and the gate will agree with, whatever
the rule's window is made of. A finding that lasts until the history says otherwise (a
condition or a medication still ongoing) has no such day within the horizon: None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from . import screening as engine
from .models import BodyArea, DepthLevel, Modality

# Longer than any look-back (six calendar months, a year) with room to spare.
HORIZON_DAYS = 400

Select = Callable[[engine.Finding], bool]


def absolute(finding: engine.Finding) -> bool:
    """The findings that refuse a day outright (the built-in interval is the course's spacing,
    not a finding about the patient)."""
    return finding.is_absolute and finding.rule is not None


def from_rules(finding: engine.Finding) -> bool:
    """Every finding of a screening rule, absolute or relative."""
    return finding.rule is not None


def first_clear_day(
    data: engine.ScreeningData,
    *,
    modality: Modality,
    depth_level: DepthLevel | None,
    body_area: BodyArea | None,
    start: date,
    exclude_session_id: int | None = None,
    select: Select = absolute,
    horizon_days: int = HORIZON_DAYS,
) -> date | None:
    """The first day from `start` on which no selected finding fires; None within the horizon.

    Steps a day at a time evaluating only the rules that fired (cheap), and checks every rule
    again on the day they stop, in case another one takes over.
    """
    last = start + timedelta(days=horizon_days)

    def found(rules_data, day):
        return [
            finding
            for finding in engine.evaluate(
                rules_data,
                modality=modality,
                depth_level=depth_level,
                on=day,
                body_area=body_area,
                exclude_session_id=exclude_session_id,
            )
            if select(finding)
        ]

    day = start
    while day <= last:
        firing = found(data, day)
        if not firing:
            return day
        names = {finding.rule_name for finding in firing}
        only = replace(data, rules=[rule for rule in data.rules if rule.name in names])
        day += timedelta(days=1)
        while day <= last and found(only, day):
            day += timedelta(days=1)
    return None
