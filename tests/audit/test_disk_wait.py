"""Which appends commit without waiting for the disk (PostgreSQL's synchronous_commit off).

Only an allowed look appended on its own does; a change's event, a refusal, a sign-in and any
event inside the caller's transaction keep the server's durable commit.
"""

from __future__ import annotations

import contextlib

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEvent
from audit.services import _WITHOUT_WAITING_FOR_DISK, Action, audit_log
from tests.services import require

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sent():
    """The SQL of the appends run while the fixture is active."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (set TEST_DATABASE_URL)")
    statements: list[str] = []

    def wrapper(execute, sql, params, many, context):
        if "audit_append" in sql:
            statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield statements


def skips_disk_wait(statements: list[str]) -> list[bool]:
    return [sql.startswith(_WITHOUT_WAITING_FOR_DISK) for sql in statements]


def test_an_allowed_look_on_its_own_does_not_wait_and_is_committed(sent, alice):
    audit_log(actor=None, action=Action.VIEW, patient=alice.pk, detail="chart")
    audit_log(actor=None, action=Action.DOWNLOAD, patient=alice.pk, detail="photo")
    assert skips_disk_wait(sent) == [True, True]
    assert connection.connection.notices == []  # no "SET LOCAL outside a transaction" warning
    # Committed: another connection sees both events.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {AuditEvent._meta.db_table}")  # noqa: S608
            assert cursor.fetchone() == (2,)
    finally:
        other.close()
    # The setting held for the append's own transaction only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("on",)


@pytest.mark.parametrize(
    ("action", "allowed", "in_transaction"),
    [
        (Action.CHANGE, True, False),
        (Action.LOGIN, True, False),
        (Action.VIEW, False, False),
        (Action.VIEW, True, True),
    ],
    ids=["a change", "a sign-in", "a refused look", "a look inside a transaction"],
)
def test_every_other_event_waits_for_the_disk(sent, alice, action, allowed, in_transaction):
    with transaction.atomic() if in_transaction else contextlib.nullcontext():
        audit_log(actor=None, action=action, allowed=allowed, patient=alice.pk)
    assert skips_disk_wait(sent) == [False]


def test_looks_wait_too_when_the_clinic_asks(sent, alice, settings):
    settings.AUDIT_READS_WAIT_FOR_DISK = True
    audit_log(actor=None, action=Action.VIEW, patient=alice.pk)
    assert skips_disk_wait(sent) == [False]


def test_the_prefix_turns_off_the_wait_for_its_own_statement_only(sent):
    """What the prefix relies on: statements sent in one query string run in one implicit
    transaction, which SET LOCAL applies to (and no further)."""
    with connection.cursor() as cursor:
        cursor.execute(_WITHOUT_WAITING_FOR_DISK + "SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("off",)
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("on",)
    assert connection.connection.notices == []
