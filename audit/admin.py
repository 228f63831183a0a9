from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only. The filtered view for admins is /manage/audit/."""

    list_display = ("id", "occurred_at", "actor", "action", "allowed", "patient_id", "object_type")
    list_filter = ("action", "allowed")
    list_select_related = ("actor",)
    search_fields = ("=patient_id", "=object_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
