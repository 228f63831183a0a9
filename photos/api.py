"""The photo API, for clinicians: multipart upload, listing, and choosing comparison pairs."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from core.api import RecordsLooks
from core.filters import IdFilter, PatientRecordsFilter
from core.looks import looked_at
from treatments.models import TreatmentPlan

from . import services, views
from .access import CLINICAL_PERMISSION
from .models import Comparison, Derivative, Photo
from .serializers import (
    ComparisonSerializer,
    PhotoPurposesSerializer,
    PhotoSerializer,
    ProposeSerializer,
)


class IsClinician(BasePermission):
    message = "Photos are for clinicians."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(CLINICAL_PERMISSION))


class PhotoFilter(PatientRecordsFilter):
    session = IdFilter(field_name="session_id", label="only this session's photos")


# The bytes themselves, whatever their type: the original as uploaded, derivatives and sheets.
FILE_RESPONSE = {(200, "*/*"): OpenApiTypes.BINARY}


def _served_by_the_page_view(request, pk: int, view, **kwargs):
    """The API's file endpoints answer through the pages' own view (the same access rules,
    audit and delivery, and its 404 for a variant or format it does not serve), with the user
    the API authenticated: a token client can fetch what it uploaded, where the page's URL
    sent it to the sign-in page. (The router's URL takes only a whole-number id.)"""
    return view(request._request, pk, **kwargs)


@extend_schema(tags=["photos"])
class PhotoViewSet(
    RecordsLooks,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Before/after photos. Upload one file per request (multipart); filter by session/patient."""

    serializer_class = PhotoSerializer
    permission_classes = [IsClinician]
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = PhotoFilter

    def get_queryset(self):
        return (
            Photo.objects.select_related("session", "quality")
            .prefetch_related(
                Prefetch("derivatives", queryset=Derivative.objects.order_by("-size"))
            )
            .order_by("id")
        )

    @extend_schema(responses=FILE_RESPONSE)
    @action(
        detail=True,
        methods=["get"],
        url_path="image/<str:variant>",
        url_name="image",
    )
    def image(self, request, pk: int, variant: str):
        """The photo's file: the original as uploaded, or a derivative (large, screen, grid)."""
        return _served_by_the_page_view(request, pk, views.image, variant=variant)

    @extend_schema(request=PhotoPurposesSerializer, responses=PhotoPurposesSerializer)
    @action(
        detail=True,
        methods=["get", "put"],
        url_path="consent",
        url_name="consent",
        parser_classes=[JSONParser, FormParser, MultiPartParser],
    )
    def consent(self, request, pk: int):
        """The uses the photo is consented for: read them, or put the full list (a use left
        out is withdrawn: audited, and the photo leaves that use at once)."""
        photo = self.get_object()
        if request.method == "PUT":
            body = PhotoPurposesSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            photo = services.photo_consent_update(
                photo=photo,
                purposes=body.validated_data["purposes"],
                by=request.user,
                request=request,
            )
        return Response(PhotoPurposesSerializer(photo).data)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.photo_upload(
            session=data["session"],
            body_area=data["body_area"],
            view=data["view"],
            view_label=data.get("view_label", ""),
            phase=data["phase"],
            # Left out of the form: the patient's standing photo consent.
            purposes=data.get("purposes") if "purposes" in self.request.data else None,
            file=data["file"],
            by=self.request.user,
            request=self.request,
        )


@extend_schema(tags=["photos"])
class ComparisonViewSet(
    RecordsLooks,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Comparisons the app proposed (or a clinician chose): change the photos, release them."""

    serializer_class = ComparisonSerializer
    permission_classes = [IsClinician]
    http_method_names = ["get", "patch", "post", "head", "options"]
    queryset = Comparison.objects.order_by("id")
    filterset_class = PatientRecordsFilter

    def perform_update(self, serializer):
        comparison = serializer.instance
        data = serializer.validated_data
        if {"before", "after", "middle"} & data.keys():
            comparison = services.comparison_update(
                comparison=comparison,
                before=data.get("before", comparison.before),
                after=data.get("after", comparison.after),
                middle=data.get("middle", comparison.middle),
                by=self.request.user,
                request=self.request,
            )
        if "released_to_portal" in data:
            comparison = services.comparison_release(
                comparison=comparison,
                released=data["released_to_portal"],
                by=self.request.user,
                request=self.request,
            )
        serializer.instance = comparison

    @extend_schema(responses=FILE_RESPONSE)
    @action(detail=True, methods=["get"], url_path="sheet/<str:fmt>", url_name="sheet")
    def sheet(self, request, pk: int, fmt: str):
        """The comparison sheet, as JPEG or PDF, once it is ready."""
        return _served_by_the_page_view(request, pk, views.sheet, fmt=fmt)

    @extend_schema(request=ProposeSerializer, responses=ComparisonSerializer(many=True))
    @action(detail=False, methods=["post"], pagination_class=None)  # a plain list, as documented
    def propose(self, request):
        """Let the app (re)propose the comparisons of a course; a clinician's choices stay."""
        body = ProposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = get_object_or_404(TreatmentPlan, pk=body.validated_data["plan"])
        services.comparisons_propose(plan=plan, by=request.user)
        comparisons = list(Comparison.objects.filter(plan=plan).order_by("id"))
        looked_at(request, many=comparisons, detail="proposed")
        return Response(
            ComparisonSerializer(comparisons, many=True).data, status=status.HTTP_200_OK
        )
