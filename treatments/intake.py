"""The health questionnaire before the first visit, and a clinician's confirmation of it.

A patient answers the questions of the factor catalogue (`Factor.in_intake`, data an admin
edits) in the portal. Each "yes" becomes a history entry reported by the patient, which
screening reads at once (safety first: an unconfirmed report of isotretinoin refuses a peel as
surely as one the clinic typed). A clinician then confirms each report, or corrects it: a
correction is a new entry that replaces the report, which is kept as the patient gave it,
marked superseded with who, when and why. Nothing here rewrites an entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone

from audit.services import Action, audit_log, recorded
from people.models import Patient

from .models import BodyArea, Factor, HistoryEntry, Indication, Intake, ScreeningRule
from .services import sessions_rescreen

CONFIRM_PERMISSION = "treatments.confirm_historyentry"
# The questionnaire's sections, in the order a patient reads them.
KIND_ORDER = (
    Factor.Kind.CONDITION,
    Factor.Kind.MEDICATION,
    Factor.Kind.TREATMENT,
    Factor.Kind.EXPOSURE,
)


@dataclass(frozen=True)
class Answer:
    """A patient's answer to one question: whether it applies, and when (and where)."""

    factor: Factor
    present: bool
    started_on: dt.date | None = None
    ended_on: dt.date | None = None
    body_area: BodyArea | None = None
    notes: str = ""

    def entry(self, patient: Patient) -> HistoryEntry:
        """The history entry this answer reports (unsaved)."""
        return HistoryEntry(
            patient=patient,
            factor=self.factor,
            started_on=self.started_on,
            ended_on=self.ended_on,
            body_area=self.body_area,
            notes=self.notes.strip(),
            source=HistoryEntry.Source.PATIENT,
        )

    def says_the_same_as(self, entry: HistoryEntry) -> bool:
        return (entry.started_on, entry.ended_on, entry.body_area_id, entry.notes) == (
            self.started_on,
            self.ended_on,
            self.body_area.pk if self.body_area else None,
            self.notes.strip(),
        )


def questions() -> list[Factor]:
    """The questionnaire's questions, condition first, then medicines, treatments elsewhere and
    exposures; within a kind by name. Each factor carries `needs_area`: whether an active rule
    of it counts only in the treated area (waxing), so the answer asks where."""
    factors = list(
        Factor.objects.filter(in_intake=True).prefetch_related(
            Prefetch(
                "rules",
                queryset=ScreeningRule.objects.filter(active=True, same_area_only=True),
                to_attr="area_rules",
            )
        )
    )
    for factor in factors:
        factor.needs_area = bool(factor.area_rules)
    factors.sort(key=lambda factor: (KIND_ORDER.index(factor.kind), factor.name))
    return factors


def answer_problems(*, patient: Patient, answer: Answer) -> dict[str, list[str]]:
    """What is wrong with one answer, by field ("present", "started_on", "ended_on"); empty
    when it is fine. The dates follow the rules of every history entry (HistoryEntry.clean):
    nothing in the future but an expected end, no end before its start, a day for a treatment
    or an exposure."""
    if not answer.present:
        if answer.started_on or answer.ended_on:
            return {"present": ["You gave a date: answer yes, or clear the date."]}
        return {}
    try:
        answer.entry(patient).clean()
    except ValidationError as error:
        return error.message_dict
    return {}


def latest_intake(patient: Patient) -> Intake | None:
    return Intake.objects.for_patient(patient).latest_first().first()


def reported_entries(patient: Patient) -> dict[int, HistoryEntry]:
    """The patient's own current reports, by factor id (the latest if there are several)."""
    entries: dict[int, HistoryEntry] = {}
    for entry in (
        HistoryEntry.objects.for_patient(patient).current().reported().order_by("recorded_at", "id")
    ):
        entries[entry.factor_id] = entry
    return entries


def _supersede(entry: HistoryEntry, *, by, note: str, now: dt.datetime) -> None:
    entry.superseded_at = now
    entry.superseded_by = by
    entry.superseded_note = note[:300]
    entry.save(update_fields=["superseded_at", "superseded_by", "superseded_note"])


