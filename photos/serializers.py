from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import ModelSerializer, PrimaryKeyRelatedField
from treatments.models import BodyArea, Session

from . import services
from .models import Comparison, Derivative, Phase, Photo, PhotoQuality, Purpose, View


class DerivativeSerializer(ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Derivative
        fields = ["size", "status", "reason", "width", "height", "url"]

    def get_url(self, derivative: Derivative) -> str | None:
        if derivative.status != "ready":
            return None
        variant = {2048: "large", 1024: "screen", 320: "grid"}[derivative.size]
        return reverse("photo-image", args=[derivative.photo_id, variant])


class PhotoQualitySerializer(ModelSerializer):
    """The worker's capture-quality score; `retake` asks the clinician to take it again."""

    class Meta:
        model = PhotoQuality
        fields = [
            "status",
            "reason",
            "retake",
            "findings",
            "sharpness",
            "isotropy",
            "clipped_shadows",
            "clipped_highlights",
            "cast_a",
            "cast_b",
            "baseline",
            "scored_at",
        ]
        read_only_fields = fields


class PhotoSerializer(ModelSerializer):
    """A photo; on create, `file` is the multipart upload and `purposes` the consent given."""

    file = serializers.FileField(write_only=True, allow_empty_file=True)
    session = PrimaryKeyRelatedField(queryset=Session.objects.all())
    body_area = PrimaryKeyRelatedField(queryset=BodyArea.objects.all())
    view = serializers.ChoiceField(choices=View.choices)
    phase = serializers.ChoiceField(choices=Phase.choices)
    purposes = serializers.MultipleChoiceField(
        choices=Purpose.choices,
        required=False,
        help_text="The uses the patient consented to; left out: the patient's standing photo "
        "consent (the clinical record only, for a patient who never signed a consent form).",
    )
    derivatives = DerivativeSerializer(many=True, read_only=True)
    original_url = serializers.SerializerMethodField()
    capture_date_warning = serializers.SerializerMethodField(
        help_text="Set when the camera's date is far from the session's (the photo's date)."
    )
    quality = serializers.SerializerMethodField(
        help_text="The capture-quality score; null until the worker has scored the photo."
    )

    class Meta:
        model = Photo
        fields = [
            "id",
            "session",
            "patient",
            "body_area",
            "view",
            "view_label",
            "phase",
            "is_reference",
            "purposes",
            "file",
            "content_type",
            "sha256",
            "size_bytes",
            "width",
            "height",
            "captured_at",
            "capture_date_warning",
            "uploaded_at",
            "uploaded_by",
            "original_url",
            "derivatives",
            "quality",
        ]
        read_only_fields = [
            "patient",
            "is_reference",
            "content_type",
            "sha256",
            "size_bytes",
            "width",
            "height",
            "captured_at",
            "uploaded_at",
            "uploaded_by",
        ]

    def get_capture_date_warning(self, photo: Photo) -> str | None:
        return services.capture_date_warning(photo)

    @extend_schema_field(PhotoQualitySerializer(allow_null=True))
    def get_quality(self, photo: Photo) -> dict | None:
        quality = photo.quality_or_none
        return None if quality is None else PhotoQualitySerializer(quality).data

    def get_original_url(self, photo: Photo) -> str:
        return reverse("photo-image", args=[photo.pk, "original"])

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["purposes"] = instance.purposes
        return data


class ComparisonSerializer(ModelSerializer):
    sheet_jpeg_url = serializers.SerializerMethodField()
    sheet_pdf_url = serializers.SerializerMethodField()
    middle = PrimaryKeyRelatedField(queryset=Photo.objects.all(), required=False, allow_null=True)
    before = PrimaryKeyRelatedField(queryset=Photo.objects.all())
    after = PrimaryKeyRelatedField(queryset=Photo.objects.all())

    class Meta:
        model = Comparison
        fields = [
            "id",
            "patient",
            "plan",
            "body_area",
            "view",
            "view_label",
            "kind",
            "before",
            "middle",
            "after",
            "chosen_by",
            "released_to_portal",
            "sheet_status",
            "sheet_reason",
            "sheet_jpeg_url",
            "sheet_pdf_url",
        ]
        read_only_fields = [
            "patient",
            "plan",
            "body_area",
            "view",
            "view_label",
            "kind",
            "chosen_by",
            "sheet_status",
            "sheet_reason",
        ]

    def _sheet_url(self, comparison: Comparison, fmt: str) -> str | None:
        if comparison.sheet_status != "ready":
            return None
        return reverse("comparison-sheet", args=[comparison.pk, fmt])

    def get_sheet_jpeg_url(self, comparison: Comparison) -> str | None:
        return self._sheet_url(comparison, "jpg")

    def get_sheet_pdf_url(self, comparison: Comparison) -> str | None:
        return self._sheet_url(comparison, "pdf")


class ProposeSerializer(serializers.Serializer):
    # Bounded: an absurd id is a 400, not a database overflow (500).
    plan = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class PhotoPurposesSerializer(serializers.Serializer):
    """The uses one photo is consented for."""

    purposes = serializers.MultipleChoiceField(
        choices=Purpose.choices,
        allow_empty=True,
        help_text="Every use the photo is now consented for (a list, possibly empty); a use "
        "left out hides the photo and its sheets from that use at once.",
    )

    def to_representation(self, instance):
        return {"purposes": sorted(instance.purposes)}
