"""The catalogue and rules, edited by clinic admins in Django's admin.

Rule edits are audited with their before and after (`AuditedRuleAdmin`), and a screening rule
that screenings have used is retired, never deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils import timezone

from audit.services import Action, audit_log

from . import consents
from .models import (
    AftercareRule,
    BodyArea,
    ConsentForm,
    ConsentVersion,
    CourseTemplate,
    CourseTemplateLevel,
    DepthLevel,
    Factor,
    Indication,
    Modality,
    ModalityIndication,
    ScreeningFinding,
    ScreeningRule,
)


def _shown(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value) + "]"
    return "-" if value in (None, "") else str(value)


def rule_values(obj) -> dict[str, object]:
    """What an admin edits on a rule, as text to compare: its fields and its many-to-manys."""
    values: dict[str, object] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or not field.editable:
            continue
        value = getattr(obj, field.name)
        values[field.name] = str(value) if field.is_relation and value is not None else value
    if obj.pk:
        for field in obj._meta.many_to_many:
            values[field.name] = sorted(str(item) for item in getattr(obj, field.name).all())
    return values


def changes(before: dict, after: dict) -> str:
    """'window: 7 → 14; window_unit: days → weeks' for the values that differ."""
    return "; ".join(
        f"{name}: {_shown(before.get(name))} → {_shown(value)}"
        for name, value in after.items()
        if before.get(name) != value
    )


class AuditedRuleAdmin(admin.ModelAdmin):
    """Writes an audit event for every add, edit and deletion of a rule, naming each changed
    field with its value before and after, in the admin's own transaction."""

    def save_model(self, request, obj, form, change):
        before = rule_values(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else {}
        request._rule_before = before
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_rule_before", {})
        detail = changes(before, rule_values(obj)) if change else f"added {obj}"
        if change and not detail:
            return
        action = Action.CHANGE if change else Action.CREATE
        audit_log(actor=request.user, action=action, obj=obj, request=request, detail=detail)

    def delete_model(self, request, obj):
        self._audit_deletion(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit_deletion(request, obj)
        super().delete_queryset(request, queryset)

    def _audit_deletion(self, request, obj):
        detail = f"deleted {obj}: " + changes({}, rule_values(obj))
        audit_log(actor=request.user, action=Action.DELETE, obj=obj, request=request, detail=detail)


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
class FactorAdmin(AuditedRuleAdmin):
    list_display = ["name", "kind", "in_pre_session_check", "in_intake"]
    list_filter = ["kind", "in_pre_session_check", "in_intake"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["counts_modalities"]


USED_RULE = (
    "This rule has been used by screenings ({count} findings name it), so it cannot be deleted:"
    " retire it instead (untick Active). Screening then no longer reads it, and the screenings"
    " made under it keep their findings."
)


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(AuditedRuleAdmin):
    list_display = [
        "name",
        "factor",
        "window",
        "window_unit",
        "severity",
        "same_area_only",
        "active",
        "retired_at",
    ]
    list_filter = ["severity", "active", "window_unit", "modalities"]
    filter_horizontal = ["modalities", "levels"]
    readonly_fields = ["retired_at"]

    def save_model(self, request, obj, form, change):
        if not obj.active and obj.retired_at is None:
            obj.retired_at = timezone.now()
        elif obj.active:
            obj.retired_at = None
        super().save_model(request, obj, form, change)

    def delete_view(self, request, object_id, extra_context=None):
        rule = self.get_object(request, unquote(object_id))
        if rule is not None and (used := ScreeningFinding.objects.filter(rule=rule).count()):
            messages.error(request, USED_RULE.format(count=used))
        return super().delete_view(request, object_id, extra_context)

    def get_deleted_objects(self, objs, request):
        """A used rule is protected by its findings (PROTECT); the page says what to do instead
        of listing them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        used = ScreeningFinding.objects.filter(rule__in=list(objs)).count()
        if used:
            protected = [USED_RULE.format(count=used)]
        return deleted, counts, perms_needed, protected


@admin.register(AftercareRule)
class AftercareRuleAdmin(AuditedRuleAdmin):
    list_display = ["text", "modality", "days", "position"]
    list_filter = ["modality"]
    filter_horizontal = ["levels"]


class CourseTemplateLevelInline(admin.TabularInline):
    model = CourseTemplateLevel
    extra = 0
    verbose_name = "level of a session"
    verbose_name_plural = "levels per session (a session not listed takes the catalogue's level)"


@admin.register(CourseTemplate)
class CourseTemplateAdmin(AuditedRuleAdmin):
    """The courses the desk proposes; a clinician confirms each proposed course."""

    list_display = [
        "name",
        "modality",
        "body_area",
        "indication",
        "session_count",
        "interval_days",
        "active",
        "position",
    ]
    list_filter = ["modality", "active"]
    list_editable = ["active", "position"]
    inlines = [CourseTemplateLevelInline]


# --- consent forms: an edit publishes a new version ------------------------------------------


class ConsentFormAdminForm(forms.ModelForm):
    """The form's current text to edit; saving a changed text publishes it as a new version
    (treatments.consents.consent_publish), and the versions signed stay as they were."""

    title = forms.CharField(max_length=200)
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100}),
        help_text="Paragraphs separated by a blank line. Saving a change publishes a new "
        "version: patients sign it from then on; signatures keep the version they signed.",
    )

    class Meta:
        model = ConsentForm
        fields = ["modality"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        latest = self.instance.versions.order_by("-number").first() if self.instance.pk else None
        if latest is not None:
            self.fields["title"].initial = latest.title
            self.fields["text"].initial = latest.text
            self.fields["modality"].disabled = True


class ConsentVersionInline(admin.TabularInline):
    model = ConsentVersion
    fields = ["number", "title", "published_at", "published_by", "signatures_count"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="signatures")
    def signatures_count(self, version) -> int:
        return version.signatures.count()


@admin.register(ConsentForm)
class ConsentFormAdmin(admin.ModelAdmin):
    form = ConsentFormAdminForm
    list_display = ["modality", "current_version"]
    inlines = [ConsentVersionInline]

    @admin.display(description="current version")
    def current_version(self, form) -> str:
        latest = form.versions.order_by("-number").first()
        return str(latest.number) if latest else "-"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # signatures point at its versions

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
        consents.consent_publish(
            modality=obj.modality,
            title=form.cleaned_data["title"],
            text=form.cleaned_data["text"],
            by=request.user,
            request=request,
        )
