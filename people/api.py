from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from core.api import RecordsLooks
from core.permissions import ModelPermissions

from . import services
from .models import Patient
from .serializers import LikelyDuplicateSerializer, PatientSerializer


@extend_schema(tags=["patients"])
class PatientViewSet(
    RecordsLooks,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients, for staff. Search with ?q= by name (accents and case aside), phone in any
    common format, or date of birth (12-04-1988, 1988-04-12). Creating or changing a record
    that looks like one on file answers 409 with the candidates, until `different_person`
    is sent."""

    serializer_class = PatientSerializer
    permission_classes = [ModelPermissions]
    queryset = Patient.objects.all()

    def get_queryset(self):
        query = self.request.query_params.get("q", "").replace("\x00", "").strip()
        return Patient.objects.search(query) if query else Patient.objects.all()

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="name, phone or date of birth as typed")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={201: PatientSerializer, 409: LikelyDuplicateSerializer})
    def create(self, request, *args, **kwargs):
        return self._unless_duplicate(super().create, request, *args, **kwargs)

    @extend_schema(responses={200: PatientSerializer, 409: LikelyDuplicateSerializer})
    def update(self, request, *args, **kwargs):
        return self._unless_duplicate(super().update, request, *args, **kwargs)

    @extend_schema(responses={200: PatientSerializer, 409: LikelyDuplicateSerializer})
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def _unless_duplicate(self, save, request, *args, **kwargs):
        try:
            return save(request, *args, **kwargs)
        except services.LikelyDuplicate as duplicate:
            typed = Patient(**self._typed)
            for candidate in duplicate.candidates:
                candidate.shared = candidate.shared_with(typed)
            services.duplicates_shown(
                candidates=duplicate.candidates, by=request.user, request=request
            )
            answer = LikelyDuplicateSerializer(
                {"detail": duplicate.messages[0], "candidates": duplicate.candidates}
            )
            return Response(answer.data, status=status.HTTP_409_CONFLICT)

    def perform_create(self, serializer):
        self._typed = _identifying(serializer.validated_data)
        serializer.instance = services.patient_create(
            **serializer.validated_data, by=self.request.user
        )

    def perform_update(self, serializer):
        current = {name: getattr(serializer.instance, name) for name in services.PATIENT_FIELDS}
        self._typed = _identifying({**current, **serializer.validated_data})
        serializer.instance = services.patient_update(
            patient=serializer.instance, **serializer.validated_data, by=self.request.user
        )


def _identifying(data: dict) -> dict:
    return {name: data.get(name, "") for name in services.IDENTIFYING_FIELDS}
