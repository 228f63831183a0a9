from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.params import check_day
from core.widgets import DateInput
from people.forms import PatientForm
from treatments.models import BodyArea, CourseTemplate, Session

from .models import Booking, Practitioner, WaitlistEntry, WorkingHours
from .services import CourseChoice


def practitioner_choices():
    return [
        (p.user_id, str(p)) for p in Practitioner.objects.filter(active=True).select_related("user")
    ]


class LocalDateTimeField(forms.DateTimeField):
    """A <input type="datetime-local"> read as clinic-local time."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
    default_validators = [check_day]


class SlotSearchForm(forms.Form):
    first_day = forms.DateField(
        label="From",
        widget=DateInput(),
        validators=[check_day],
    )
    days = forms.IntegerField(label="Days to search", min_value=1, max_value=60, initial=14)
    practitioner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    mornings_only = forms.BooleanField(required=False, label="Mornings only")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [("", "Anyone qualified"), *practitioner_choices()]
        self.fields["first_day"].initial = timezone.localdate()


class ConsultationForm(forms.Form):
    """What the desk asks to book a first consultation: the area the patient comes about, and
    where to start looking for a free time. The patient, when new, comes from PatientForm."""

    body_area = forms.ModelChoiceField(
        BodyArea.objects.all(), label="Area the patient comes about", empty_label=None
    )
    first_day = forms.DateField(
        label="Look for a time from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[check_day],
    )
    practitioner = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Practitioner"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [("", "Anyone"), *practitioner_choices()]
        self.fields["first_day"].initial = timezone.localdate()
        face = BodyArea.objects.filter(slug="face").values_list("pk", flat=True).first()
        self.fields["body_area"].initial = face


class NewPatientForm(PatientForm):
    """The patient's details, asked on the consultation page when the patient is new."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="patient", **kwargs)
        self.fields.pop("notes")


class CourseProposalForm(forms.Form):
    template = forms.ModelChoiceField(
        CourseTemplate.objects.filter(active=True).select_related("modality", "body_area"),
        label="Course",
        empty_label="Choose a course…",
    )
    first_date = forms.DateField(
        label="First session around",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[check_day],
        help_text="The sessions are proposed from this day at the course's interval.",
    )
    notes = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}), label="Notes"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_date"].initial = timezone.localdate()

    def clean_first_date(self):
        day = self.cleaned_data["first_date"]
        if day < timezone.localdate():
            raise ValidationError("The first session cannot be in the past.")
        return day


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


class CourseSessionForm(forms.Form):
    """One row of the course booking: book this session or not, when, with whom."""

    session = forms.ModelChoiceField(queryset=Session.objects.none(), widget=forms.HiddenInput)
    include = forms.BooleanField(required=False)
    starts_at = LocalDateTimeField(required=False)
    practitioner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, sessions, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions
        self.fields["practitioner"].choices = practitioners

    def clean(self):
        data = super().clean()
        session = data.get("session")
        complete = data.get("starts_at") and data.get("practitioner")
        if session and data.get("include") and not complete:
            raise ValidationError(
                f"Session {session.number}: choose a date, a time and a practitioner."
            )
        return data


class BaseCourseFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        sessions = [form.cleaned_data["session"].pk for form in self.forms]
        if len(sessions) != len(set(sessions)):
            raise ValidationError("Each session can only be chosen once.")
        if not self.choices():
            raise ValidationError("Choose at least one session to book.")

    def choices(self):
        """The chosen sessions, once the formset is valid."""
        return [
            CourseChoice(
                form.cleaned_data["session"],
                aware(form.cleaned_data["starts_at"]),
                form.cleaned_data["practitioner"],
            )
            for form in self.forms
            if form.cleaned_data.get("include")
        ]

    def problems(self) -> list[str]:
        """Every error in words, for the list above the form."""
        problems = list(self.non_form_errors())
        for form in self.forms:
            problems += form.non_field_errors()
            if form.has_error("session"):
                problems.append("A session in the form is not one of this course's to book.")
        return problems


CourseFormSet = forms.formset_factory(
    CourseSessionForm, formset=BaseCourseFormSet, extra=0, max_num=200, validate_max=True
)


def aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value) if timezone.is_naive(value) else value


class HandleRequestForm(forms.Form):
    note = forms.CharField(
        label="Note to the patient",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Emailed to the patient and shown in their portal. Required to decline.",
    )


class WaitlistForm(forms.Form):
    """What a patient asks of the waiting list: a window of days, weekdays, a time of day."""

    earliest_day = forms.DateField(
        label="Earliest day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[check_day],
    )
    latest_day = forms.DateField(
        label="Latest day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[check_day],
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="Days that suit (none ticked: any day)",
        coerce=int,
        choices=WorkingHours.WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    times = forms.ChoiceField(
        label="Time of day",
        choices=WaitlistEntry.Times.choices,
        initial=WaitlistEntry.Times.ANY,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label="Anything else (optional)", required=False, max_length=300)

    def clean(self):
        data = super().clean()
        earliest, latest = data.get("earliest_day"), data.get("latest_day")
        if latest and latest < timezone.localdate():
            self.add_error("latest_day", "The latest day has passed; choose a day from today on.")
        if earliest and latest and latest < earliest:
            self.add_error("latest_day", "The latest day cannot be before the earliest day.")
        return data

    def window(self) -> dict:
        return {key: self.cleaned_data[key] for key in self.fields}
