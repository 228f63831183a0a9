from django.contrib import admin

from .models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = [
        "last_name",
        "first_name",
        "date_of_birth",
        "phone",
        "email",
        "user",
        "merged_into",
    ]
    list_filter = [("merged_into", admin.EmptyFieldListFilter)]
    # The folded name and E.164 phone: "chloe" finds Chloé, "0612345678" finds +31 6 1234 5678.
    search_fields = ["name_folded", "last_name", "first_name", "phone", "phone_e164", "email"]
    raw_id_fields = ["user"]
    readonly_fields = ["merged_into", "merged_at"]

    def get_queryset(self, request):
        # Merged records too, marked by "merged into": the admin shows every row there is.
        return Patient.all_records.select_related("user", "merged_into")
