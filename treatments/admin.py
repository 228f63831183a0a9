"""The catalogue and rules, edited by clinic admins in Django's admin."""

from django.contrib import admin

from .models import (
    AftercareRule,
    BodyArea,
    DepthLevel,
    Factor,
    Indication,
    Modality,
    ModalityIndication,
    ScreeningRule,
)


class DepthLevelInline(admin.TabularInline):
    model = DepthLevel
    extra = 0


class ModalityIndicationInline(admin.TabularInline):
    model = ModalityIndication
    extra = 0


@admin.register(Modality)
class ModalityAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "default_session_count",
        "default_interval_days",
        "min_interval_days",
        "levels_rise",
    ]
    inlines = [DepthLevelInline, ModalityIndicationInline]


@admin.register(Indication)
class IndicationAdmin(admin.ModelAdmin):
    list_display = ["name", "not_treatable_reason"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ModalityIndicationInline]


@admin.register(BodyArea)
class BodyAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "extra_sessions_note"]
    list_select_related = ["parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    fields = ["name", "slug", "parent", "extra_sessions_note"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Factor)
class FactorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "in_pre_session_check"]
    list_filter = ["kind", "in_pre_session_check"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["counts_modalities"]


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "factor", "window_days", "severity", "same_area_only", "active"]
    list_filter = ["severity", "active", "modalities"]
    filter_horizontal = ["modalities", "levels"]


@admin.register(AftercareRule)
class AftercareRuleAdmin(admin.ModelAdmin):
    list_display = ["text", "modality", "days", "position"]
    list_filter = ["modality"]
    filter_horizontal = ["levels"]
