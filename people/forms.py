from django import forms

from core.widgets import DateInput

from .models import Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["first_name", "last_name", "date_of_birth", "email", "phone", "notes"]
        widgets = {
            "date_of_birth": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
