from __future__ import annotations

from dataclasses import dataclass

from django import forms

from core.params import check_day, parse_id, parse_moment
from core.widgets import DateInput
from scheduling.models import ChangeRequest
from treatments import intake
from treatments.models import BodyArea, Factor, Indication, Intake
from treatments.services import PatientAnswer

from .services import MAX_MESSAGE

_MISSING_TIME = {"required": "Choose a time from the list of free times."}


class ReminderChoiceForm(forms.Form):
    sms = forms.BooleanField(required=False, label="Also send me a text message")


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why can you not come? (optional)",
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ChangeForm(forms.Form):
    message = forms.CharField(
        label="Which days or times would suit you better?",
        max_length=MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    preferred_times = forms.MultipleChoiceField(
        label="Times that usually suit you (optional)",
        required=False,
        choices=ChangeRequest.Preferred.choices,
        widget=forms.CheckboxSelectMultiple,
    )


class ChosenTimeForm(forms.Form):
    """A free time the patient chose from the list: its start (local time with its offset) and
    the practitioner the engine offered it with; the page's query string or the confirm form."""

    start = forms.CharField(widget=forms.HiddenInput, error_messages=_MISSING_TIME)
    practitioner = forms.CharField(widget=forms.HiddenInput, error_messages=_MISSING_TIME)

    def clean_start(self):
        return parse_moment(self.cleaned_data["start"])

    def clean_practitioner(self):
        return parse_id(self.cleaned_data["practitioner"])


class ConsultationTimeForm(ChosenTimeForm):
    body_area = forms.ModelChoiceField(
        label="Which area would you like to talk about?",
        queryset=BodyArea.objects.order_by("name"),
        empty_label="Choose an area",
        error_messages={
            "required": "Choose the area you would like to talk about.",
            "invalid_choice": "Choose an area from the list.",
        },
    )
    notes = forms.CharField(
        label="Anything we should know before we meet? (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


YES, NO = "yes", "no"


@dataclass
class Question:
    """One question of the patient's check as the page draws it: yes/no, and the day."""

    factor: Factor
    answer: forms.BoundField
    day: forms.BoundField | None


class PatientCheckForm(forms.Form):
    """The patient's own check before a session: one yes/no per day-to-day factor the
    session's screening asks about (the catalogue's data, in the clinic's plain words), with
    the day where the factor asks for one."""

    def __init__(self, *args, factors: list[Factor], **kwargs):
        super().__init__(*args, **kwargs)
        self.factors = factors
        for factor in factors:
            self.fields[factor.slug] = forms.ChoiceField(
                label=factor.question_for_patient,
                choices=[(YES, "Yes"), (NO, "No")],
                widget=forms.RadioSelect,
                error_messages={"required": "Please answer yes or no."},
            )
            if factor.patient_date_question:
                self.fields[self.day_field(factor.slug)] = forms.DateField(
                    label=factor.patient_date_question,
                    required=False,
                    widget=DateInput(),
                    validators=[check_day],
                    help_text="Only if you answered yes.",
                )

    @staticmethod
    def day_field(slug: str) -> str:
        return f"{slug}-day"

    def questions(self) -> list[Question]:
        return [
            Question(
                factor=factor,
                answer=self[factor.slug],
                day=self[self.day_field(factor.slug)]
                if self.day_field(factor.slug) in self.fields
                else None,
            )
            for factor in self.factors
        ]

    def answers(self) -> list[PatientAnswer]:
        data = self.cleaned_data
        return [
            PatientAnswer(
                factor=factor,
                answer=data[factor.slug] == YES,
                day=data.get(self.day_field(factor.slug)),
            )
            for factor in self.factors
        ]

    def add_service_error(self, error) -> None:
        """A refusal of the service, keyed by factor slug, shown at that question's day."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            field = self.day_field(key) if self.day_field(key) in self.fields else key
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


# How the questionnaire asks about each kind of factor: its section, and its dates' labels.
INTAKE_SECTIONS = {
    Factor.Kind.CONDITION: "Your health",
    Factor.Kind.MEDICATION: "Medicines and skin products",
    Factor.Kind.TREATMENT: "Treatments elsewhere",
    Factor.Kind.EXPOSURE: "Sun and waxing",
}
DATE_LABELS = {
    Factor.Kind.CONDITION: ("Since when? (if you know)", "Until when? (empty if it still applies)"),
    Factor.Kind.MEDICATION: ("Started (if you know)", "Stopped (empty if you still take it)"),
    Factor.Kind.TREATMENT: ("When was the last one?", None),
    Factor.Kind.EXPOSURE: ("When was the last time?", None),
}
YES_NO = [("yes", "Yes"), ("no", "No")]


@dataclass
class IntakeQuestion:
    """One question of the form with its bound fields, for the template."""

    factor: Factor
    present: forms.BoundField
    details: list[forms.BoundField]


class IntakeForm(forms.Form):
    """The health questionnaire: a yes or no to each question of the factor catalogue
    (treatments.intake.questions(), data an admin edits), with dates (and where, for what
    counts only in the treated area), then the skin type and what the patient wants treated.
    Each answer is checked by the rules of every history entry (treatments.intake)."""

    skin_type = forms.ChoiceField(
        label="Your skin type",
        choices=Intake.SkinType.choices,
        widget=forms.RadioSelect,
        help_text="How your skin reacts to the sun, without sunscreen.",
        error_messages={"required": "Choose the skin type that fits you best."},
    )
    goals = forms.ModelMultipleChoiceField(
        Indication.objects.all(),
        label="What would you like treated?",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    goal_areas = forms.ModelMultipleChoiceField(
        BodyArea.objects.all(),
        label="Where?",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    goals_note = forms.CharField(
        label="Anything else you would like us to know? (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, patient, questions: list[Factor], **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.questions = questions
        for factor in questions:
            key = f"f{factor.pk}"
            self.fields[f"{key}-present"] = forms.ChoiceField(
                label=factor.question,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )
            started, ended = DATE_LABELS[factor.kind]
            self.fields[f"{key}-started_on"] = forms.DateField(
                label=started, required=False, widget=DateInput()
            )
            if ended:
                self.fields[f"{key}-ended_on"] = forms.DateField(
                    label=ended, required=False, widget=DateInput()
                )
            if getattr(factor, "needs_area", False):
                self.fields[f"{key}-body_area"] = forms.ModelChoiceField(
                    BodyArea.objects.all(),
                    label="Where on your body?",
                    required=False,
                    empty_label="(choose)",
                )

    def sections(self) -> list[tuple[str, list[IntakeQuestion]]]:
        grouped: dict[str, list[IntakeQuestion]] = {}
        for factor in self.questions:
            key = f"f{factor.pk}"
            details = [
                self[name]
                for name in (f"{key}-started_on", f"{key}-ended_on", f"{key}-body_area")
                if name in self.fields
            ]
            question = IntakeQuestion(factor, self[f"{key}-present"], details)
            grouped.setdefault(INTAKE_SECTIONS[factor.kind], []).append(question)
        return list(grouped.items())

    def answers(self) -> list[intake.Answer]:
        data = self.cleaned_data
        return [
            intake.Answer(
                factor=factor,
                present=data.get(f"f{factor.pk}-present") == "yes",
                started_on=data.get(f"f{factor.pk}-started_on"),
                ended_on=data.get(f"f{factor.pk}-ended_on"),
                body_area=data.get(f"f{factor.pk}-body_area"),
            )
            for factor in self.questions
        ]

    def clean(self):
        data = super().clean()
        for answer in self.answers():
            if not data.get(f"f{answer.factor.pk}-present"):
                continue  # unanswered: its own field says so
            for name, messages in intake.answer_problems(
                patient=self.patient, answer=answer
            ).items():
                field = f"f{answer.factor.pk}-{name}"
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return data


def intake_initial(latest: Intake | None, reported: dict) -> dict:
    """The form as the patient left it: their latest questionnaire and their current reports."""
    if latest is None:
        return {}
    initial = {
        "skin_type": latest.skin_type,
        "goals": list(latest.goals.all()),
        "goal_areas": list(latest.goal_areas.all()),
        "goals_note": latest.goals_note,
    }
    for factor in latest.answered_no.all():
        initial[f"f{factor.pk}-present"] = "no"
    for factor_id, entry in reported.items():
        key = f"f{factor_id}"
        initial[f"{key}-present"] = "yes"
        initial[f"{key}-started_on"] = entry.started_on
        initial[f"{key}-ended_on"] = entry.ended_on
        initial[f"{key}-body_area"] = entry.body_area_id
    return initial
