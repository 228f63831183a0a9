"""One exception handler for the API: domain ValidationErrors become 400s with their message.
(Bounded pagination is in core.pagination, the schema of error answers in core.schema.)"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ParseError(f"The request body is larger than {limit} bytes.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        # Every 400 is an object, as the schema says: bare messages are not about one field.
        response.data = {"non_field_errors": response.data}
    return response


def not_found(request, exception):
    """handler404: under /api/ a URL that resolves to nothing (a malformed id) is the API's
    JSON 404, as documented; elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such address in the API."}, status=404)
    return defaults.page_not_found(request, exception)
