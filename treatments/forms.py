from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import Prefetch

from core.params import check_day
from core.widgets import DateInput
from people.roles import users_who_treat

from . import windows
from .models import (
    BodyArea,
    DepthLevel,
    Factor,
    HistoryEntry,
    Indication,
    Modality,
    PhotoPurpose,
    Screening,
    ScreeningRule,
)

DATE = DateInput()


class HistoryEntryForm(forms.ModelForm):
    class Meta:
        model = HistoryEntry
        fields = ["factor", "started_on", "ended_on", "body_area", "notes"]
        labels = {
            "factor": "What",
            "started_on": "Since / on",
            "ended_on": "Until",
            "body_area": "Area (if it matters)",
        }
        help_texts = {
            "started_on": "For a treatment or exposure: the day it happened.",
            "ended_on": "Leave empty while the condition or medication continues.",
        }
        widgets = {"started_on": DATE, "ended_on": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["factor"].queryset = Factor.objects.order_by("kind", "name")


class PlanForm(forms.Form):
    indication = forms.ModelChoiceField(Indication.objects.all(), label="Indication")
    # Courses are of treatments; a consultation is booked at the desk on its own.
    modality = forms.ModelChoiceField(
        Modality.objects.exclude(kind=Modality.Kind.CONSULTATION), label="Modality"
    )
    body_area = forms.ModelChoiceField(BodyArea.objects.all(), label="Body area")
    first_date = forms.DateField(label="First session", widget=DATE, validators=[check_day])
    session_count = forms.IntegerField(
        label="Number of sessions",
        required=False,
        min_value=1,
        max_value=30,
        help_text="Empty: the modality's default from the catalogue.",
    )
    interval_days = forms.IntegerField(
        label="Interval (days)",
        required=False,
        min_value=1,
        max_value=365,
        help_text="Empty: the catalogue default; never below the modality's minimum.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


def check_question(factor: Factor) -> str:
    """The factor as the day's check asks it, with the longest window of its active rules
    (from their data): 'Laser or IPL treatment elsewhere (in the last 7 days)'."""
    rules = [rule for rule in factor.active_rules if rule.window]
    if not rules:
        return factor.name
    today = dt.date(2000, 1, 1)  # any day: only the windows' lengths are compared
    longest = max(rules, key=lambda r: windows.last_day_counted(today, r.window, r.window_unit))
    return f"{factor.name} (in the last {longest.window_text})"


class CheckQuestionsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return check_question(obj)


class PreSessionCheckForm(forms.Form):
    present = CheckQuestionsField(
        Factor.objects.filter(in_pre_session_check=True).prefetch_related(
            Prefetch("rules", ScreeningRule.objects.filter(active=True), to_attr="active_rules")
        ),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Today the patient has",
    )
    notes = forms.CharField(required=False, max_length=300)


class OverrideForm(forms.Form):
    override_category = forms.ChoiceField(
        choices=[("", "Choose…"), *Screening.OverrideCategory.choices],
        required=False,
        label="Why you may proceed",
    )
    override_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="In a sentence: why you proceed for this patient today",
    )


class PerformerField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class RecordForm(forms.Form):
    performed_by = PerformerField(
        users_who_treat(), label="Performed by", empty_label=None, required=False
    )
    depth_level = forms.ModelChoiceField(DepthLevel.objects.none(), label="Level used")
    areas = forms.ModelMultipleChoiceField(
        BodyArea.objects.all(), widget=forms.CheckboxSelectMultiple, label="Areas treated"
    )
    products = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, session, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["depth_level"].queryset = DepthLevel.objects.filter(
            modality_id=session.plan.modality_id
        )
        self.fields["depth_level"].initial = session.depth_level_id
        # A consultation has no depth: nothing to choose.
        self.fields["depth_level"].required = session.plan.modality.is_treatment
        self.fields["areas"].initial = [session.plan.body_area_id]
        # The booked practitioner, unless a colleague stepped in.
        self.fields["performed_by"].initial = session.practitioner_id or (user and user.pk)


class SessionLevelForm(forms.Form):
    depth_level = forms.ModelChoiceField(DepthLevel.objects.all(), label="Level")
    reason = forms.CharField(
        required=False,
        max_length=300,
        label="Reason, if the depth goes shallower or skips a level",
    )


class CorrectionForm(forms.Form):
    """A clinician's correction of what the patient reported: the dates, area and notes as
    found at the visit, or that it does not apply at all (with why)."""

    started_on = forms.DateField(label="Since / on", required=False, widget=DATE)
    ended_on = forms.DateField(label="Until", required=False, widget=DATE)
    body_area = forms.ModelChoiceField(
        BodyArea.objects.all(), label="Area (if it matters)", required=False
    )
    notes = forms.CharField(label="Notes", required=False, max_length=300)
    does_not_apply = forms.BooleanField(
        label="This does not apply to the patient (answered by mistake)", required=False
    )
    reason = forms.CharField(
        label="Why the correction",
        required=False,
        max_length=300,
        help_text="Kept with the patient's own answer. Required when it does not apply.",
    )

    @classmethod
    def for_entry(cls, entry: HistoryEntry, data=None) -> CorrectionForm:
        initial = {
            "started_on": entry.started_on,
            "ended_on": entry.ended_on,
            "body_area": entry.body_area_id,
            "notes": entry.notes,
        }
        return cls(data, initial=initial)


class ConsentSignForm(forms.Form):
    """A consent form as the patient signs it: the version read, the photo uses ticked, the
    name typed and the signature drawn (static/js/signature.js fills `signature` with the
    canvas's PNG)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    purposes = forms.MultipleChoiceField(
        choices=PhotoPurpose.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="My photos may be used for",
        help_text="What you tick here replaces your earlier choices, for the photos already "
        "taken too. You can withdraw any of these at any time under My consents.",
    )
    agree = forms.BooleanField(
        label="I have read this consent form and agree to the treatment it describes.",
        error_messages={"required": "Tick the box to say you have read and agree."},
    )
    signed_name = forms.CharField(
        max_length=200,
        label="Your full name",
        error_messages={"required": "Type your full name."},
    )
    signature = forms.CharField(
        widget=forms.HiddenInput,
        required=False,
        max_length=500_000,
        error_messages={"max_length": "The signature image is too large: draw it again."},
    )


class PhotoConsentForm(forms.Form):
    purposes = forms.MultipleChoiceField(
        choices=PhotoPurpose.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="My photos may be used for",
    )
