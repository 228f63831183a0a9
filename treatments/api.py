"""The treatments API: the catalogue (read), plans, sessions, screenings and medical history."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from core.api import RecordsLooks
from core.filters import PatientRecordsFilter
from core.looks import looked_at
from core.permissions import ModelPermissions

from . import consents, services
from .aftercare import aftercare_for
from .models import (
    BodyArea,
    ConsentSignature,
    Factor,
    HistoryEntry,
    Indication,
    Modality,
    PhotoConsent,
    Screening,
    ScreeningFinding,
    ScreeningRule,
    Session,
    TreatmentPlan,
)
from .serializers import (
    BodyAreaSerializer,
    CheckSerializer,
    ConsentSignatureSerializer,
    FactorSerializer,
    HistoryEntrySerializer,
    IndicationSerializer,
    InstructionSerializer,
    ModalitySerializer,
    OverrideSerializer,
    PhotoConsentSerializer,
    PlanCreatedSerializer,
    PlanCreateSerializer,
    PlanRefusedSerializer,
    PlanSerializer,
    RecordSerializer,
    ScreeningRuleSerializer,
    ScreeningSerializer,
    SessionSerializer,
)


def _screenings():
    return Screening.objects.prefetch_related(
        Prefetch("findings", queryset=ScreeningFinding.objects.order_by("id"))
    )


def requires(permission: str) -> type[BasePermission]:
    """A DRF permission class for one Django permission, for actions beyond CRUD."""

    class HasPermission(BasePermission):
        def has_permission(self, request, view) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(permission))

    return HasPermission


class PatientFilterMixin(RecordsLooks):
    """`?patient=<id>` narrows a list to one patient's records (a value that is not an id is a
    400); reading any is audited."""

    filterset_class = PatientRecordsFilter


@extend_schema(tags=["catalogue"])
class ModalityViewSet(viewsets.ReadOnlyModelViewSet):
    """Modalities with their depth levels and the indications they treat."""

    serializer_class = ModalitySerializer
    permission_classes = [ModelPermissions]
    queryset = Modality.objects.prefetch_related("levels", "treats")


@extend_schema(tags=["catalogue"])
class IndicationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = IndicationSerializer
    permission_classes = [ModelPermissions]
    queryset = Indication.objects.all()


@extend_schema(tags=["catalogue"])
class BodyAreaViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BodyAreaSerializer
    permission_classes = [ModelPermissions]
    queryset = BodyArea.objects.all()


@extend_schema(tags=["catalogue"])
class FactorViewSet(viewsets.ReadOnlyModelViewSet):
    """What screening asks about; those `in_pre_session_check` make the check before a session."""

    serializer_class = FactorSerializer
    permission_classes = [ModelPermissions]
    queryset = Factor.objects.prefetch_related("counts_modalities")


@extend_schema(tags=["catalogue"])
class ScreeningRuleViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ScreeningRuleSerializer
    permission_classes = [ModelPermissions]
    queryset = ScreeningRule.objects.prefetch_related("modalities", "levels")


@extend_schema(tags=["plans"])
class PlanViewSet(
    PatientFilterMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Courses with their progress. Creating one proposes its dated sessions and screens it."""

    serializer_class = PlanSerializer
    permission_classes = [ModelPermissions]
    queryset = TreatmentPlan.objects.all()

    def get_queryset(self):
        return TreatmentPlan.objects.with_progress()

    @extend_schema(
        request=PlanCreateSerializer,
        responses={201: PlanCreatedSerializer, 400: PlanRefusedSerializer},
    )
    def create(self, request, *args, **kwargs):
        """Plans a course and screens it for its first day. An absolute finding refuses it:
        400 with the reasons, the first possible start date and the refusing screening."""
        shape = PlanCreateSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        try:
            plan = services.plan_create(**shape.validated_data, by=request.user)
        except services.PlanRefused as refused:
            return Response(PlanRefusedSerializer(refused).data, status=status.HTTP_400_BAD_REQUEST)
        plan = self.get_queryset().get(pk=plan.pk)
        screening = _screenings().filter(plan=plan).first()
        data = {**PlanSerializer(plan).data, "screening": ScreeningSerializer(screening).data}
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["sessions"])
class SessionViewSet(PatientFilterMixin, viewsets.ReadOnlyModelViewSet):
    """Sessions; clinicians screen them (with the day's check) and record them."""

    serializer_class = SessionSerializer
    permission_classes = [ModelPermissions]
    queryset = Session.objects.all()

    def get_queryset(self):
        return Session.objects.prefetch_related("areas").order_by("patient", "plan", "number")

    def get_permissions(self):
        needed = {
            "record": "treatments.record_session",
            "screen": "treatments.add_screening",
        }.get(self.action)
        if needed:
            return [requires(needed)()]
        return super().get_permissions()

    @extend_schema(request=RecordSerializer, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        """Records what was done and completes the session. Needs today's screening to allow it."""
        session = self.get_object()
        shape = RecordSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        session = services.session_record(session=session, **shape.validated_data, by=request.user)
        return Response(SessionSerializer(session).data)

    @extend_schema(request=CheckSerializer, responses={201: ScreeningSerializer})
    @action(detail=True, methods=["post"])
    def screen(self, request, pk=None):
        """Stores today's pre-session check and screens the session against it."""
        session = self.get_object()
        shape = CheckSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        screening = services.session_check_and_screen(
            session=session,
            present=shape.validated_data.get("present", []),
            notes=shape.validated_data.get("notes", ""),
            by=request.user,
        )
        return Response(ScreeningSerializer(screening).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: InstructionSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None)  # a plain list, as documented
    def aftercare(self, request, pk=None):
        """Dated aftercare instructions of a completed session (empty before it is completed)."""
        session = get_object_or_404(Session.objects.select_related("plan"), pk=pk)
        self.check_object_permissions(request, session)
        looked_at(request, session, detail="aftercare")
        return Response(InstructionSerializer(aftercare_for(session), many=True).data)


@extend_schema(tags=["screenings"])
class ScreeningViewSet(PatientFilterMixin, viewsets.ReadOnlyModelViewSet):
    """Stored screenings with their findings and any override."""

    serializer_class = ScreeningSerializer
    permission_classes = [ModelPermissions]
    queryset = Screening.objects.all()

    def get_queryset(self):
        return _screenings()

    def get_permissions(self):
        if self.action == "override":
            return [requires("treatments.override_screening")()]
        return super().get_permissions()

    @extend_schema(request=OverrideSerializer, responses={200: ScreeningSerializer})
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """Proceeds despite relative findings; the reason is required."""
        screening = self.get_object()
        shape = OverrideSerializer(data=request.data)
        shape.is_valid(raise_exception=True)
        services.screening_override(
            screening=screening,
            category=shape.validated_data["category"],
            reason=shape.validated_data["reason"],
            by=request.user,
        )
        return Response(ScreeningSerializer(self.get_queryset().get(pk=screening.pk)).data)


@extend_schema(tags=["history"])
class HistoryEntryViewSet(
    PatientFilterMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """A patient's medical history: conditions, medications, treatments elsewhere, exposures."""

    serializer_class = HistoryEntrySerializer
    permission_classes = [ModelPermissions]
    queryset = HistoryEntry.objects.all()

    def get_queryset(self):
        return HistoryEntry.objects.all()

    def perform_create(self, serializer):
        serializer.instance = services.history_add(
            **serializer.validated_data, by=self.request.user
        )

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        changes.pop("patient", None)  # an entry stays with its patient
        serializer.instance = services.history_update(
            entry=serializer.instance, **changes, by=self.request.user
        )


@extend_schema(tags=["consent"])
class PhotoConsentViewSet(
    PatientFilterMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients' standing photo consent, newest first: each record as decided (signed with a
    consent form, changed in the portal, or by staff). POST records a change on the patient's
    word; a purpose left out is withdrawn from the patient's existing photos at once."""

    serializer_class = PhotoConsentSerializer
    permission_classes = [ModelPermissions]
    queryset = PhotoConsent.objects.latest_first()

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = consents.photo_consent_record(
            patient=data["patient"],
            purposes=data["purposes"],
            source=PhotoConsent.Source.STAFF,
            by=self.request.user,
            request=self.request,
        )


@extend_schema(tags=["consent"])
class ConsentSignatureViewSet(PatientFilterMixin, viewsets.ReadOnlyModelViewSet):
    """Signed consent forms: which version of which modality's form, when, where and from
    which address."""

    serializer_class = ConsentSignatureSerializer
    permission_classes = [ModelPermissions]
    queryset = (
        ConsentSignature.objects.select_related("version__form")
        .defer("signature_png")
        .order_by("-signed_at", "-id")
    )
