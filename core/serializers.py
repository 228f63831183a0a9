"""API fields for what clients send, each checked by the one rule in core.params, and the
ModelSerializer that uses them for every model field, so a new serializer cannot forget them."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import params

ID_SCHEMA = {"type": "integer", "minimum": params.ID_MIN, "maximum": params.ID_MAX}


def _checked(parse, value):
    try:
        return parse(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from None


@extend_schema_field(ID_SCHEMA)
class IdField(serializers.IntegerField):
    """A record id: never a boolean, a fraction or digits other than ASCII."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", params.ID_MIN)
        kwargs.setdefault("max_value", params.ID_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return _checked(params.parse_id, data)


class DayField(serializers.DateField):
    """A date, YYYY-MM-DD in ASCII digits, between 1900 and 2100."""

    def to_internal_value(self, value):
        return _checked(params.parse_day, value)


class MomentField(serializers.DateTimeField):
    """A date and time in ISO 8601, ASCII digits, between 1900 and 2100."""

    def to_internal_value(self, value):
        return self.enforce_timezone(_checked(params.parse_moment, value))


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related record by id, the id checked before the database is asked."""

    def to_internal_value(self, data):
        return super().to_internal_value(_checked(params.parse_id, data))

    @classmethod
    def many_init(cls, *args, **kwargs):
        # Many ids are looked up in one query, not one query per id.
        return RecordsField(
            queryset=kwargs.pop("queryset", None),
            **{k: v for k, v in kwargs.items() if k in RecordsField.PASSED_ON},
        )


@extend_schema_field({"type": "array", "items": ID_SCHEMA, "maxItems": params.MAX_IDS})
class RecordsField(serializers.Field):
    """A list of records by id: at most MAX_IDS, fetched in one query, returned in the order
    given (an id given twice gives its record twice)."""

    PASSED_ON = {"required", "allow_empty", "help_text", "default", "read_only", "label"}

    default_error_messages = {
        "does_not_exist": "No record with id {ids}.",
        "empty": "Give at least one id.",
    }

    def __init__(self, *, queryset=None, allow_empty: bool = True, **kwargs):
        self.queryset = queryset
        self.allow_empty = allow_empty
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        ids = _checked(params.parse_ids, data)
        if not ids and not self.allow_empty:
            self.fail("empty")
        found = self.queryset.all().in_bulk(ids)
        if missing := [str(pk) for pk in dict.fromkeys(ids) if pk not in found]:
            self.fail("does_not_exist", ids=", ".join(missing))
        return [found[pk] for pk in ids]

    def to_representation(self, value):
        records = value.all() if hasattr(value, "all") else value
        return [record.pk for record in records]


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with the checked fields for ids and dates."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: DayField,
        models.DateTimeField: MomentField,
    }
    serializer_related_field = PrimaryKeyRelatedField
