from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets

from core.api import RecordsLooks
from core.permissions import ModelPermissions

from . import services
from .models import Patient
from .serializers import PatientSerializer


@extend_schema(tags=["patients"])
class PatientViewSet(
    RecordsLooks,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients, for staff. Search with ?q= by name, phone or date of birth."""

    serializer_class = PatientSerializer
    permission_classes = [ModelPermissions]
    queryset = Patient.objects.all()

    def get_queryset(self):
        query = self.request.query_params.get("q", "").replace("\x00", "").strip()
        return Patient.objects.search(query) if query else Patient.objects.all()

    @extend_schema(parameters=[OpenApiParameter("q", str, description="name, phone or YYYY-MM-DD")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.patient_create(
            **serializer.validated_data, by=self.request.user
        )

    def perform_update(self, serializer):
        serializer.instance = services.patient_update(
            patient=serializer.instance, **serializer.validated_data, by=self.request.user
        )
