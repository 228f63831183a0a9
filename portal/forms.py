from django import forms

from scheduling.models import ChangeRequest

from .services import MAX_MESSAGE


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
