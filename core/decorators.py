from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied


def role_required(*permissions: str) -> Callable:
    """Anonymous visitors go to the login page; a signed-in user holding none of the
    permissions gets 403. Several permissions: any one of them lets the user in (the desk's
    day is read by the desk and by clinicians)."""
    if not permissions:
        raise TypeError("role_required needs at least one permission")

    def holds_one(user) -> bool:
        if any(user.has_perm(permission) for permission in permissions):
            return True
        raise PermissionDenied

    def decorate(view: Callable) -> Callable:
        return login_required(user_passes_test(holds_one)(view))

    return decorate
