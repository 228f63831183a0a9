"""API shapes. Serializers check the shape; services enforce the clinical rules."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from core.serializers import DayField, ModelSerializer, PrimaryKeyRelatedField
from people.models import Patient

from .models import (
    BodyArea,
    ConsentSignature,
    DepthLevel,
    Factor,
    HistoryEntry,
    Indication,
    Modality,
    ModalityIndication,
    PhotoConsent,
    PhotoPurpose,
    Screening,
    ScreeningFinding,
    ScreeningRule,
    Session,
    TreatmentPlan,
)


class DepthLevelSerializer(ModelSerializer):
    class Meta:
        model = DepthLevel
        fields = [
            "id",
            "name",
            "rank",
            "layer_reached",
            "depth_micrometres",
            "needle_depth_mm",
            "expected_reaction",
            "downtime_days",
            "session_minutes",
        ]


class ModalityIndicationSerializer(ModelSerializer):
    class Meta:
        model = ModalityIndication
        fields = ["indication", "benefit", "note"]


class ModalitySerializer(ModelSerializer):
    levels = DepthLevelSerializer(many=True, read_only=True)
    treats = ModalityIndicationSerializer(many=True, read_only=True)

    class Meta:
        model = Modality
        fields = [
            "id",
            "kind",
            "name",
            "description",
            "default_session_count",
            "default_interval_days",
            "min_interval_days",
            "buffer_minutes",
            "typical_sessions",
            "levels_rise",
            "levels",
            "treats",
        ]


class IndicationSerializer(ModelSerializer):
    class Meta:
        model = Indication
        fields = ["id", "name", "slug", "description", "not_treatable_reason"]


class BodyAreaSerializer(ModelSerializer):
    class Meta:
        model = BodyArea
        fields = ["id", "name", "slug", "parent", "extra_sessions_note"]


class FactorSerializer(ModelSerializer):
    class Meta:
        model = Factor
        fields = ["id", "name", "slug", "kind", "in_pre_session_check", "counts_modalities"]


class ScreeningRuleSerializer(ModelSerializer):
    window_text = serializers.CharField(read_only=True)

    class Meta:
        model = ScreeningRule
        fields = [
            "id",
            "name",
            "factor",
            "window",
            "window_unit",
            "window_text",
            "modalities",
            "levels",
            "same_area_only",
            "severity",
            "reason",
            "patient_advice",
            "active",
            "retired_at",
        ]


class SessionSerializer(ModelSerializer):
    day = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = Session
        fields = [
            "id",
            "plan",
            "patient",
            "number",
            "depth_level",
            "status",
            "proposed_date",
            "starts_at",
            "ends_at",
            "day",
            "practitioner",
            "completed_at",
            "areas",
            "products",
            "notes",
            "recorded_by",
            "performed_by",
            "flag",
            "flag_reason",
            "flag_lifts_on",
        ]
        read_only_fields = fields


class PlanSerializer(ModelSerializer):
    sessions_done = serializers.IntegerField(read_only=True)
    sessions_cancelled = serializers.IntegerField(read_only=True)
    sessions_ahead = serializers.IntegerField(read_only=True)

    class Meta:
        model = TreatmentPlan
        fields = [
            "id",
            "patient",
            "indication",
            "body_area",
            "modality",
            "session_count",
            "interval_days",
            "status",
            "notes",
            "created_by",
            "created_at",
            "sessions_done",
            "sessions_cancelled",
            "sessions_ahead",
        ]
        read_only_fields = fields


class PlanCreateSerializer(serializers.Serializer):
    patient = PrimaryKeyRelatedField(queryset=Patient.objects.all())
    indication = PrimaryKeyRelatedField(queryset=Indication.objects.all())
    body_area = PrimaryKeyRelatedField(queryset=BodyArea.objects.all())
    modality = PrimaryKeyRelatedField(queryset=Modality.objects.all())
    first_date = DayField()
    session_count = serializers.IntegerField(min_value=1, max_value=30, required=False)
    interval_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    levels = PrimaryKeyRelatedField(
        queryset=DepthLevel.objects.all(),
        many=True,
        required=False,
        help_text="One level per session; default: the catalogue's suggestion.",
    )
    level_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Why the levels go shallower or skip one, where the course's levels rise.",
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class RecordSerializer(serializers.Serializer):
    performed_by = PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        help_text="Who treated the patient; the session's practitioner when left out.",
    )
    depth_level = PrimaryKeyRelatedField(queryset=DepthLevel.objects.all(), required=False)
    areas = PrimaryKeyRelatedField(queryset=BodyArea.objects.all(), many=True, required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    products = serializers.CharField(required=False, allow_blank=True)


class CheckSerializer(serializers.Serializer):
    present = PrimaryKeyRelatedField(
        queryset=Factor.objects.filter(in_pre_session_check=True), many=True, required=False
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300)


class FindingSerializer(ModelSerializer):
    class Meta:
        model = ScreeningFinding
        fields = ["rule", "rule_name", "severity", "reason"]


class ScreeningSerializer(ModelSerializer):
    findings = FindingSerializer(many=True, read_only=True)
    # "" until a clinician overrides.
    override_category = serializers.ChoiceField(
        choices=Screening.OverrideCategory.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Screening
        fields = [
            "id",
            "patient",
            "plan",
            "session",
            "modality",
            "depth_level",
            "body_area",
            "occasion",
            "screened_for",
            "outcome",
            "screened_by",
            "screened_at",
            "pre_session_check",
            "findings",
            "override_category",
            "override_reason",
            "overridden_by",
            "overridden_at",
        ]
        read_only_fields = fields


class PlanCreatedSerializer(PlanSerializer):
    """A new plan with the screening made for its first day."""

    screening = ScreeningSerializer(read_only=True)

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "screening"]
        read_only_fields = fields


class PlanRefusedSerializer(serializers.Serializer):
    """A 400 from planning: field errors by name, or, when screening refuses the plan
    (services.PlanRefused), the reasons, the first possible start and the refusing screening."""

    non_field_errors = serializers.ListField(
        child=serializers.CharField(), source="messages", required=False
    )
    reasons = serializers.ListField(child=serializers.CharField(), required=False)
    first_possible_date = serializers.DateField(
        source="first_possible",
        allow_null=True,
        required=False,
        help_text="The first day a course could start; null while the finding has no end.",
    )
    screening = ScreeningSerializer(required=False)


class OverrideSerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=Screening.OverrideCategory.choices)
    reason = serializers.CharField(allow_blank=True, max_length=1000)


class InstructionSerializer(serializers.Serializer):
    text = serializers.CharField()
    until = serializers.DateField()


class HistoryEntrySerializer(ModelSerializer):
    class Meta:
        model = HistoryEntry
        fields = [
            "id",
            "patient",
            "factor",
            "started_on",
            "ended_on",
            "body_area",
            "notes",
            "recorded_by",
            "recorded_at",
            "source",
            "confirmed_by",
            "confirmed_at",
            "corrects",
            "superseded_at",
        ]
        # Where an entry came from and what became of it are the services' to set: a
        # patient's report is confirmed or corrected in the clinician's panel.
        read_only_fields = [
            "recorded_by",
            "recorded_at",
            "source",
            "confirmed_by",
            "confirmed_at",
            "corrects",
            "superseded_at",
        ]


class PhotoConsentSerializer(ModelSerializer):
    """A patient's standing photo consent as recorded at one moment; the latest stands. A new
    one (POST) is recorded as the patient's word to staff; a purpose it leaves out that the
    standing consent gave is withdrawn from the patient's photos too."""

    patient = PrimaryKeyRelatedField(queryset=Patient.objects.all())
    purposes = serializers.MultipleChoiceField(
        choices=PhotoPurpose.choices,
        allow_empty=True,
        help_text="Every use the patient now consents to; a list, possibly empty.",
    )

    class Meta:
        model = PhotoConsent
        fields = ["id", "patient", "purposes", "source", "signature", "recorded_at", "recorded_by"]
        read_only_fields = ["source", "signature", "recorded_at", "recorded_by"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["purposes"] = instance.purposes
        return data


class ConsentSignatureSerializer(ModelSerializer):
    """A signed consent form (the drawn signature itself is in the PDF)."""

    modality = serializers.IntegerField(source="version.form.modality_id", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    title = serializers.CharField(source="version.title", read_only=True)

    class Meta:
        model = ConsentSignature
        fields = [
            "id",
            "patient",
            "modality",
            "version",
            "version_number",
            "title",
            "signed_name",
            "signed_at",
            "place",
            "ip_address",
            "signed_by",
        ]
        read_only_fields = fields
