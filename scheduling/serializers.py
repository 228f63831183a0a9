from __future__ import annotations

from rest_framework import serializers

from treatments.models import Session

from .models import Booking

# An id a client sends: bounded, so an absurd number is a 400 and not a database overflow (500).
ID_RANGE = {"min_value": 1, "max_value": 2**31 - 1}


class AvailabilityQuerySerializer(serializers.Serializer):
    session = serializers.IntegerField(**ID_RANGE)
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    practitioner = serializers.IntegerField(**ID_RANGE, required=False, help_text="user id")
    mornings_only = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs["last_day"] < attrs["first_day"]:
            raise serializers.ValidationError("The last day cannot be before the first day.")
        if (attrs["last_day"] - attrs["first_day"]).days > 62:
            raise serializers.ValidationError("Search at most two months at a time.")
        return attrs


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    practitioner = serializers.IntegerField(source="practitioner.user_id")
    practitioner_name = serializers.CharField(source="practitioner.__str__")
    room = serializers.CharField(source="room.name", allow_null=True, default=None)

    def to_representation(self, slot):
        """The declared fields, written out directly: a week's search returns hundreds of slots,
        and DRF's per-field lookups were most of the response time."""
        when = self.fields["starts_at"]
        return {
            "starts_at": when.to_representation(slot.starts_at),
            "ends_at": when.to_representation(slot.ends_at),
            "practitioner": slot.practitioner.user_id,
            "practitioner_name": str(slot.practitioner),
            "room": slot.room.name if slot.room else None,
        }


class BookSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    practitioner = serializers.IntegerField(**ID_RANGE, help_text="user id of the practitioner")


class RescheduleSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    practitioner = serializers.IntegerField(
        **ID_RANGE, required=False, help_text="default: unchanged"
    )


class CancelSerializer(serializers.Serializer):
    cancelled_by = serializers.ChoiceField(choices=Booking.CancelledBy.choices)
    reason = serializers.CharField(max_length=300)


class CourseItemSerializer(serializers.Serializer):
    session = serializers.IntegerField(**ID_RANGE)
    starts_at = serializers.DateTimeField()
    practitioner = serializers.IntegerField(**ID_RANGE)


class CourseBookSerializer(serializers.Serializer):
    sessions = CourseItemSerializer(many=True)


class BookedSessionSerializer(serializers.ModelSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True, default=list)

    class Meta:
        model = Session
        fields = [
            "id",
            "plan",
            "patient",
            "number",
            "status",
            "starts_at",
            "ends_at",
            "practitioner",
            "warnings",
        ]
        read_only_fields = fields
