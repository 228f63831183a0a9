"""With a shared cache (Redis, as in production): users, their permission sets and sessions are
read from it, a role taken away or given holds from the next request, and sign-out still ends a
session everywhere. Without one, every request reads them from the database."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PASSWORD

LOGIN = reverse("login")
DESK = reverse("scheduling:week")


def tables_read(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, " ".join(q["sql"] for q in queries.captured_queries)


def sign_in(client, user):
    assert client.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 302


def test_permissions_and_the_session_come_from_the_shared_cache(
    shared_cache, client, front_desk_user
):
    sign_in(client, front_desk_user)  # reads the permissions, for the sign-in's audit role
    status, first = tables_read(client, DESK)
    assert status == 200
    status, second = tables_read(client, DESK)
    assert status == 200
    assert "auth_permission" not in second
    assert "django_session" not in second
    assert 'FROM "auth_user"' not in second  # the signed-in user's row is kept with the set


def test_without_a_shared_cache_every_request_reads_them(client, front_desk_user, settings):
    assert settings.SHARED_CACHE is False
    sign_in(client, front_desk_user)
    tables_read(client, DESK)
    status, second = tables_read(client, DESK)
    assert status == 200 and "auth_permission" in second and "django_session" in second


def test_a_role_taken_away_holds_from_the_next_request(
    shared_cache, client, front_desk_user, committed
):
    sign_in(client, front_desk_user)
    assert client.get(DESK).status_code == 200
    with committed():
        front_desk_user.groups.remove(Group.objects.get(name="Front desk"))
    assert client.get(DESK).status_code == 403


def test_a_permission_given_to_a_role_holds_from_the_next_request(
    shared_cache, client, clinician_user, committed
):
    sign_in(client, clinician_user)
    assert client.get(DESK).status_code == 403
    with committed():
        Group.objects.get(name="Clinician").permissions.add(
            Permission.objects.get(codename="use_front_desk")
        )
    assert client.get(DESK).status_code == 200


def test_a_lost_version_trusts_no_cached_set(shared_cache, client, clinician_user):
    from django.core.cache import cache

    from accounts.backends import VERSION_KEY

    sign_in(client, clinician_user)
    assert client.get(DESK).status_code == 403
    cache.delete(VERSION_KEY)  # evicted
    # Given without a signal, as a raw change would be: a new version means a fresh read.
    Group.objects.get(name="Clinician").permissions.add(
        Permission.objects.get(codename="use_front_desk")
    )
    assert client.get(DESK).status_code == 200


def close_account(user):
    user.is_active = False


def change_password_elsewhere(user):
    user.set_password("a-new-long-passphrase-42")


@pytest.mark.parametrize("change", [close_account, change_password_elsewhere])
def test_a_changed_account_is_signed_out_from_the_next_request(
    shared_cache, client, front_desk_user, committed, change
):
    """The user's row is kept in the cache; a committed save of it retires what was kept."""
    sign_in(client, front_desk_user)
    assert client.get(DESK).status_code == 200
    with committed():
        change(front_desk_user)
        front_desk_user.save()
    response = client.get(DESK)
    assert response.status_code == 302 and response.url.startswith(LOGIN)


def test_a_new_sign_in_is_seen_by_the_users_other_sessions(
    shared_cache, client, front_desk_user, committed
):
    from django.test import Client

    sign_in(client, front_desk_user)
    client.get(DESK)
    with committed():
        sign_in(Client(), front_desk_user)  # moves last_login only
    front_desk_user.refresh_from_db()
    response = client.get(DESK)
    assert response.wsgi_request.user.last_login == front_desk_user.last_login


def test_signing_out_ends_the_session_everywhere(shared_cache, client, clinician_user):
    sign_in(client, clinician_user)
    key = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    client.cookies["sessionid"] = key  # the old cookie, replayed
    response = client.get(reverse("clinical_home"))
    assert response.status_code == 302 and response.url.startswith(LOGIN)
