"""The audit log is a hash chain: append-only, tamper-evident, safe under concurrent appends."""

from __future__ import annotations

import contextlib
import datetime
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from audit.models import GENESIS_HASH, AppendOnlyError, AuditChainHead, AuditEvent
from audit.services import Action, audit_log, audit_verify
from tests.services import AUDIT_WRITES, require

TABLE = AuditEvent._meta.db_table


def _log_three(actor, patient):
    return [
        audit_log(actor=actor, action=Action.VIEW, obj=patient),
        audit_log(actor=actor, action=Action.CHANGE, obj=patient, detail="phone"),
        audit_log(actor=None, action=Action.LOGIN, allowed=False, detail="failed sign-in"),
    ]


def _raw(sql: str, params=()) -> None:
    """Changes the table behind the ORM's back, as an attacker with database access could.

    On PostgreSQL the append-only trigger is switched off for the statement (inside the
    test's transaction, so it comes back on at rollback).
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks for ALTER
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_each_event_links_to_the_one_before(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    head = AuditChainHead.objects.get()
    assert (head.last_event_id, head.last_hash) == (third.pk, third.hash)
    assert audit_verify().ok


def test_occurred_at_is_utc_and_part_of_the_hash(front_desk_user, alice):
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    assert event.occurred_at.utcoffset() == datetime.timedelta(0)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.compute_hash() == event.hash
    stored.occurred_at += datetime.timedelta(microseconds=1)
    assert stored.compute_hash() != event.hash


def test_the_orm_refuses_to_change_or_delete_events(front_desk_user, alice):
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    event.detail = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).detail == ""


def test_verify_audit_says_ok_with_the_count(front_desk_user, alice, capsys):
    _log_three(front_desk_user, alice)
    call_command("verify_audit")
    assert "OK: 3 audit events verified." in capsys.readouterr().out


def test_verify_audit_on_an_empty_log(db, capsys):
    call_command("verify_audit")
    assert "OK: 0 audit events verified." in capsys.readouterr().out


def test_a_changed_event_is_found(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    _raw(f"UPDATE {TABLE} SET patient_id = %s WHERE id = %s", [999, second.pk])
    with pytest.raises(CommandError) as error:
        call_command("verify_audit")
    message = str(error.value)
    assert f"broken at event {second.pk}" in message
    assert "changed after it was written" in message
    assert "1 events before it verified" in message


def test_a_removed_event_is_found(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    _raw(f"DELETE FROM {TABLE} WHERE id = %s", [second.pk])
    report = audit_verify()
    assert not report.ok
    assert report.broken_at == third.pk
    assert f"does not follow event {first.pk}" in report.problem


def test_events_removed_from_the_end_are_found(front_desk_user, alice):
    first, second, third = _log_three(front_desk_user, alice)
    _raw(f"DELETE FROM {TABLE} WHERE id = %s", [third.pk])
    report = audit_verify()
    assert not report.ok
    assert "removed from the end" in report.problem


def test_an_event_rehashed_by_hand_still_breaks_the_next_link(front_desk_user, alice):
    """Recomputing the changed event's own hash does not help: the next event points past it."""
    first, second, third = _log_three(front_desk_user, alice)
    forged = AuditEvent.objects.get(pk=second.pk)
    forged.detail = "nothing to see"
    _raw(
        f"UPDATE {TABLE} SET detail = %s, hash = %s WHERE id = %s",
        [forged.detail, forged.compute_hash(), second.pk],
    )
    report = audit_verify()
    assert (report.ok, report.broken_at) == (False, third.pk)


def test_a_rolled_back_change_leaves_no_event_and_an_intact_chain(front_desk_user, alice):
    audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_log(actor=front_desk_user, action=Action.CHANGE, obj=alice)
        raise RuntimeError("the service failed after auditing")
    audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    assert AuditEvent.objects.count() == 2
    assert audit_verify().ok


