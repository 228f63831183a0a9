"""The API's shared parts: one exception handler (domain ValidationErrors become 400s with
their message) and the mixin that audits every look at patient data."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from .looks import looked_at


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


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
