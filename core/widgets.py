from __future__ import annotations

from django import forms


class DateInput(forms.DateInput):
    """<input type="date">: browsers keep only an ISO value (YYYY-MM-DD) and throw away the
    locale's "02/03/2026", so the form would come back empty."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")
