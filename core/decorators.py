from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required


def role_required(permission: str) -> Callable:
    """Anonymous visitors go to the login page; a signed-in user without the permission gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate
