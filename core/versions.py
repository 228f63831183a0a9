"""Named versions of data that drawn pages are cached under: "calendar" for what a desk
calendar shows, "reference" for the clinic's lists that every record shows beside a patient's
own rows (modalities, body areas, practitioners, staff names and the like).

A version is raised after every committed change of its kind (the apps' signals call
`changed`), and caches put the current version in their keys, so a change retires everything
drawn before it at once, and nothing has to find and delete it.

With a shared cache the version is a token kept there (no query): a missing token, never set
or evicted, is replaced by a new one, which only means drawing everything again. A cache of
the process's own could not see another process's change, so there the database's counter
(core.Version) is read instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from .cache import (
    current_token,
    kept_under,
    read_under_tokens,
    renew_token,
    saves_only_last_login,
)
from .models import Version

CALENDAR = "calendar"
REFERENCE = "reference"


def token_key(name: str) -> str:
    return f"{name}-version"


def current(name: str) -> str:
    if settings.SHARED_CACHE:
        return current_token(token_key(name))
    number = Version.objects.filter(name=name).values_list("number", flat=True).first()
    return str(number or 0)


def read_kept(names: Sequence[str], key: str) -> tuple[tuple[str, ...], Any]:
    """The current versions of `names`, and what `key` holds if it was kept under exactly those
    versions (else None); with a shared cache, one round trip for the versions and the value."""
    if settings.SHARED_CACHE:
        return read_under_tokens([token_key(name) for name in names], key)
    stamp = tuple(current(name) for name in names)
    return stamp, kept_under(stamp, cache.get(key))


def _raise(name: str) -> None:
    if not Version.objects.filter(name=name).update(number=F("number") + 1):
        Version.objects.get_or_create(name=name, defaults={"number": 1})
    if settings.SHARED_CACHE:
        renew_token(token_key(name))


def changed(name: str) -> None:
    """Raise the version once the current transaction commits.

    After the commit, not inside it: a reader that saw the old version and the new rows only
    caches under a version that is about to be retired, and no writer waits on the counter.
    """
    transaction.on_commit(lambda: _raise(name))


def raise_on_change(name: str, models, *, users: bool = False) -> None:
    """Raise the named version after committed saves and deletes of these models, and, with
    `users`, of users (their names are shown), but for sign-in's `last_login` saves."""

    def on_change(sender, **kwargs) -> None:
        changed(name)

    def on_user_save(sender, update_fields=None, **kwargs) -> None:
        if not saves_only_last_login(update_fields):
            changed(name)

    for model in models:
        uid = f"{name}-{model._meta.label}"
        post_save.connect(on_change, sender=model, weak=False, dispatch_uid=f"{uid}-save")
        post_delete.connect(on_change, sender=model, weak=False, dispatch_uid=f"{uid}-del")
    if users:
        user = get_user_model()
        post_save.connect(on_user_save, sender=user, weak=False, dispatch_uid=f"{name}-user-save")
        post_delete.connect(on_change, sender=user, weak=False, dispatch_uid=f"{name}-user-del")