def intake_submit(
    *,
    patient: Patient,
    answers: Iterable[Answer],
    skin_type: str,
    goals: Iterable[Indication] = (),
    goal_areas: Iterable[BodyArea] = (),
    goals_note: str = "",
    by,
    request=None,
) -> Intake:
    """Records the patient's questionnaire: each "yes" a history entry reported by the patient
    (a changed answer replaces their earlier one, which is kept), each "no" noted on the
    intake, and their booked sessions screened again at once. Every submission is kept as a
    new Intake. Refused once a clinician has confirmed the questionnaire."""
    answers = list(answers)
    with recorded():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        earlier = latest_intake(patient)
        if earlier is not None and earlier.is_confirmed:
            raise ValidationError(
                "Your clinician has already gone through your answers with you. If something"
                " has changed, please tell us at your next visit or call the clinic."
            )
        problems = {
            f"{answer.factor.pk}-{name}": messages
            for answer in answers
            for name, messages in answer_problems(patient=patient, answer=answer).items()
        }
        if skin_type not in Intake.SkinType.values:
            problems["skin_type"] = ["Choose the skin type that fits you best."]
        reported = reported_entries(patient)
        # A report a clinician has confirmed is the clinic's now: a "no" from the patient
        # must not take it out of screening (a changed "yes" adds a report beside it).
        for answer in answers:
            old = reported.get(answer.factor.pk)
            if not answer.present and old is not None and old.confirmed_at is not None:
                problems[f"{answer.factor.pk}-present"] = [
                    "Your clinician has confirmed this with you. If it has changed, please tell"
                    " us at your next visit."
                ]
        if problems:
            raise ValidationError(problems)
        now = timezone.now()
        changed = False
        for answer in answers:
            old = reported.get(answer.factor.pk)
            if not answer.present:
                if old is not None:
                    _supersede(old, by=by, note="answered no in the questionnaire", now=now)
                    audit_log(
                        actor=by,
                        action=Action.CHANGE,
                        obj=old,
                        request=request,
                        detail="withdrawn by the patient in the questionnaire",
                    )
                    changed = True
                continue
            if old is not None and answer.says_the_same_as(old):
                continue
            entry = answer.entry(patient)
            entry.recorded_by = by
            entry.recorded_at = now
            confirmed = old is not None and old.confirmed_at is not None
            entry.corrects = None if confirmed else old
            entry.full_clean()
            if old is not None and not confirmed:
                _supersede(old, by=by, note="changed in the questionnaire", now=now)
            entry.save()
            audit_log(
                actor=by,
                action=Action.CREATE,
                obj=entry,
                request=request,
                detail="reported by the patient in the questionnaire",
            )
            changed = True
        intake = Intake(
            patient=patient,
            skin_type=skin_type,
            goals_note=goals_note.strip(),
            submitted_at=now,
            submitted_by=by,
        )
        intake.full_clean()
        intake.save()
        intake.goals.set(goals)
        intake.goal_areas.set(goal_areas)
        intake.answered_no.set([answer.factor for answer in answers if not answer.present])
        audit_log(
            actor=by,
            action=Action.CREATE if earlier is None else Action.CHANGE,
            obj=intake,
            request=request,
            detail="health questionnaire sent" if earlier is None else "questionnaire changed",
        )
        if changed:
            sessions_rescreen(patient=patient, by=by)
    return intake


# --- the clinician's side ---------------------------------------------------------------------


def _may_confirm(by) -> None:
    if not (by.is_superuser or by.has_perm(CONFIRM_PERMISSION)):
        raise ValidationError("Only a clinician confirms or corrects what a patient reported.")


def _current_report(entry: HistoryEntry) -> HistoryEntry:
    entry = HistoryEntry.objects.select_for_update().select_related("factor").get(pk=entry.pk)
    if not entry.is_reported:
        raise ValidationError("Only what a patient reported is confirmed or corrected here.")
    if not entry.is_current:
        raise ValidationError(
            "This answer was replaced since (the patient changed it, or it was corrected)."
        )
    return entry


def history_confirm(*, entry: HistoryEntry, by, request=None) -> HistoryEntry:
    """A clinician confirms the patient's report as it stands; confirming again changes
    nothing."""
    _may_confirm(by)
    with recorded():
        entry = _current_report(entry)
        if entry.confirmed_at is not None:
            return entry
        entry.confirmed_at = timezone.now()
        entry.confirmed_by = by
        entry.save(update_fields=["confirmed_at", "confirmed_by"])
        audit_log(
            actor=by, action=Action.CHANGE, obj=entry, request=request, detail="report confirmed"
        )
    return entry


