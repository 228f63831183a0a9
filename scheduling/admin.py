from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from .models import (
    AvailabilityException,
    CrossModalityGap,
    Device,
    ModalityRequirement,
    Practitioner,
    Room,
    WorkingHours,
    overlapping_hours,
)


class WorkingHoursFormSet(BaseInlineFormSet):
    """The week's blocks are checked together: two that overlap would offer the same times
    twice and make the hours ambiguous."""

    def clean(self):
        super().clean()
        blocks = [
            (form.cleaned_data["weekday"], form.cleaned_data["starts"], form.cleaned_data["ends"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and all(form.cleaned_data.get(name) is not None for name in ("starts", "ends"))
            and "weekday" in form.cleaned_data
        ]
        problems = overlapping_hours(blocks)
        if problems:
            raise ValidationError(problems)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
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