@pytest.mark.postgres
def test_postgresql_trigger_rejects_update_and_delete(postgres, front_desk_user, alice):
    event = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    for sql in (
        f"UPDATE {TABLE} SET detail = 'x' WHERE id = %s",
        f"DELETE FROM {TABLE} WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, detail="").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [True, False], ids=["in a transaction", "on its own"])
def test_concurrent_appends_keep_one_unbroken_chain(front_desk_user, alice, in_transaction):
    """A page view appends outside any transaction (audit_log opens its own); a service
    appends inside its own. Either way, concurrent appends make one chain."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (set TEST_DATABASE_URL)")
    threads, per_thread = 6, 10
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic() if in_transaction else contextlib.nullcontext():
                    audit_log(actor=None, action=Action.VIEW, patient=alice.pk, detail=f"{n}.{i}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    assert AuditEvent.objects.count() == threads * per_thread
    report = audit_verify()
    assert report.ok, report.problem
    assert report.verified == threads * per_thread
    times = list(AuditEvent.objects.order_by("id").values_list("occurred_at", flat=True))
    assert times == sorted(times)  # along the chain, time never goes back


def test_an_append_costs_a_fixed_number_of_queries(
    front_desk_user, alice, django_assert_num_queries
):
    audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    # The actor's groups (for actor_role), then the append's writes (tests/services.py).
    with django_assert_num_queries(1 + AUDIT_WRITES):
        audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    with django_assert_num_queries(AUDIT_WRITES):
        audit_log(actor=None, action=Action.VIEW, obj=alice)


def test_the_first_append_ever_creates_the_head(db, django_assert_num_queries):
    assert not AuditChainHead.objects.exists()
    # No dearer than any other append: the head is created by the statement that locks it.
    with django_assert_num_queries(AUDIT_WRITES):
        first = audit_log(actor=None, action=Action.VIEW, patient=1)
    assert first.prev_hash == GENESIS_HASH
    head = AuditChainHead.objects.get()
    assert (head.last_event_id, head.last_hash) == (first.pk, first.hash)
    assert audit_verify().ok


def test_the_head_describes_the_last_event(front_desk_user, alice):
    first = audit_log(actor=front_desk_user, action=Action.VIEW, obj=alice)
    second = audit_log(actor=None, action=Action.CHANGE, obj=alice, detail="x")
    head = AuditChainHead.objects.get()
    assert head.last_event_id == second.pk
    assert (head.last_hash, head.prev_hash) == (second.hash, first.hash)
    assert head.last_occurred_at == second.occurred_at
    stored = AuditEvent.objects.get(pk=second.pk)
    assert stored.hash == stored.compute_hash() == second.hash
    assert stored.occurred_at == second.occurred_at


def test_the_time_never_goes_back_along_the_chain(alice):
    with time_machine.travel(datetime.datetime(2026, 3, 5, 10, 0, tzinfo=datetime.UTC)):
        later = audit_log(actor=None, action=Action.VIEW, patient=alice.pk)
    with time_machine.travel(
        datetime.datetime(2026, 3, 5, 9, 0, tzinfo=datetime.UTC)
    ):  # a slower clock
        next_one = audit_log(actor=None, action=Action.VIEW, patient=alice.pk)
    assert next_one.occurred_at == later.occurred_at
    assert audit_verify().ok


def test_the_nightly_task_reports_a_break(front_desk_user, alice, caplog, settings):
    from audit.tasks import verify_chain

    assert "audit.verify_chain" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    first, second, third = _log_three(front_desk_user, alice)
    assert verify_chain.delay().get() == {"ok": True, "verified": 3, "broken_at": None}
    _raw(f"UPDATE {TABLE} SET detail = %s WHERE id = %s", ["edited", first.pk])
    assert verify_chain.delay().get()["broken_at"] == first.pk
    assert f"Audit log hash chain broken at event {first.pk}" in caplog.text
