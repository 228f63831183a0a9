from django.contrib import admin

from . import outbox
from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Read-only: a message is written by the change it belongs to and sent by the worker."""

    list_display = ("created_at", "kind", "summary", "status", "attempts", "due_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("summary",)
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected failed messages again")
    def send_again(self, request, queryset):
        failed = queryset.filter(status=OutboxMessage.Status.FAILED)
        for message in failed:
            outbox.message_retry(message=message)
        self.message_user(request, f"{len(failed)} failed message(s) will be sent again.")
