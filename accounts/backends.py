"""Django's ModelBackend, with each signed-in user's row and permission set kept in the
shared cache.

Every staff and portal page loads the signed-in user and checks permissions; ModelBackend
reads them with three queries per request. With a shared cache (settings.SHARED_CACHE) the
user's row, permission set and role names are read once and kept together under a
permissions version that any committed change to a user, a role or a permission replaces
(see `permissions_changed`), so a role taken away, a password changed or an account closed
holds from the next request on. Without a shared cache it is plain ModelBackend.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from core.cache import current_token, renew_token

VERSION_KEY = "permissions:version"
SET_SECONDS = 60 * 60


def _user_key(user_id: int) -> str:
    return f"permissions:user:{user_id}"


def permissions_changed() -> None:
    """Retire every cached permission set once the current transaction commits."""
    transaction.on_commit(lambda: renew_token(VERSION_KEY))


def forget_user(user_id: int) -> None:
    """Drop one user's kept entry once the current transaction commits (a sign-in's
    `last_login`, which does not change what anyone may do, so keeps the version)."""
    transaction.on_commit(lambda: cache.delete(_user_key(user_id)))


def _row(user) -> tuple:
    return tuple(getattr(user, field.attname) for field in user._meta.concrete_fields)


class CachedPermissionsBackend(ModelBackend):
    def _kept(self, user_id) -> tuple[str, tuple | None]:
        """The current permissions version and the user's entry kept under it, if any: one
        round trip for both."""
        key = _user_key(user_id)
        found = cache.get_many([VERSION_KEY, key])
        version = current_token(VERSION_KEY, found.get(VERSION_KEY))
        kept = found.get(key)
        if kept is not None and len(kept) == 4 and kept[0] == version:
            return version, kept
        return version, None

    def _keep(self, user_obj, version: str) -> None:
        """Reads the user's permissions and role names and keeps them with the row just read."""
        permissions = super().get_all_permissions(user_obj)
        # Kept beside the permissions, for the role that audit records name.
        user_obj._group_names = sorted(user_obj.groups.values_list("name", flat=True))
        cache.set(
            _user_key(user_obj.pk),
            (version, _row(user_obj), permissions, user_obj._group_names),
            SET_SECONDS,
        )

    def get_user(self, user_id):
        """The signed-in user of each request: from the shared cache, without a query, when
        it holds the user under the current version."""
        if not settings.SHARED_CACHE:
            return super().get_user(user_id)
        version, kept = self._kept(user_id)
        if kept is None:
            user = super().get_user(user_id)
            if user is not None:
                self._keep(user, version)
            return user
        User = get_user_model()
        names = [field.attname for field in User._meta.concrete_fields]
        user = User.from_db(DEFAULT_DB_ALIAS, names, kept[1])
        user._perm_cache, user._group_names = kept[2], kept[3]
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if (
            not settings.SHARED_CACHE
            or obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
        ):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            _, kept = self._kept(user_obj.pk)
            if kept is not None:
                user_obj._perm_cache, user_obj._group_names = kept[2], kept[3]
            else:
                # Not kept: this user object may hold unsaved changes, so only get_user,
                # which reads the row itself, keeps an entry.
                super().get_all_permissions(user_obj)
                user_obj._group_names = sorted(user_obj.groups.values_list("name", flat=True))
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
