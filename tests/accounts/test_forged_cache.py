"""Whoever can write to the cache server cannot change who a user is or what they may do.

The cache holds only what is safe to lose (throttle counters). These tests write forged
values (a session claiming a superuser, with that superuser's real session hash; sets of every
permission) under every key the app wrote and under the keys Django's cache-backed sessions
would read, and check that every role still gets exactly what the access matrix says.
"""

from __future__ import annotations

import pickle

import pytest
import redis
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.cache import KEY_PREFIX as CACHE_SESSION_PREFIX
from django.contrib.sessions.backends.cached_db import KEY_PREFIX as CACHED_DB_SESSION_PREFIX
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD
from tests.resilience.redis_server import RedisServer
from tests.resilience.test_access_matrix import (
    test_every_api_operation_for_every_role as api_matrix_holds,
)
from tests.resilience.test_access_matrix import (
    test_every_page_for_every_role as page_matrix_holds,
)


@pytest.fixture
def cache_server(settings, tmp_path):
    """Production's Redis cache, on a server of the test's own."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    yield redis.Redis.from_url(server.url)
    server.stop()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x" * 12)


def forged_session(user) -> dict:
    """What a session of `user` holds, hash and all: the strongest forgery there is."""
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "core.auth.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }


def forge_everything(server: redis.Redis, superuser, extra_session_keys=()) -> int:
    """Overwrites every key in the cache with a superuser's session, and plants one under the
    keys cache-backed sessions would read for every session there is. Returns how many."""
    from django.core.cache import cache

    forged = forged_session(superuser)
    every_permission = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    keys = list(server.scan_iter("*"))
    for key in keys:
        # Whatever the app keeps there, it now reads a forged identity or every permission.
        value = forged if b"perm" not in key else every_permission
        server.set(key, pickle.dumps(value))
    session_keys = [*Session.objects.values_list("session_key", flat=True), *extra_session_keys]
    for session_key in session_keys:
        for prefix in (CACHE_SESSION_PREFIX, CACHED_DB_SESSION_PREFIX):
            cache.set(prefix + session_key, forged)
    return len(keys) + 2 * len(session_keys)


@pytest.mark.redis
def test_a_forged_session_in_the_cache_is_nobody(cache_server, superuser, front_desk_user):
    desk = Client()
    signed_in = desk.post(
        reverse("login"), {"username": front_desk_user.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    stranger = Client()
    stranger.cookies["sessionid"] = "forgedsessionkey0123456789abcdefgh"
    assert forge_everything(cache_server, superuser, ["forgedsessionkey0123456789abcdefgh"])
    # The front desk is still the front desk...
    assert desk.get(reverse("home")).url == reverse("desk_home")
    assert desk.get(reverse("clinical_home")).status_code == 403
    assert desk.get(reverse("admin:index")).status_code == 302  # to the admin's sign-in
    # ...and a stranger with a made-up session key is nobody.
    assert stranger.get(reverse("home")).url.startswith(reverse("login"))
    assert stranger.get(reverse("admin:index")).status_code == 302


@pytest.mark.redis
def test_a_forged_token_user_in_the_cache_changes_nothing(cache_server, superuser, front_desk_user):
    client = Client()
    token = client.post(
        reverse("api_token"), {"username": front_desk_user.username, "password": PASSWORD}
    ).json()["token"]
    forge_everything(cache_server, superuser)
    photos = client.get("/api/photos/", headers={"Authorization": f"Token {token}"})
    assert photos.status_code == 403


def warm_up(persona) -> None:
    """Every persona signs in and opens their start page, so the app writes whatever it keeps
    in the cache before the forger overwrites it."""
    for who in ("front_desk", "clinician", "admin", "alice", "bob"):
        client = Client()
        client.post(reverse("login"), {"username": persona(who).username, "password": PASSWORD})
        client.get(reverse("home"), follow=True)


@pytest.mark.redis
def test_the_page_matrix_holds_with_every_cache_key_forged(
    cache_server, superuser, persona, clients, alice_file
):
    warm_up(persona)
    forge_everything(cache_server, superuser)
    page_matrix_holds(clients, alice_file)


@pytest.mark.redis
def test_the_api_matrix_holds_with_every_cache_key_forged(
    cache_server, superuser, persona, clients, alice_file
):
    warm_up(persona)
    forge_everything(cache_server, superuser)
    api_matrix_holds(clients, alice_file)
