"""The API's pagination: ?limit= and ?offset=, bounded. (Its own module: DRF imports the
pagination class while it loads its generic views.)"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, pagination

from . import params


class Pagination(pagination.LimitOffsetPagination):
    """?limit= and ?offset=, both bounded; a value that is not a whole number in range is a 400
    rather than a silent default (or a database overflow)."""

    max_limit = 200
    max_offset = params.ID_MAX

    def get_limit(self, request):
        return self._number(request, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request):
        return self._number(request, self.offset_query_param, 0, self.max_offset, 0)

    def _number(self, request, name: str, minimum: int, maximum: int, default: int) -> int:
        value = request.query_params.get(name)
        if value is None:
            return default
        try:
            return params.parse_whole(value, minimum=minimum, maximum=maximum, what=name)
        except DjangoValidationError as error:
            raise exceptions.ValidationError({name: error.messages}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
