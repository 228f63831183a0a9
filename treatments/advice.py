"""What a booked patient is asked to avoid before a session, dated from the screening rules.

A rule with `patient_advice` and a window asks the patient to avoid its factor from the first
day that would still count on the session day (treatments/windows.py): waxing within 7 days of
a session on 23 March means "from 16 March: no waxing in the treated area". The words and the
dates come from the rules, so an edit to a rule changes the next email and portal page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import ScreeningRule
from .screening import applies
from .windows import first_day_counted


@dataclass(frozen=True)
class Advice:
    """'From 16 March: no waxing in the treated area' — `since` is the first day it holds."""

    since: dt.date
    text: str


def advice_rules() -> list[ScreeningRule]:
    """The active rules that ask something of a booked patient (three queries)."""
    return list(
        ScreeningRule.objects.filter(active=True, window__isnull=False)
        .exclude(patient_advice="")
        .prefetch_related("modalities", "levels", "factor__counts_modalities")
        .select_related("factor")
        .order_by("name")
    )


def before_session(
    *, modality_id: int, level_id: int | None, day: dt.date, rules: list[ScreeningRule]
) -> list[Advice]:
    """The advice for a session of this modality and level on `day`, earliest first."""
    found = [
        Advice(
            since=first_day_counted(day, rule.window, rule.window_unit), text=rule.patient_advice
        )
        for rule in rules
        if applies(rule, modality_id, level_id)
    ]
    return sorted(found, key=lambda advice: advice.since)
