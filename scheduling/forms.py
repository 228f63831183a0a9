from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from .models import Booking, Practitioner


def practitioner_choices():
    return [
        (p.user_id, str(p)) for p in Practitioner.objects.filter(active=True).select_related("user")
    ]


class LocalDateTimeField(forms.DateTimeField):
    """A <input type="datetime-local"> read as clinic-local time."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class SlotSearchForm(forms.Form):
    first_day = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label="Days to search", min_value=1, max_value=60, initial=14)
    practitioner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    mornings_only = forms.BooleanField(required=False, label="Mornings only")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [("", "Anyone qualified"), *practitioner_choices()]
        self.fields["first_day"].initial = timezone.localdate()


class BookForm(forms.Form):
    starts_at = LocalDateTimeField(label="Date and time")
    practitioner = forms.TypedChoiceField(coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = practitioner_choices()


class CancelForm(forms.Form):
    cancelled_by = forms.ChoiceField(
        label="Cancelled by", choices=Booking.CancelledBy.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(max_length=300, label="Reason")


def aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value
