from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from core.cache import saves_only_last_login

from .backends import forget_user, permissions_changed
from .sessions import LOGIN_AT, OTP_PENDING, SEEN_AT, needs_second_factor, now_ts


@receiver(user_logged_in, dispatch_uid="accounts.stamp_session")
def _stamp_session(sender, request, user, **kwargs) -> None:
    """A new session (Django cycles the key at sign-in) learns when it began."""
    session = getattr(request, "session", None)
    if session is None:
        return
    session[LOGIN_AT] = session[SEEN_AT] = now_ts()
    pending = needs_second_factor(user)
    if pending:
        session[OTP_PENDING] = pending
    else:
        session.pop(OTP_PENDING, None)


def _permissions_changed(sender, **kwargs) -> None:
    permissions_changed()


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    # A save that can change is_superuser, is_active or the password can change what the user
    # may do and whose sessions hold; a sign-in only moves last_login, kept with the user's row.
    if saves_only_last_login(update_fields):
        forget_user(instance.pk)
        return
    permissions_changed()


def connect_permission_signals() -> None:
    """What a user may do changes with their roles, a role's permissions, or the user."""
    User = get_user_model()
    for through in (
        User.groups.through,
        User.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(_permissions_changed, sender=through, dispatch_uid=f"perms-{through}")
    for model in (Group, Permission):
        post_save.connect(_permissions_changed, sender=model, dispatch_uid=f"perms-save-{model}")
        post_delete.connect(_permissions_changed, sender=model, dispatch_uid=f"perms-del-{model}")
    post_save.connect(_user_saved, sender=User, dispatch_uid="perms-user-save")
    post_delete.connect(_permissions_changed, sender=User, dispatch_uid="perms-user-del")
