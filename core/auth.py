"""Who may do what, read in one query per request.

Django's ModelBackend reads a user's own permissions and their groups' permissions in two
queries, and the audit log reads the user's groups for the actor's role in a third. This
backend reads all three at once, the first time a request asks, and keeps them on the user
object exactly as Django keeps its `_perm_cache`: for that object, which a request builds
afresh, so nothing about who may do what outlives the request.
"""

from __future__ import annotations

from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, Value


class ModelBackend(backends.ModelBackend):
    def _load(self, user_obj) -> None:
        # A row per group and permission (a group without any: one row of nulls), then a row
        # per permission of the user's own, marked by a null group name.
        # (No ORDER BY inside a UNION: SQLite refuses it, and Permission's Meta orders.)
        groups = (
            Group.objects.filter(user=user_obj)
            .order_by()
            .values_list("name", "permissions__content_type__app_label", "permissions__codename")
        )
        own = (
            Permission.objects.filter(user=user_obj)
            .order_by()
            .values_list(
                Value(None, output_field=CharField()), "content_type__app_label", "codename"
            )
        )
        names, from_groups, from_user = set(), set(), set()
        for name, app_label, codename in groups.union(own, all=True):
            if name is not None:
                names.add(name)
            if codename is not None:
                (from_user if name is None else from_groups).add(f"{app_label}.{codename}")
        user_obj._user_perm_cache = from_user
        user_obj._group_perm_cache = from_groups
        user_obj._perm_cache = from_user | from_groups
        user_obj._group_names = sorted(names)

    def _loaded(self, user_obj, obj, cache: str) -> set[str] | None:
        """The named set, read with the rest if not yet; None where Django's own answer
        holds (inactive, anonymous, per-object, superuser: every permission)."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return None
        if user_obj.is_superuser:
            return None
        if not hasattr(user_obj, cache):
            self._load(user_obj)
        return getattr(user_obj, cache)

    def get_user_permissions(self, user_obj, obj=None):
        found = self._loaded(user_obj, obj, "_user_perm_cache")
        return super().get_user_permissions(user_obj, obj) if found is None else found

    def get_group_permissions(self, user_obj, obj=None):
        found = self._loaded(user_obj, obj, "_group_perm_cache")
        return super().get_group_permissions(user_obj, obj) if found is None else found

    def get_all_permissions(self, user_obj, obj=None):
        found = self._loaded(user_obj, obj, "_perm_cache")
        return super().get_all_permissions(user_obj, obj) if found is None else found


def group_names(user) -> list[str]:
    """The names of the user's groups, sorted: those read with the permissions in this
    request if a permission was asked, else one query."""
    names = getattr(user, "_group_names", None)
    if names is None:
        names = sorted(group.name for group in user.groups.all())
    return names
