from __future__ import annotations

import datetime as dt

from django.utils import timezone
from rest_framework import serializers

from core.serializers import DayField, IdField, ModelSerializer, MomentField
from treatments.models import Session

from .models import Booking
from .rules import session_minutes


class AvailabilityQuerySerializer(serializers.Serializer):
    session = IdField()
    first_day = DayField()
    last_day = DayField()
    practitioner = IdField(required=False, help_text="user id")
    mornings_only = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs["last_day"] < attrs["first_day"]:
            raise serializers.ValidationError("The last day cannot be before the first day.")
        if (attrs["last_day"] - attrs["first_day"]).days > 62:
            raise serializers.ValidationError("Search at most two months at a time.")
        return attrs


class PractitionerStartsSerializer(serializers.Serializer):
    """One practitioner's free starts on one day, in one room."""

    id = serializers.IntegerField(help_text="the practitioner's user id (book with it)")
    name = serializers.CharField()
    room = serializers.CharField(allow_null=True)
    starts = serializers.ListField(
        child=serializers.CharField(), help_text="local start times, 'HH:MM', earliest first"
    )


class AvailabilityDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    practitioners = PractitionerStartsSerializer(many=True)


class AvailabilitySerializer(serializers.Serializer):
    """The free starts for a session, shaped for picking one: by day, then by practitioner and
    room, each start a local 'HH:MM' in the clinic's time zone. A slot is `date` and a start
    (book with starts_at = that local time and the practitioner's id); it lasts `minutes`."""

    session = serializers.IntegerField()
    time_zone = serializers.CharField(help_text="the zone of every date and start")
    minutes = serializers.IntegerField(help_text="how long the session lasts")
    count = serializers.IntegerField(help_text="free starts in all")
    days = AvailabilityDaySerializer(many=True)

    def to_representation(self, instance):
        """`instance`: {"session": Session, "slots": [Slot, ...]} (slots by time, then
        practitioner). Written out directly, one pass over the slots: a week has a thousand."""
        slots = instance["slots"]
        zone = timezone.get_current_timezone()
        days: dict[dt.date, dict[tuple, dict]] = {}
        for slot in slots:
            local = slot.starts_at.astimezone(zone)
            day = days.setdefault(local.date(), {})
            room = slot.room.name if slot.room else None
            key = (slot.practitioner.user_id, room)
            column = day.get(key)
            if column is None:
                column = day[key] = {
                    "id": slot.practitioner.user_id,
                    "name": str(slot.practitioner),
                    "room": room,
                    "starts": [],
                }
            column["starts"].append(f"{local:%H:%M}")
        session = instance["session"]
        return {
            "session": session.pk,
            "time_zone": str(zone),
            "minutes": session_minutes(session),
            "count": len(slots),
            "days": [
                {"date": day.isoformat(), "practitioners": list(columns.values())}
                for day, columns in days.items()
            ],
        }


class BookSerializer(serializers.Serializer):
    starts_at = MomentField()
    practitioner = IdField(help_text="user id of the practitioner")


class RescheduleSerializer(serializers.Serializer):
    starts_at = MomentField()
    practitioner = IdField(required=False, help_text="default: unchanged")


class CancelSerializer(serializers.Serializer):
    cancelled_by = serializers.ChoiceField(choices=Booking.CancelledBy.choices)
    reason = serializers.CharField(max_length=300)


class CourseItemSerializer(serializers.Serializer):
    session = IdField()
    starts_at = MomentField()
    practitioner = IdField()


class CourseBookSerializer(serializers.Serializer):
    sessions = CourseItemSerializer(many=True)


class BookedSessionSerializer(ModelSerializer):
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
