"""Version tokens kept in the shared cache: what is cached under a token is retired at once
by giving the key a new token.

A token that is missing (never set, or evicted) is replaced by a new one, so the worst a lost
token costs is drawing everything again. Used for desk calendars and permission sets.
"""

from __future__ import annotations

import uuid

from django.core.cache import cache

_UNKNOWN = object()


def current_token(key: str, known=_UNKNOWN) -> str:
    """The token under `key` (`known`: the value already fetched, e.g. by a get_many)."""
    token = cache.get(key) if known is _UNKNOWN else known
    if token is None:
        cache.add(key, uuid.uuid4().hex, None)
        token = cache.get(key)
    return token


def renew_token(key: str) -> None:
    cache.set(key, uuid.uuid4().hex, None)


def saves_only_last_login(update_fields) -> bool:
    """A user save from signing in, which changes nothing shown or allowed."""
    return update_fields is not None and set(update_fields) <= {"last_login"}
