"""Staff accounts in Django's admin, where clinic admins manage staff without widening their own
access: roles go through people.roles' grant and revoke services (a clinical role for oneself
takes a second person; every change is audited), and only a superuser makes superusers, hands
out single permissions, sets another person's password or changes a superuser's account."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError

from people.roles import Role, role_grant, role_grant_check, role_revoke, superuser_set

User = get_user_model()

SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")


def _roles(groups) -> set[Role]:
    names = {group.name for group in groups}
    return {role for role in Role if role.value in names}


class StaffUserAdmin(UserAdmin):
    def get_queryset(self, request):
        users = super().get_queryset(request)
        # A superuser's account (its password above all) is changed by superusers only.
        return users if request.user.is_superuser else users.filter(is_superuser=False)

    def user_change_password(self, request, id, form_url=""):
        # Setting a colleague's password would let one person act as two (and so grant
        # themselves a clinical role through the colleague): staff choose their own, or reset
        # it by email; a superuser may set anyone's.
        if not request.user.is_superuser and str(request.user.pk) != str(id):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else fields + SUPERUSER_ONLY_FIELDS

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or "groups" not in form_class.base_fields:
            return form_class

        class RoleCheckedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                added = _roles(cleaned.get("groups") or ()) - _roles(obj.groups.all())
                for role in sorted(added):
                    try:
                        role_grant_check(user=obj, role=role, by=request.user)
                    except ValidationError as refusal:
                        self.add_error("groups", refusal)
                return cleaned

        return RoleCheckedForm

    def save_model(self, request, obj, form, change):
        superuser = form.cleaned_data.get("is_superuser") if change else None
        if superuser is not None and "is_superuser" in form.changed_data:
            obj.is_superuser = not superuser  # set, and recorded, by the service below
        super().save_model(request, obj, form, change)
        if superuser is not None and "is_superuser" in form.changed_data:
            superuser_set(user=obj, value=superuser, by=request.user, request=request)

    def save_related(self, request, form, formsets, change):
        # Roles are given and taken by the services, one by one, each audited; groups that
        # are not roles (none today) are left as the form says.
        chosen = form.cleaned_data.pop("groups", None) if change else None
        super().save_related(request, form, formsets, change)
        if chosen is None:
            return
        user = form.instance
        before, after = _roles(user.groups.all()), _roles(chosen)
        for role in sorted(after - before):
            role_grant(user=user, role=role, by=request.user, request=request)
        for role in sorted(before - after):
            role_revoke(user=user, role=role, by=request.user, request=request)
        others = [group for group in chosen if not _roles([group])]
        user.groups.add(*others)


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
