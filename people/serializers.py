from core.serializers import ModelSerializer

from .models import Patient


class PatientSerializer(ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "first_name", "last_name", "date_of_birth", "email", "phone", "notes"]
