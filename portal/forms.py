from django import forms

from core.params import parse_id, parse_moment
from scheduling.models import ChangeRequest
from treatments.models import BodyArea

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
