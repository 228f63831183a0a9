"""Version tokens kept in the shared cache: what is cached under a token is retired at once
by giving the key a new token.

A token that is missing (never set, or evicted) is replaced by a new one, so the worst a lost
token costs is drawing everything again. Used for the named versions (core/versions.py) and
permission sets (accounts/backends.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache

_UNKNOWN = object()


def current_token(key: str, known=_UNKNOWN) -> str:
    """The token under `key` (`known`: the value already fetched, e.g. by a get_many)."""
    token = cache.get(key) if known is _UNKNOWN else known
    if token is None:
        cache.add(key, uuid.uuid4().hex, None)
        token = cache.get(key)
    return token


def renew_token(*keys: str) -> None:
    """New tokens under these keys, in one round trip."""
    cache.set_many({key: uuid.uuid4().hex for key in keys}, None)


def read_under_tokens(token_keys: Sequence[str], key: str) -> tuple[tuple[str, ...], Any]:
    """The current tokens, and what `key` holds if it was kept under exactly those tokens (else
    None): one round trip for all of them. The tokens are checked in the kept value rather than
    put in the key, so reading them costs no trip of their own."""
    found = cache.get_many([*token_keys, key])
    stamp = tuple(current_token(token, found.get(token)) for token in token_keys)
    return stamp, kept_under(stamp, found.get(key))


def kept_under(stamp: tuple[str, ...], kept) -> Any:
    """The value of a `keep_under` entry if it was kept under `stamp`, else None."""
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == stamp:
        return kept[1]
    return None


def keep_under(stamp: tuple[str, ...], key: str, value: Any, timeout: int) -> None:
    """Keeps `value` under `key` for the tokens (or versions) `stamp`."""
    cache.set(key, (stamp, value), timeout)


def saves_only_last_login(update_fields) -> bool:
    """A user save from signing in, which changes nothing shown or allowed."""
    return update_fields is not None and set(update_fields) <= {"last_login"}
