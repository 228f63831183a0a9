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

import functools
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction

from core.cache import keep_under, read_under_tokens, renew_token

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


@functools.cache
def _attnames() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


class CachedPermissionsBackend(ModelBackend):
    def _kept(self, user_id) -> tuple[tuple[str, ...], tuple | None]:
        """The permissions version, and (row, permissions, role names) if kept under it: one
        round trip for both."""
        return read_under_tokens([VERSION_KEY], _user_key(user_id))

    def _read(self, user_obj) -> None:
        """ModelBackend's two queries for the permissions, and the role names beside them
        (for the role that audit records name)."""
        super().get_all_permissions(user_obj)
        user_obj._group_names = sorted(user_obj.groups.values_list("name", flat=True))

    def get_user(self, user_id):
        """The signed-in user of each request: from the shared cache, without a query, when
        it holds the user under the current version."""
        if not settings.SHARED_CACHE:
            return super().get_user(user_id)
        stamp, kept = self._kept(user_id)
        if kept is None:
            user = super().get_user(user_id)
            if user is not None:
                self._read(user)
                row = tuple(getattr(user, name) for name in _attnames())
                entry = (row, user._perm_cache, user._group_names)
                keep_under(stamp, _user_key(user.pk), entry, SET_SECONDS)
            return user
        row, permissions, group_names = kept
        user = get_user_model().from_db(DEFAULT_DB_ALIAS, _attnames(), row)
        user._perm_cache, user._group_names = permissions, group_names
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
                _, user_obj._perm_cache, user_obj._group_names = kept
            else:
                # Not kept: this user object may hold unsaved changes, so only get_user,
                # which reads the row itself, keeps an entry.
                self._read(user_obj)
        return user_obj._perm_cache


def group_names(user) -> list[str]:
    """The user's groups by name: from the shared cache with their permissions when it holds
    them (no query), else read."""
    if settings.SHARED_CACHE and user.is_active:
        if not hasattr(user, "_group_names"):
            user.get_all_permissions()
        if hasattr(user, "_group_names"):
            return user._group_names
    return sorted(group.name for group in user.groups.all())


def permissions_key(user) -> str:
    """A short digest of what the user may do, for the keys of parts drawn differently by role.

    Kept on the user object beside its permission set (a page asks for it for its part and for
    the top bar's links)."""
    if user.is_superuser:
        return "superuser"
    if not hasattr(user, "_permissions_key"):
        names = "\n".join(sorted(user.get_all_permissions()))
        user._permissions_key = hashlib.blake2s(names.encode(), digest_size=8).hexdigest()
    return user._permissions_key
