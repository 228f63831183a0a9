from __future__ import annotations

from dataclasses import dataclass

from django import forms

from core.params import check_day, parse_id, parse_moment
from core.widgets import DateInput
from scheduling.models import ChangeRequest
from treatments.models import BodyArea, Factor
from treatments.services import PatientAnswer

from .services import MAX_MESSAGE

_MISSING_TIME = {"required": "Choose a time from the list of free times."}


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
