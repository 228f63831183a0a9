from django import forms

from core.widgets import DateInput

from .models import Patient


class PatientForm(forms.ModelForm):
    # Shown only once likely duplicates were found: the person saving says they checked.
    different_person = forms.BooleanField(
        required=False,
        label="This is a different person: save the record anyway",
    )

    class Meta:
        model = Patient
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "sms_reminders",
            "notes",
        ]
        widgets = {
            "date_of_birth": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def detail_fields(self):
        """The record's own fields, without the duplicate confirmation."""
        return [field for field in self if field.name != "different_person"]
