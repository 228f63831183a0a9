"""Django's ModelBackend, with each user's permission set kept in the shared cache.

Every staff and portal page checks permissions; ModelBackend reads them with two queries per
request. With a shared cache (settings.SHARED_CACHE) the set is read once and kept under a
permissions version that any committed change to roles or permissions replaces (see
`permissions_changed`), so a role taken away holds from the next request on. Without a
shared cache it is plain ModelBackend.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

from core.cache import current_token, renew_token

VERSION_KEY = "permissions:version"
SET_SECONDS = 60 * 60


def _user_key(user_id: int) -> str:
    return f"permissions:user:{user_id}"


def permissions_changed() -> None:
    """Retire every cached permission set once the current transaction commits."""
    transaction.on_commit(lambda: renew_token(VERSION_KEY))


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if (
            not settings.SHARED_CACHE
            or obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
        ):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            key = _user_key(user_obj.pk)
            found = cache.get_many([VERSION_KEY, key])  # one round trip for both
            version = current_token(VERSION_KEY, found.get(VERSION_KEY))
            kept = found.get(key)
            if kept is not None and len(kept) == 3 and kept[0] == version:
                user_obj._perm_cache, user_obj._group_names = kept[1], kept[2]
            else:
                permissions = super().get_all_permissions(user_obj)
                # Kept beside the permissions, for the role that audit records name.
                user_obj._group_names = sorted(user_obj.groups.values_list("name", flat=True))
                cache.set(key, (version, permissions, user_obj._group_names), SET_SECONDS)
        return user_obj._perm_cache


def group_names(user) -> list[str]:
    """The user's groups by name: from the shared cache with their permissions when it holds
    them (no query), else read."""
    if settings.SHARED_CACHE and user.is_active:
        user.get_all_permissions()
        if hasattr(user, "_group_names"):
            return user._group_names
    return sorted(group.name for group in user.groups.all())


def permissions_key(user) -> str:
    """A short digest of what the user may do, for the keys of parts drawn differently by role."""
    if user.is_superuser:
        return "superuser"
    names = "\n".join(sorted(user.get_all_permissions()))
    return hashlib.blake2s(names.encode(), digest_size=8).hexdigest()
