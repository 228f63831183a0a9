"""recorded(): a service's audit events join the chain as its transaction's last statements,
so the chain's head is locked only while it commits, and each event is still written if and
only if the change it records is."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEvent
from audit.services import Action, audit_log, audit_verify, recorded
from tests.services import require


class Refused(Exception):
    pass


def _details() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("detail", flat=True))


def test_the_events_are_written_when_the_block_ends(alice):
    with recorded():
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="first")
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="second")
        assert _details() == []
    assert _details() == ["first", "second"]
    assert audit_verify().ok


def test_a_block_that_fails_leaves_no_event(alice):
    with pytest.raises(Refused), recorded():
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="never")
        raise Refused
    assert _details() == []
    with recorded():  # and the next block starts afresh
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="kept")
    assert _details() == ["kept"]


def test_an_event_goes_with_the_savepoint_rolled_back_around_it(alice):
    with recorded():
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="before")
        try:
            with transaction.atomic():
                alice.phone = "+31 20 000 0000"
                alice.save()
                audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="rolled back")
                raise Refused
        except Refused:
            pass
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="after")
    assert _details() == ["before", "after"]
    assert audit_verify().ok


def test_a_nested_block_leaves_the_writing_to_the_outermost(alice):
    with recorded():
        with recorded():
            audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="inner")
        assert _details() == []
        try:
            with recorded():
                audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="refused")
                raise Refused
        except Refused:
            pass
    assert _details() == ["inner"]


def test_commit_callbacks_of_the_block_are_untouched(alice, django_capture_on_commit_callbacks):
    sent = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks, recorded():
        audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="x")
        transaction.on_commit(lambda: sent.append("email"))
    assert len(callbacks) == 1
    assert sent == ["email"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_look_is_not_held_up_by_an_open_block(alice):
    """While a recorded block is open, another connection appends at once; the block's own
    events follow it in the chain."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (set TEST_DATABASE_URL)")
    noted, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def service():
        try:
            with recorded():
                audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="change")
                noted.set()
                release.wait(timeout=30)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=service)
    thread.start()
    try:
        assert noted.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        audit_log(actor=None, action=Action.VIEW, obj=alice, detail="look")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        release.set()
        thread.join(timeout=30)
    assert errors == []
    assert _details() == ["look", "change"]
    assert audit_verify().ok
