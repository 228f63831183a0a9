"""The API's shared parts: one exception handler (domain ValidationErrors become 400s with
their message), the JSON 404 and the mixin that audits every look at patient data. (Bounded
pagination is in core.pagination, the schema of error answers in core.schema.)"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from .looks import looked_at


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


class RecordsLooks:
    """For every viewset of patient data: each object it loads (retrieve, update and every
    detail action go through get_object) and each page it lists is declared a look, which the
    audit middleware records, one event per patient shown."""

    def get_object(self):
        obj = super().get_object()
        looked_at(self.request, obj)
        return obj

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # Without a paginator the whole queryset is shown; iterating it fills its cache, which
        # the list then serialises without another query.
        looked_at(self.request, many=page if page is not None else queryset, detail="list")
        return page
