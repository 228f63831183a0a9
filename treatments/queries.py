"""Reads for staff pages that more than one app draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch

from .models import PreSessionAnswer, PreSessionCheck


@dataclass(frozen=True)
class PatientAnswers:
    """What the patient answered in their own check before a session, for the clinician, who
    still makes the day's check: the day they answered and their yes answers."""

    answered_on: date
    yes: list[str]
    asked: int

    @property
    def text(self) -> str:
        """ "Patient answered on 4 December: Active cold sore (herpes), since 3 December; no to
        the other 6 questions." """
        head = f"Patient answered on {self.answered_on:%-d %B}: "
        if not self.yes:
            return head + f"no to all {self.asked} questions."
        others = self.asked - len(self.yes)
        rest = f"; no to the other {others}" if others else ""
        return head + "; ".join(self.yes) + rest + "."


def patient_answers_for(session_ids: list[int]) -> dict[int, PatientAnswers]:
    """Each session's latest check by the patient (two queries however many sessions)."""
    if not session_ids:
        return {}
    checks = (
        PreSessionCheck.objects.filter(
            session_id__in=session_ids, source=PreSessionCheck.Source.PATIENT
        )
        .order_by("session_id", "-checked_at", "-id")
        .prefetch_related(
            Prefetch("answers", PreSessionAnswer.objects.select_related("factor").order_by("id"))
        )
    )
    found: dict[int, PatientAnswers] = {}
    for check in checks:
        if check.session_id in found:
            continue
        answers = list(check.answers.all())
        found[check.session_id] = PatientAnswers(
            answered_on=check.checked_on,
            yes=[_said(answer) for answer in answers if answer.answer],
            asked=len(answers),
        )
    return found


def _said(answer: PreSessionAnswer) -> str:
    if answer.day is None:
        return answer.factor.name
    word = "on" if answer.factor.is_dated else "since"
    return f"{answer.factor.name}, {word} {answer.day:%-d %B}"
