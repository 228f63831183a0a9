from django.contrib import admin

from .models import (
    AvailabilityException,
    CrossModalityGap,
    Device,
    ModalityRequirement,
    Practitioner,
    Room,
    WorkingHours,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class ExceptionInline(admin.TabularInline):
    model = AvailabilityException
    extra = 0


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ["__str__", "active"]
    filter_horizontal = ["modalities"]
    readonly_fields = ["calendar_token"]
    inlines = [WorkingHoursInline, ExceptionInline]


admin.site.register(Room)
admin.site.register(Device)
admin.site.register(CrossModalityGap)


@admin.register(ModalityRequirement)
class ModalityRequirementAdmin(admin.ModelAdmin):
    filter_horizontal = ["rooms"]
