from rest_framework import serializers

from core.serializers import ModelSerializer

from .models import Patient


class PatientSerializer(ModelSerializer):
    different_person = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Save even though the record looks like one on file (409 lists them): "
        "the caller checked that this is a different person.",
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "notes",
            "different_person",
        ]
        # Empty only on a record erased after its retention period (people.erasure).
        extra_kwargs = {"date_of_birth": {"allow_null": False}}


class DuplicateCandidateSerializer(ModelSerializer):
    shared = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text='What it has in common with the record sent: "name and date of birth", '
        '"phone", "email".',
    )

    class Meta:
        model = Patient
        fields = ["id", "first_name", "last_name", "date_of_birth", "email", "phone", "shared"]
        read_only_fields = fields


class LikelyDuplicateSerializer(serializers.Serializer):
    """A 409: nothing was saved, because records on file look like the same person. Send
    again with `different_person: true` once checked, or use the existing record."""

    detail = serializers.CharField()
    candidates = DuplicateCandidateSerializer(many=True)
