from __future__ import annotations

import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.widgets import DateInput

from .models import AuditEvent


class AuditFilterForm(forms.Form):
    patient = forms.IntegerField(label="Patient number", required=False, min_value=1)
    user = forms.CharField(label="Username", required=False, max_length=150)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any"), *AuditEvent.Action.choices]
    )
    since = forms.DateField(label="From", required=False, widget=DateInput())
    until = forms.DateField(
        label="Up to and including",
        required=False,
        widget=DateInput(),
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> dict:
        """Keyword arguments for AuditEventQuerySet.filtered(); days are clinic-local."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()

        def start_of(day: datetime.date) -> datetime.datetime:
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)

        actor_id = None
        if data.get("user"):
            actor_id = (
                get_user_model()
                .objects.filter(username__iexact=data["user"].strip())
                .values_list("pk", flat=True)
                .first()
            ) or 0  # an unknown username matches nothing
        return {
            "patient_id": data.get("patient"),
            "actor_id": actor_id,
            "action": data.get("action") or "",
            "since": start_of(data["since"]) if data.get("since") else None,
            "until": start_of(data["until"] + datetime.timedelta(days=1))
            if data.get("until")
            else None,
        }