def history_correct(
    *,
    entry: HistoryEntry,
    by,
    started_on: dt.date | None = None,
    ended_on: dt.date | None = None,
    body_area: BodyArea | None = None,
    notes: str = "",
    does_not_apply: bool = False,
    reason: str = "",
    request=None,
) -> HistoryEntry | None:
    """A clinician corrects the patient's report: a new entry of the clinic replaces it (its
    dates, area or notes as found at the visit), or, with `does_not_apply`, nothing does
    (ticked by mistake; a reason is required). The report is kept, marked superseded by the
    clinician. Screening reads the correction from now on, and booked sessions are screened
    again. Returns the new entry (None when the report does not apply)."""
    _may_confirm(by)
    reason = reason.strip()
    with recorded():
        entry = _current_report(entry)
        now = timezone.now()
        correction = None
        if does_not_apply:
            if not reason:
                raise ValidationError(
                    {"reason": "Say why this does not apply: the patient's answer is kept."}
                )
        else:
            correction = HistoryEntry(
                patient_id=entry.patient_id,
                factor=entry.factor,
                started_on=started_on,
                ended_on=ended_on,
                body_area=body_area,
                notes=notes.strip(),
                source=HistoryEntry.Source.CLINIC,
                recorded_by=by,
                recorded_at=now,
                corrects=entry,
            )
            correction.full_clean()
            unchanged = (started_on, ended_on, body_area, notes.strip()) == (
                entry.started_on,
                entry.ended_on,
                entry.body_area,
                entry.notes,
            )
            if unchanged:
                raise ValidationError(
                    "That is what the patient reported: confirm it instead, or change what differs."
                )
        note = reason or "corrected by the clinic"
        _supersede(entry, by=by, note=note, now=now)
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=entry,
            request=request,
            detail="report does not apply" if does_not_apply else "report corrected",
        )
        if correction is not None:
            correction.save()
            audit_log(
                actor=by,
                action=Action.CREATE,
                obj=correction,
                request=request,
                detail=f"correction of history entry {entry.pk}",
            )
        sessions_rescreen(patient=entry.patient, by=by)
    return correction


def intake_confirm(*, intake: Intake, by, request=None) -> Intake:
    """A clinician has gone through the whole questionnaire with the patient: every report of
    theirs still standing is confirmed, and the questionnaire is closed to changes from the
    portal."""
    _may_confirm(by)
    with recorded():
        intake = Intake.objects.select_for_update().get(pk=intake.pk)
        if intake.is_confirmed:
            raise ValidationError("This questionnaire is confirmed already.")
        latest = latest_intake(intake.patient_id)
        if latest is not None and latest.pk != intake.pk:
            raise ValidationError("The patient has sent a newer questionnaire: confirm that one.")
        now = timezone.now()
        waiting = list(
            HistoryEntry.objects.for_patient(intake.patient_id)
            .current()
            .reported()
            .filter(confirmed_at__isnull=True)
        )
        for entry in waiting:
            entry.confirmed_at, entry.confirmed_by = now, by
            entry.save(update_fields=["confirmed_at", "confirmed_by"])
            audit_log(
                actor=by,
                action=Action.CHANGE,
                obj=entry,
                request=request,
                detail="report confirmed",
            )
        intake.confirmed_at, intake.confirmed_by = now, by
        intake.save(update_fields=["confirmed_at", "confirmed_by"])
        audit_log(
            actor=by,
            action=Action.CHANGE,
            obj=intake,
            request=request,
            detail="questionnaire confirmed",
        )
    return intake


@dataclass
class ReportedHistory:
    """What the clinician's panel shows: the latest questionnaire, the patient's reports still
    standing, and those replaced, each with what replaced it."""

    intake: Intake | None
    standing: list[HistoryEntry] = field(default_factory=list)
    replaced: list[HistoryEntry] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return sum(1 for entry in self.standing if entry.confirmed_at is None)

    def __bool__(self) -> bool:
        return self.intake is not None or bool(self.standing or self.replaced)


def reported_history(patient) -> ReportedHistory:
    """The panel's content in four queries (the intake with its answers, the reports with
    their factor, area, confirmer and corrections), however long the history."""
    intake = (
        Intake.objects.for_patient(patient)
        .latest_first()
        .select_related("confirmed_by")
        .prefetch_related("goals", "goal_areas", "answered_no")
        .first()
    )
    reports = list(
        HistoryEntry.objects.for_patient(patient)
        .reported()
        .select_related("factor", "body_area", "confirmed_by", "superseded_by")
        .prefetch_related(
            Prefetch(
                "corrections",
                queryset=HistoryEntry.objects.select_related("body_area").order_by("id"),
            )
        )
        .order_by("factor__kind", "factor__name", "-recorded_at")
    )
    return ReportedHistory(
        intake=intake,
        standing=[entry for entry in reports if entry.is_current],
        replaced=[entry for entry in reports if not entry.is_current],
    )
