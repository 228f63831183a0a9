"""The PostgreSQL health check (core/postgresql): no round trip while the server is silent, and
a connection the server has closed is still replaced before a request uses it."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def kept_connection():
    """The default connection, kept between requests as CONN_MAX_AGE keeps it in production."""
    wrapper = connections["default"]
    wrapper.ensure_connection()
    wrapper.health_check_enabled = True
    wrapper.close_at = None
    return wrapper


def fresh_request_on(wrapper) -> None:
    """What Django does at the start of every request with a kept connection."""
    wrapper.close_if_unusable_or_obsolete()
    assert wrapper.connection is not None, "the connection was not kept between requests"


def test_a_silent_connection_is_used_without_a_select_1(postgres, monkeypatch):
    wrapper = kept_connection()
    checks = []
    monkeypatch.setattr(type(wrapper), "is_usable", lambda self: checks.append(1) or True)
    fresh_request_on(wrapper)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    assert checks == []


def test_a_connection_the_server_closed_is_replaced_before_it_is_used(postgres):
    wrapper = kept_connection()
    old_pid = wrapper.connection.info.backend_pid
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    finally:
        killer.close()
    deadline = time.monotonic() + 5
    while not wrapper._server_has_spoken() and time.monotonic() < deadline:
        time.sleep(0.01)
    fresh_request_on(wrapper)
    with connection.cursor() as cursor:  # no error: the check replaced the connection
        cursor.execute("SELECT pg_backend_pid()")
        (new_pid,) = cursor.fetchone()
    assert new_pid != old_pid
