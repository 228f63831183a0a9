"""The API schema's class: drf-spectacular's, with every error answer documented."""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """A refusal: what went wrong, for a person to read."""

    detail = serializers.CharField()


class InvalidSerializer(serializers.Serializer):
    """A 400: messages by field name (`non_field_errors` for the request as a whole), or a
    `detail` when the body could not be read at all."""

    detail = serializers.CharField(required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


ERROR_ANSWERS = {
    "400": InvalidSerializer,
    "401": ErrorSerializer,
    "403": ErrorSerializer,
    "404": ErrorSerializer,
    "405": ErrorSerializer,
    "415": ErrorSerializer,
    "429": ErrorSerializer,
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give: a new view
    is documented with them without having to list them."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, serializer in ERROR_ANSWERS.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(serializer, code, direction=direction)
        return responses
