"""Query-string filters for the API (django-filter): a value that is not valid is a 400, never
silently ignored (which would answer with everyone's records)."""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from . import params
from .serializers import ID_SCHEMA


class IdFormField(forms.Field):
    def to_python(self, value):
        return params.optional(params.parse_id, value)


class IdFilter(django_filters.Filter):
    """`?name=<id>`: the records whose `field_name` is that id."""

    field_class = IdFormField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The schema: an integer in the id range, described by the label.
        schema = {**ID_SCHEMA, "description": kwargs.get("label") or ""}
        extend_schema_field(schema)(self)


class PatientRecordsFilter(django_filters.FilterSet):
    """`?patient=<id>`: one patient's records."""

    patient = IdFilter(field_name="patient_id", label="only this patient's records")
