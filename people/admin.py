from django.contrib import admin

from .models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "date_of_birth", "phone", "email", "user"]
    search_fields = ["last_name", "first_name", "phone", "email"]
    raw_id_fields = ["user"]
